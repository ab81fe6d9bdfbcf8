"""End to end over HTTP: the sandbox API server, the simulation behind it, the bot's own client.

Everything goes through ``core.kube_asyncio`` against a real aiohttp server on port 0, and every
wait is a watch with a deadline: the first object state that satisfies the check ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.errors import KrayneError
from core.kube import WatchKind
from core.kube_asyncio import KubernetesAsyncioClient, connect
from core.sandbox.runner import Sandbox
from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE

from .conftest import condition, container_status, raycluster

SPEED = 40.0
Obj = dict[str, Any]


@pytest.fixture
async def client() -> AsyncIterator[KubernetesAsyncioClient]:
    async with Sandbox(speed=SPEED) as sandbox:
        kube = await connect(str(sandbox.kubeconfig_path))
        try:
            yield kube
        finally:
            await kube.close()


async def watch_until(
    client: KubernetesAsyncioClient,
    kind: WatchKind,
    check: Callable[[Obj], bool],
    *,
    label_selector: str | None = None,
    deadline: float = 15.0,
) -> Obj:
    """The first object (listed, then watched) for which ``check`` holds."""
    async with asyncio.timeout(deadline):
        while True:
            if kind == "pods":
                listed = await client.list_pods("default", label_selector=label_selector)
            elif kind == "events":
                listed = await client.list_events("default")
            else:
                listed = await client.list_rayclusters("default", label_selector=label_selector)
            for obj in listed["items"]:
                if check(obj):
                    return obj
            async for event in client.watch(
                kind, "default", label_selector=label_selector,
                resource_version=listed["resourceVersion"], timeout_seconds=30,
            ):  # fmt: skip
                if event["type"] in ("ADDED", "MODIFIED") and check(event["object"]):
                    return event["object"]


def _node_type(pod: Obj) -> str:
    return str(pod["metadata"]["labels"].get("ray.io/node-type", ""))


async def test_cluster_created_over_http_becomes_ready(client: KubernetesAsyncioClient) -> None:
    await client.create_raycluster(raycluster("web", workers=2))
    rc = await watch_until(client, "rayclusters",
                           lambda o: (o.get("status") or {}).get("state") == "ready")  # fmt: skip
    assert rc["status"]["readyWorkerReplicas"] == 2
    assert condition(rc, "RayClusterProvisioned")["status"] == "True"
    pods = (await client.list_pods("default", label_selector="ray.io/cluster=web"))["items"]
    assert sorted(_node_type(p) for p in pods) == ["head", "worker", "worker"]
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert rc["status"]["head"]["serviceName"] == "web-head-svc"


async def test_worker_with_64_gpus_stays_pending_with_the_scheduler_message(
    client: KubernetesAsyncioClient,
) -> None:
    await client.create_raycluster(raycluster("big", gpus=64, gpu_type="nvidia-l4"))
    worker = await watch_until(
        client, "pods", lambda p: condition(p, "PodScheduled").get("reason") == "Unschedulable",
        label_selector="ray.io/cluster=big,ray.io/node-type=worker",
    )  # fmt: skip
    message = condition(worker, "PodScheduled")["message"]
    assert message == (
        "0/5 nodes are available: 2 Insufficient nvidia.com/gpu, 3 node(s) didn't match Pod's "
        "node affinity/selector. preemption: 0/5 nodes are available: 2 No preemption victims "
        "found for incoming pod, 3 Preemption is not helpful for scheduling."
    )
    events = await client.list_events(
        "default", field_selector=f"involvedObject.name={worker['metadata']['name']}"
    )
    assert [e["reason"] for e in events["items"]] == ["FailedScheduling"]


async def test_unknown_tag_goes_err_image_pull_then_image_pull_back_off(
    client: KubernetesAsyncioClient,
) -> None:
    await client.create_raycluster(raycluster("badtag", workers=0, image="rayproject/ray:9.9.9"))
    selector = "ray.io/cluster=badtag,ray.io/node-type=head"

    def waiting(reason: str) -> Callable[[Obj], bool]:
        return lambda p: (container_status(p, "ray-head").get("state") or {}).get(
            "waiting", {}).get("reason") == reason  # fmt: skip

    head = await watch_until(client, "pods", waiting("ErrImagePull"), label_selector=selector)
    assert (
        "docker.io/rayproject/ray:9.9.9: not found"
        in (container_status(head, "ray-head")["state"]["waiting"]["message"])
    )
    head = await watch_until(client, "pods", waiting("ImagePullBackOff"), label_selector=selector)
    with pytest.raises(KrayneError) as info:
        await client.read_pod_log(head["metadata"]["name"], "default", container="ray-head")
    assert "trying and failing to pull image" in str(info.value)


async def test_crash_loop_is_visible_with_restart_count_and_previous_log(
    client: KubernetesAsyncioClient,
) -> None:
    await client.create_raycluster(raycluster("crashy", workers=0, image=CRASHING_DEMO_IMAGE))
    head = await watch_until(
        client, "pods",
        lambda p: container_status(p, "ray-head").get("restartCount", 0) >= 2
        and "waiting" in container_status(p, "ray-head").get("state", {}),
        label_selector="ray.io/cluster=crashy",
    )  # fmt: skip
    status = container_status(head, "ray-head")
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    log = await client.read_pod_log(
        head["metadata"]["name"], "default", container="ray-head", previous=True, tail_lines=1
    )
    assert log == "ModuleNotFoundError: No module named 'krayne_missing_dependency'\n"


async def test_scale_then_delete_cascades(client: KubernetesAsyncioClient) -> None:
    await client.create_raycluster(raycluster("elastic", workers=1, max_workers=4))
    await watch_until(
        client, "rayclusters", lambda o: (o.get("status") or {}).get("state") == "ready"
    )
    rc = await client.get_raycluster("elastic", "default")
    rc["spec"]["workerGroupSpecs"][0].update(replicas=3, minReplicas=3)
    await client.replace_raycluster(rc)
    await watch_until(
        client, "rayclusters",
        lambda o: (o.get("status") or {}).get("availableWorkerReplicas") == 3,
    )  # fmt: skip
    pods = (await client.list_pods("default", label_selector="ray.io/cluster=elastic"))["items"]
    assert len(pods) == 4
    await client.delete_raycluster("elastic", "default")
    remaining = await client.list_pods("default", label_selector="ray.io/cluster=elastic")
    assert remaining["items"] == []


async def test_54_character_name_gets_invalid_metadata_warning(
    client: KubernetesAsyncioClient,
) -> None:
    name = "n" * 54
    await client.create_raycluster(raycluster(name, workers=0))
    event = await watch_until(
        client, "events",
        lambda e: e["involvedObject"]["name"] == name
        and e["reason"] == "InvalidRayClusterMetadata",
    )  # fmt: skip
    assert event["type"] == "Warning"
    assert event["message"].endswith("RayCluster name should be no more than 53 characters")
    rc = await client.get_raycluster(name, "default")
    assert "status" not in rc or not rc["status"]
