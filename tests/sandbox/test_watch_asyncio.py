"""kubernetes-asyncio lists and watches the sandbox, survives dropped watches, re-lists on 410."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from core.sandbox.runner import Sandbox

NS = "default"


def _pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "w"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(simulate=False) as sb:
        yield sb


@pytest.fixture
async def core_api(sandbox: Sandbox) -> AsyncIterator[client.CoreV1Api]:
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=str(sandbox.kubeconfig_path), client_configuration=cfg
    )
    async with client.ApiClient(cfg) as api_client:
        yield client.CoreV1Api(api_client)


async def _next_named(stream: Any, name: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        async for event in stream:
            if event["type"] != "BOOKMARK" and event["raw_object"]["metadata"]["name"] == name:
                return dict(event)
    raise AssertionError(f"the watch ended before {name} showed up")


async def test_list_then_watch_from_the_list_version_sees_only_new_changes(
    sandbox: Sandbox, core_api: client.CoreV1Api
) -> None:
    sandbox.store.create("pods", _pod("old"))
    listed = await core_api.list_namespaced_pod(NS, label_selector="app=w")
    assert [p.metadata.name for p in listed.items] == ["old"]
    w = watch.Watch()
    stream = w.stream(
        core_api.list_namespaced_pod,
        NS,
        label_selector="app=w",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    )
    sandbox.store.create("pods", _pod("new"))
    sandbox.store.merge_patch(
        "pods", NS, "new", {"status": {"phase": "Running"}}, subresource="status"
    )
    first = await _next_named(stream, "new")
    second = await _next_named(stream, "new")
    w.stop()
    await w.close()
    assert (first["type"], second["type"]) == ("ADDED", "MODIFIED")
    assert second["object"].status.phase == "Running"


async def test_watch_reconnects_after_the_server_drops_it(
    sandbox: Sandbox, core_api: client.CoreV1Api
) -> None:
    listed = await core_api.list_namespaced_pod(NS)
    w = watch.Watch()
    stream = w.stream(
        core_api.list_namespaced_pod, NS, resource_version=listed.metadata.resource_version
    )
    sandbox.store.create("pods", _pod("before-drop"))
    await _next_named(stream, "before-drop")
    assert sandbox.faults.drop_watches() == 1
    sandbox.store.create("pods", _pod("after-drop"))
    event = await _next_named(stream, "after-drop")
    w.stop()
    await w.close()
    assert event["type"] == "ADDED"
    watches = [q for m, p, q in sandbox.requests if "watch=true" in q.lower()]
    assert len(watches) == 2, "the client opened a second watch after the drop"
    assert f"resourceVersion={int(listed.metadata.resource_version) + 1}" in watches[1]


async def test_expired_version_raises_410_and_a_relist_recovers(
    sandbox: Sandbox, core_api: client.CoreV1Api
) -> None:
    listed = await core_api.list_namespaced_pod(NS)
    sandbox.faults.expire_resource_versions()
    w = watch.Watch()
    stream = w.stream(
        core_api.list_namespaced_pod,
        NS,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    )
    with pytest.raises(ApiException) as caught:
        await anext(stream)
    assert caught.value.status == 410
    relisted = await core_api.list_namespaced_pod(NS)
    assert int(relisted.metadata.resource_version) > int(listed.metadata.resource_version)
    w = watch.Watch()
    stream = w.stream(
        core_api.list_namespaced_pod,
        NS,
        resource_version=relisted.metadata.resource_version,
        timeout_seconds=5,
    )
    sandbox.store.create("pods", _pod("after-relist"))
    event = await _next_named(stream, "after-relist")
    w.stop()
    await w.close()
    assert event["type"] == "ADDED"


async def test_bookmarks_advance_the_resource_version_of_an_idle_watch(
    sandbox: Sandbox, core_api: client.CoreV1Api
) -> None:
    assert sandbox.server is not None
    sandbox.server.bookmark_interval = 0.05
    listed = await core_api.list_namespaced_pod(NS)
    sandbox.store.create("secrets", {"metadata": {"name": "elsewhere", "namespace": NS}})
    w = watch.Watch()
    stream = w.stream(
        core_api.list_namespaced_pod,
        NS,
        allow_watch_bookmarks=True,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    )
    async with asyncio.timeout(5):
        event = await anext(stream)
    w.stop()
    await w.close()
    assert event["type"] == "BOOKMARK"
    assert w.resource_version is not None
    assert int(w.resource_version) > int(listed.metadata.resource_version)


async def test_custom_objects_list_and_watch_rayclusters(sandbox: Sandbox) -> None:
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=str(sandbox.kubeconfig_path), client_configuration=cfg
    )
    async with client.ApiClient(cfg) as api_client:
        custom = client.CustomObjectsApi(api_client)
        listed = await custom.list_namespaced_custom_object("ray.io", "v1", NS, "rayclusters")
        w = watch.Watch()
        stream = w.stream(
            custom.list_namespaced_custom_object,
            "ray.io",
            "v1",
            NS,
            "rayclusters",
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=5,
        )
        body = {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {"name": "rc", "namespace": NS},
            "spec": {
                "headGroupSpec": {
                    "rayStartParams": {},
                    "template": {
                        "spec": {
                            "containers": [{"name": "ray-head", "image": "rayproject/ray:2.46.0"}]
                        }
                    },
                }
            },
        }
        await custom.create_namespaced_custom_object("ray.io", "v1", NS, "rayclusters", body)
        event = await _next_named(stream, "rc")
        w.stop()
        await w.close()
    assert event["type"] == "ADDED" and event["object"]["kind"] == "RayCluster"
