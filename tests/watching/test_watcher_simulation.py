"""ClusterWatcher against the sandbox with its simulated KubeRay, scheduler and kubelet.

The real kubernetes-asyncio client, real HTTP, time compressed: what a user would see in Slack,
phase by phase, for a healthy cluster and for the classic ways one gets stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.config import build_config
from core.kube_asyncio import KubernetesAsyncioClient, connect
from core.sandbox.runner import ThreadedSandbox
from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE
from core.status import Phase, StatusSettings
from core.watching import ClusterChange, ClusterWatcher, WatchSettings
from manifests.raycluster import build_raycluster
from tests.sandbox_fixtures import SANDBOX_SPEED

NS = "default"
RESTARTS_WATCHED = 4  # kubelet back-off 10+20+40 s: about 2 s of wall time at sandbox speed
SETTINGS = WatchSettings(timeout_seconds=30, backoff_initial=0.02, backoff_max=0.2)
PROGRESS = [
    Phase.CREATING,
    Phase.PODS_PENDING,
    Phase.CONTAINERS_CREATING,
    Phase.RUNNING,
    Phase.READY,
]


@pytest.fixture
async def watched(
    sandbox: ThreadedSandbox,
) -> AsyncIterator[tuple[KubernetesAsyncioClient, ClusterWatcher]]:
    kube = await connect(str(sandbox.kubeconfig_path), request_timeout=5)
    watcher = ClusterWatcher(
        kube, [NS], settings=SETTINGS, status=StatusSettings().faster(SANDBOX_SPEED)
    )
    task = asyncio.create_task(watcher.run(), name="watcher-under-test")
    try:
        assert await watcher.wait_synced(10)
        yield kube, watcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await kube.close()


async def create(kube: KubernetesAsyncioClient, name: str, **data: Any) -> None:
    base: dict[str, Any] = {
        "name": name,
        "worker_groups": [{"name": "worker", "replicas": 1, "max_replicas": 2}],
        "services": {"notebook": False, "code_server": False, "ssh": False},
    }
    await kube.create_raycluster(build_raycluster(build_config({**base, **data})))


async def follow(
    watcher: ClusterWatcher, kube: KubernetesAsyncioClient, name: str, **data: Any
) -> list[ClusterChange]:
    """Create the cluster and collect its changes until a settled phase."""
    seen: list[ClusterChange] = []
    async with watcher.subscribe() as sub:
        await create(kube, name, **data)
        async with asyncio.timeout(20):
            async for change in sub:
                if change.name != name:
                    continue
                seen.append(change)
                if change.status.phase.is_settled:
                    return seen
    raise AssertionError(f"the watcher stopped; seen {[c.status.phase for c in seen]}")


async def test_cluster_goes_from_creating_to_ready_in_order(
    watched: tuple[KubernetesAsyncioClient, ClusterWatcher],
) -> None:
    kube, watcher = watched
    seen = await follow(watcher, kube, "sim-ready")
    phases = [c.status.phase for c in seen]
    # Coalescing may merge "creating" into the next state when the operator is quick.
    assert phases[0] in (Phase.CREATING, Phase.PODS_PENDING) and phases[-1] is Phase.READY, phases
    order = [PROGRESS.index(p) for p in phases]
    assert order == sorted(order), f"phases went backwards: {phases}"
    ready = seen[-1].status
    assert (ready.head_ready, ready.ready_workers, ready.desired_workers) == (True, 1, 1)
    assert len(watcher.pods_of(NS, "sim-ready")) == 2


async def test_unknown_image_reaches_image_pull_error_saying_not_found(
    watched: tuple[KubernetesAsyncioClient, ClusterWatcher],
) -> None:
    kube, watcher = watched
    seen = await follow(watcher, kube, "sim-badimage", head={"image": "rayproject/ray:9.9.9"})
    status = seen[-1].status
    assert status.phase is Phase.IMAGE_PULL_ERROR, status
    assert "`rayproject/ray:9.9.9`" in status.reason and "not found" in status.reason
    assert status.pod is not None and status.pod.startswith("sim-badimage-head-")
    assert status.hint is not None and "--image" in status.hint


async def test_too_many_gpus_is_unschedulable_naming_the_request(
    watched: tuple[KubernetesAsyncioClient, ClusterWatcher],
) -> None:
    kube, watcher = watched
    groups = [{"name": "gpu", "replicas": 1, "min_replicas": 1, "max_replicas": 1, "gpus": 16}]
    seen = await follow(watcher, kube, "sim-gpus", worker_groups=groups)
    status = seen[-1].status
    assert status.phase is Phase.UNSCHEDULABLE, status
    assert "16 nvidia.com/gpu" in status.reason and "Insufficient nvidia.com/gpu" in status.reason
    assert status.hint is not None and "fewer GPUs" in status.hint


async def test_crashing_image_is_a_crash_loop_quoting_the_exit(
    watched: tuple[KubernetesAsyncioClient, ClusterWatcher],
) -> None:
    kube, watcher = watched
    groups = [{"name": "worker", "replicas": 1, "max_replicas": 1, "image": CRASHING_DEMO_IMAGE}]
    seen = await follow(watcher, kube, "sim-crash", worker_groups=groups)
    status = seen[-1].status
    assert status.phase is Phase.CRASH_LOOP, status
    assert "keeps crashing: last exit code" in status.reason
    assert status.pod is not None and "-worker-" in status.pod


async def test_ready_is_reached_through_dropped_watches_and_a_forced_410(
    sandbox: ThreadedSandbox,
    watched: tuple[KubernetesAsyncioClient, ClusterWatcher],
) -> None:
    kube, watcher = watched
    async with watcher.subscribe() as sub:
        await create(kube, "sim-faults")
        before = len(sandbox.requests)
        # Both faults in one step on the sandbox's loop. Applied one after the other, the
        # simulation could deliver newer pods (or the operator's status) in between; a stream
        # resuming from such a resourceVersion is past the compaction and rightly gets no 410.
        sandbox.faults.apply({"expire_resource_versions": True, "drop_watches": True})
        async with asyncio.timeout(20):
            async for change in sub:
                if change.name == "sim-faults" and change.status.phase is Phase.READY:
                    break
                sandbox.faults.drop_watches()  # and again, on every change until ready
    # Every stream had a resourceVersion from before the compaction, so each must have got 410
    # and listed afresh; dropped watches alone only re-watch.
    relisted = {
        path.rsplit("/", 1)[-1]
        for method, path, query in sandbox.requests[before:]
        if method == "GET" and "watch=" not in query
    }
    missing = {"rayclusters", "pods", "events"} - relisted
    assert not missing, f"no re-list after the 410 for {sorted(missing)}"


async def test_crash_loop_does_not_flap_while_the_container_restarts(
    watched: tuple[KubernetesAsyncioClient, ClusterWatcher],
) -> None:
    """Between crashes the container is Running but not Ready; that is still a crash loop, so
    the phase (and with it the Slack thread) must not bounce back to running on every restart."""
    kube, watcher = watched
    groups = [{"name": "worker", "replicas": 1, "max_replicas": 1, "image": CRASHING_DEMO_IMAGE}]
    phases: list[Phase] = []
    crash_reasons: set[str] = set()
    async with watcher.subscribe() as sub:
        await create(kube, "sim-flap", worker_groups=groups)
        async with asyncio.timeout(30):
            async for change in sub:
                if change.name != "sim-flap":
                    continue
                phases.append(change.status.phase)
                if change.status.phase is Phase.CRASH_LOOP:
                    crash_reasons.add(change.status.reason)
                if any(f"restarted {RESTARTS_WATCHED} times" in r for r in crash_reasons):
                    break
    first = phases.index(Phase.CRASH_LOOP)
    assert set(phases[first:]) == {Phase.CRASH_LOOP}, f"the crash loop flapped: {phases}"
    # Several restarts were seen as they happened (each one changes the restart count).
    assert len(crash_reasons) >= RESTARTS_WATCHED - 1, crash_reasons
