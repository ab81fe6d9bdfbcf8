"""The opt-in NetworkPolicy for Ray pods (issue 12, hole 2): it selects exactly the pods of
krayne's clusters, in the namespace the bot manages, and admits only each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import build_config
from core.sandbox.sim.kuberay_pods import build_head_pod, build_worker_pod
from manifests.raycluster import build_raycluster
from tests.deploy.deployfiles import DEPLOY, render_with
from tests.deploy.rbac_env import managed_role


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector["matchLabels"].items() <= labels.items() and not selector.get(
        "matchExpressions"
    )


def test_ray_network_policy_selects_krayne_ray_pods_in_the_managed_namespace(
    tmp_path: Path,
) -> None:
    objects = render_with(DEPLOY, ["ray-network-policy"], tmp_path)
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    role = managed_role([o for o in objects if o["kind"] in ("Role", "ServiceAccount")])
    assert policy["metadata"]["namespace"] == role["metadata"]["namespace"]

    raycluster = build_raycluster(build_config({"name": "demo"}), owner="U1")
    raycluster["metadata"]["uid"] = "uid-1"
    group = raycluster["spec"]["workerGroupSpecs"][0]
    pods = [build_head_pod(raycluster), build_worker_pod(raycluster, group)]
    for pod in pods:  # the pods the operator makes from krayne's manifest
        assert _matches(policy["spec"]["podSelector"], pod["metadata"]["labels"])
    someone_else = {"app": "web", "app.kubernetes.io/name": "kuberay"}
    assert not _matches(policy["spec"]["podSelector"], someone_else)

    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert "ports" not in rule  # every Ray port is covered, none is left open
    (peer,) = rule["from"]  # no namespaceSelector, no ipBlock: only krayne's Ray pods here
    assert set(peer) == {"podSelector"} and peer["podSelector"] == policy["spec"]["podSelector"]
