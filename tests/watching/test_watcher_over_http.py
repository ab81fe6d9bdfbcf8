"""ClusterWatcher over the real kubernetes-asyncio client and the sandbox's HTTP API server.

Here the sandbox runs without its simulated operator and the test plays kubelet, writing pod
states into the store, so each transition, a dropped watch and a forced 410 happen exactly when
the test says. ``test_watcher_simulation.py`` lets the simulated KubeRay drive instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.config import build_config
from core.kube_asyncio import KubernetesAsyncioClient
from core.status import Phase
from core.watching import ClusterChange, ClusterWatcher, Subscription, WatchSettings
from manifests.raycluster import build_raycluster
from tests.sandbox_fixtures import put_pod, wait_for

NS = "default"
SETTINGS = WatchSettings(timeout_seconds=30, backoff_initial=0.02, backoff_max=0.2)


@pytest.fixture
async def watcher(kube: KubernetesAsyncioClient) -> AsyncIterator[ClusterWatcher]:
    watcher = ClusterWatcher(kube, [NS], settings=SETTINGS)
    task = asyncio.create_task(watcher.run(), name="watcher-under-test")
    try:
        assert await watcher.wait_synced(10)
        yield watcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_names = iter(range(10_000))


@pytest.fixture
def name() -> str:
    return f"watch-{next(_names)}"


async def create(kube: KubernetesAsyncioClient, name: str) -> None:
    config = build_config(
        {
            "name": name,
            "worker_groups": [{"name": "worker", "replicas": 1, "max_replicas": 2}],
            "services": {"notebook": False, "code_server": False, "ssh": False},
        }
    )
    await kube.create_raycluster(build_raycluster(config))


async def next_for(
    sub: Subscription, name: str, predicate: Callable[[ClusterChange], bool]
) -> ClusterChange:
    async with asyncio.timeout(10):
        async for change in sub:
            if change.name == name and predicate(change):
                return change
    raise AssertionError("the watcher stopped")


async def until_open_watches(bare: Any, count: int) -> None:
    await asyncio.to_thread(
        wait_for, lambda: bare.store.open_watches() == count, what=f"{count} open watches"
    )


def phase(expected: Phase) -> Callable[[ClusterChange], bool]:
    return lambda change: change.status.phase is expected


async def test_watcher_follows_pod_states_and_survives_a_dropped_watch(
    bare: Any, kube: KubernetesAsyncioClient, watcher: ClusterWatcher, name: str
) -> None:
    async with watcher.subscribe() as sub:
        await create(kube, name)
        created = await next_for(sub, name, lambda c: True)
        assert created.status.phase is Phase.CREATING
        assert created.raycluster is not None and created.status.desired_workers == 1

        streams = len(watcher.informers)
        await until_open_watches(bare, streams)  # listed; watches may still be dialling
        assert bare.faults.drop_watches() == streams
        put_pod(bare, name, f"{name}-head-a", "head", phase="Pending", scheduled=False)
        await next_for(sub, name, phase(Phase.PODS_PENDING))

        put_pod(bare, name, f"{name}-head-a", "head", ready=True)
        put_pod(bare, name, f"{name}-worker-worker-b", "worker", ready=True)
        ready = await next_for(sub, name, phase(Phase.READY))
        assert (ready.status.ready_workers, ready.status.head_ready) == (1, True)
        assert len(watcher.pods_of(NS, name)) == 2


async def test_forced_410_relists_and_reports_the_pod_that_vanished_meanwhile(
    bare: Any, kube: KubernetesAsyncioClient, watcher: ClusterWatcher, name: str
) -> None:
    async with watcher.subscribe() as sub:
        await create(kube, name)
        put_pod(bare, name, f"{name}-head-a", "head", ready=True)
        put_pod(bare, name, f"{name}-worker-worker-b", "worker", ready=True)
        await next_for(sub, name, phase(Phase.READY))

        before = len(bare.requests)
        bare.faults.expire_resource_versions()  # first, so every re-watch meets a 410
        bare.faults.drop_watches()
        bare.store.delete("pods", NS, f"{name}-worker-worker-b")
        running = await next_for(sub, name, phase(Phase.RUNNING))
        assert running.status.ready_workers == 0
        lists = [
            path
            for method, path, query in bare.requests[before:]
            if method == "GET" and path.endswith("/pods") and "watch=" not in query
        ]
        assert lists, "the pods were not listed again after the 410"


async def test_deleting_the_cluster_publishes_a_deletion(
    bare: Any, kube: KubernetesAsyncioClient, watcher: ClusterWatcher, name: str
) -> None:
    async with watcher.subscribe() as sub:
        await create(kube, name)
        await next_for(sub, name, lambda c: True)
        await kube.delete_raycluster(name, NS)
        gone = await next_for(sub, name, lambda c: c.deleted)
        assert gone.raycluster is not None and gone.raycluster["metadata"]["name"] == name
        assert watcher.get(NS, name) is None


async def test_api_errors_on_list_are_retried_until_synced(
    bare: Any, kube: KubernetesAsyncioClient
) -> None:
    bare.faults.fail_next(2, 500, path_contains="/pods")
    watcher = ClusterWatcher(kube, [NS], settings=SETTINGS)
    task = asyncio.create_task(watcher.run())
    try:
        assert await watcher.wait_synced(10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_429_on_list_is_retried_only_after_its_retry_after(
    bare: Any, kube: KubernetesAsyncioClient
) -> None:
    """The backoff here is 20 ms, the server asks for 1 s: the server's Retry-After wins."""
    bare.faults.fail_next(1, 429, retry_after=1, path_contains="/pods")
    watcher = ClusterWatcher(kube, [NS], settings=SETTINGS)
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(watcher.run())
    try:
        assert await watcher.wait_synced(10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert loop.time() - started >= 1.0


async def test_a_failing_api_unsyncs_the_watcher_which_relists_and_misses_no_transition(
    bare: Any, kube: KubernetesAsyncioClient, watcher: ClusterWatcher, name: str
) -> None:
    """Every pods request answers 500 (then 429 with Retry-After, then a 410 on resume): the
    watcher says it is not synced (``/readyz``) until it has listed again, backs off meanwhile,
    and the transitions made during the outage arrive once it is back."""
    async with watcher.subscribe() as sub:
        await create(kube, name)
        await next_for(sub, name, phase(Phase.CREATING))
        streams = len(watcher.informers)
        await until_open_watches(bare, streams)
        (pods,) = [i for i in watcher.informers if i.kind == "pods"]
        lists = pods.lists
        bare.faults.fail_next(1_000_000, 500, path_contains="/pods")
        bare.faults.drop_watches()
        await asyncio.to_thread(wait_for, lambda: not watcher.synced, what="unsynced")
        # Meanwhile the kubelet moves on: the head gets scheduled and ready, and so does a worker.
        put_pod(bare, name, f"{name}-head-a", "head", ready=True)
        put_pod(bare, name, f"{name}-worker-worker-b", "worker", ready=True)
        bare.faults.expire_resource_versions()
        bare.faults.clear()
        bare.faults.fail_next(1, 429, retry_after=1, path_contains="/pods")
        ready = await next_for(sub, name, phase(Phase.READY))
        assert (ready.status.ready_workers, ready.status.head_ready) == (1, True)
        assert watcher.synced
        assert pods.lists > lists  # listed afresh, not resumed from a stale resourceVersion
