"""A Secret krayne did not create in this call is never adopted, changed, deleted or mounted.

Hole 1 of issue 12: create used to keep an existing ``<name>-services`` Secret and merge-patch
its ownerReferences, so cluster ``db`` adopted (and its delete then removed) an unrelated
``db-services``, and a planted Secret handed its tokens or ssh keys to the victim's cluster.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from core.api import create_cluster, delete_cluster
from core.errors import AlreadyExists, ClusterNotFoundError
from core.kube import KubeClient, Obj
from manifests.raycluster import (
    NOTEBOOK_TOKEN_KEY,
    SSH_AUTHORIZED_KEYS_KEY,
    services_secret_name,
)
from tests.api.conftest import cluster_config

NS = "default"
PLANTED = {NOTEBOOK_TOKEN_KEY: "attacker-token", SSH_AUTHORIZED_KEYS_KEY: "ssh-ed25519 AAAA evil"}


async def _plant(client: KubeClient, cluster: str) -> Obj:
    """Someone else's Secret that happens to carry the name krayne would use for ``cluster``."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": services_secret_name(cluster), "namespace": NS,
                     "labels": {"app": "db"}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in PLANTED.items()},
    }  # fmt: skip
    return await client.create_secret(body)


async def _untouched(client: KubeClient, planted: Obj) -> None:
    now = await client.get_secret(planted["metadata"]["name"], NS)
    assert now["metadata"]["uid"] == planted["metadata"]["uid"]
    assert now["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]
    assert not now["metadata"].get("ownerReferences")
    assert now.get("data") == planted.get("data")


async def _no_cluster(client: KubeClient, name: str) -> None:
    with pytest.raises(ClusterNotFoundError):
        await client.get_raycluster(name, NS)


@pytest.mark.parametrize(
    "services",
    [{}, {"notebook": False, "code_server": False, "ssh": True}],
    ids=["all-services", "ssh-only"],
)
async def test_a_planted_services_secret_is_refused_and_left_alone(
    client: KubeClient, unique_name: Callable[[str], str], services: dict[str, Any]
) -> None:
    name = unique_name("db")
    planted = await _plant(client, name)

    with pytest.raises(AlreadyExists) as refused:
        await create_cluster(cluster_config(name, services=services), client=client, owner="U1")

    secret = services_secret_name(name)
    assert f"`{secret}`" in str(refused.value) and f"`{NS}`" in str(refused.value)
    assert "nothing was created" in str(refused.value)
    assert refused.value.hint and f"kubectl delete secret {secret} -n {NS}" in refused.value.hint
    await _untouched(client, planted)
    await _no_cluster(client, name)


async def test_a_cluster_without_services_never_mounts_or_adopts_a_planted_secret(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("db")
    planted = await _plant(client, name)
    no_services = {"notebook": False, "code_server": False, "ssh": False}

    await create_cluster(cluster_config(name, services=no_services), client=client)
    raycluster = await client.get_raycluster(name, NS)
    assert services_secret_name(name) not in str(raycluster["spec"])
    await _untouched(client, planted)

    await delete_cluster(name, NS, client=client)
    await _untouched(client, planted)  # deleting `db` does not take `db-services` with it
