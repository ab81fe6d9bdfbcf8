"""Ray token authentication end to end on the sandbox (issue 12, hole 2).

krayne creates the token Secret itself before the RayCluster, as the operator would have
(``reconcileAuthSecret``: Secret ``<name>``, key ``auth_token``); the operator then finds it and
puts ``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN`` into every Ray container. The operator uses
any Secret of that name as it is, so one planted beforehand is refused, never trusted.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from core.api import create_cluster, wait_until_ready
from core.errors import AlreadyExists, ClusterNotFoundError, KubeApiError
from core.kube import KubeClient
from manifests.raycluster import AUTH_TOKEN_KEY, auth_secret_name, services_secret_name
from tests.api.conftest import cluster_config

NS = "default"


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or ()}


async def test_every_ray_container_reads_the_token_from_a_secret_krayne_created(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("auth")
    await create_cluster(cluster_config(name), client=client)
    raycluster = await client.get_raycluster(name, NS)
    assert raycluster["spec"]["authOptions"] == {"mode": "token"}

    secret = await client.get_secret(auth_secret_name(name), NS)
    token = base64.b64decode(secret["data"][AUTH_TOKEN_KEY]).decode()
    assert len(token) >= 32
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("RayCluster", raycluster["metadata"]["uid"])
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "krayne"

    await wait_until_ready(name, NS, client=client, timeout=60)
    pods = (await client.list_pods(NS, label_selector=f"ray.io/cluster={name}"))["items"]
    ref = {"secretKeyRef": {"name": auth_secret_name(name), "key": AUTH_TOKEN_KEY}}
    containers = [
        c for pod in pods
        for c in [pod["spec"]["containers"][0], *(pod["spec"].get("initContainers") or ())]
    ]  # fmt: skip
    assert {pod["metadata"]["labels"]["ray.io/node-type"] for pod in pods} == {"head", "worker"}
    for container in containers:
        env = _env(container)
        assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN"] == ref, container["name"]


async def test_a_planted_token_secret_is_refused_and_no_cluster_is_made(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("auth")
    known = base64.b64encode(b"token-the-attacker-knows").decode()
    await client.create_secret({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": auth_secret_name(name), "namespace": NS},
        "data": {AUTH_TOKEN_KEY: known},
    })  # fmt: skip
    with pytest.raises(AlreadyExists, match=f"`{auth_secret_name(name)}`"):
        await create_cluster(cluster_config(name, services={}), client=client)
    with pytest.raises(ClusterNotFoundError):
        await client.get_raycluster(name, NS)
    with pytest.raises(KubeApiError) as gone:  # the services Secret made first is removed again
        await client.get_secret(services_secret_name(name), NS)
    assert gone.value.status == 404
    planted = await client.get_secret(auth_secret_name(name), NS)
    assert planted["data"] == {AUTH_TOKEN_KEY: known}
    assert not planted["metadata"].get("ownerReferences")
