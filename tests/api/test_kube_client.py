"""KubernetesAsyncioClient against the sandbox: raw JSON, strict fields, patch content types,
watches and their 410."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from core.errors import KubeApiError, WatchExpiredError
from core.kube import MANAGED_BY_SELECTOR, WatchEvent
from core.kube_asyncio import KubernetesAsyncioClient
from manifests.raycluster import build_raycluster
from tests.api.conftest import cluster_config

NS = "default"


async def _created(client: KubernetesAsyncioClient, name: str) -> dict[str, Any]:
    return await client.create_raycluster(build_raycluster(cluster_config(name)))


async def test_unknown_fields_are_refused_not_pruned(
    client: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    body = build_raycluster(cluster_config(unique_name("uf")))
    body["spec"]["workerGroupSpecs"][0]["replicaz"] = 3
    with pytest.raises(KubeApiError, match="replicaz") as err:
        await client.create_raycluster(body)
    assert err.value.status == 400


async def test_merge_and_json_patches_are_sent_with_their_content_types(
    client: KubernetesAsyncioClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("pt")
    await _created(client, name)
    merged = await client.patch_raycluster(
        name, NS, {"metadata": {"annotations": {"a": "1"}}}, patch_type="merge"
    )
    assert merged["metadata"]["annotations"]["a"] == "1"
    patched = await client.patch_raycluster(
        name, NS, [{"op": "replace", "path": "/spec/workerGroupSpecs/0/maxReplicas", "value": 9}],
        patch_type="json",
    )  # fmt: skip
    assert patched["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 9
    patches = [q for method, _p, q in sandbox.requests if method == "PATCH"]
    assert patches and all("fieldValidation=Strict" in q for q in patches)


async def test_watch_yields_raw_events_from_a_resource_version(
    client: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    listed = await client.list_rayclusters(NS, label_selector=MANAGED_BY_SELECTOR)
    name = unique_name("wt")
    await _created(client, name)
    events: list[WatchEvent] = []
    stream = client.watch(
        "rayclusters", NS, label_selector=MANAGED_BY_SELECTOR,
        resource_version=listed["resourceVersion"], timeout_seconds=5,
    )  # fmt: skip
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        async for event in stream:
            events.append(event)
            if event["type"] == "ADDED" and event["object"]["metadata"]["name"] == name:
                break
    added = events[-1]["object"]
    assert added["kind"] == "RayCluster" and added["spec"]["workerGroupSpecs"][0]["groupName"]
    assert isinstance(added, dict)  # the server's JSON, not a kubernetes-asyncio model


async def test_watch_from_an_expired_resource_version_raises_watch_expired(
    client: KubernetesAsyncioClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    listed = await client.list_pods(NS)
    await _created(client, unique_name("ex"))  # something changes after the list
    sandbox.faults.expire_resource_versions()
    stream = client.watch("pods", NS, resource_version=listed["resourceVersion"])
    with pytest.raises(WatchExpiredError) as err:
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for _event in stream:
                pass
    assert err.value.status == 410
