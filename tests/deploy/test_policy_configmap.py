"""deploy/ ships an access policy the bot accepts, mounted where KRAYNE_POLICY_FILE points."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from core.policy import parse_policy
from tests.deploy.deployfiles import VARIANTS, render


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_policy_configmap_is_valid_and_mounted_where_the_bot_reads_it(variant: str) -> None:
    objects = render(VARIANTS[variant])
    config_map = _one(objects, "ConfigMap", "krayne-bot-policy")
    policy = parse_policy(yaml.safe_load(config_map["data"]["policy.yaml"]))
    assert policy.quotas.per_cluster.workers is not None, "the 1000-worker request is refused"
    assert policy.images.allowed

    deployment = _one(objects, "Deployment", "krayne-bot")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    path = PurePosixPath(env["KRAYNE_POLICY_FILE"])
    (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") ==
                 "krayne-bot-policy"]  # fmt: skip
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert PurePosixPath(mount["mountPath"]) == path.parent and path.name == "policy.yaml"
    assert "subPath" not in mount, "a subPath mount never sees an edited ConfigMap"
    assert deployment["metadata"]["namespace"] == config_map["metadata"]["namespace"]
