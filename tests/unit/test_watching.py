"""ClusterWatcher over an in-memory API: list+watch, 410 re-lists, backoff, coalescing, fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from core.errors import KubeConnectionError, PermissionDeniedError
from core.informer import WatchSettings
from core.status import Phase
from core.watching import (
    AUTOSCALER_EVENT_SELECTORS,
    ClusterChange,
    ClusterWatcher,
    Subscription,
)
from tests.unit.fake_kube import FakeKube, connection_refused
from tests.unit.kube_objects import (
    NOW,
    event,
    head,
    pod,
    raycluster,
    terminated,
    waiting,
    worker,
)
from tests.unit.kube_objects import (
    running as running_container,
)

FAST = WatchSettings(
    timeout_seconds=30,
    inactivity_timeout=30,
    backoff_initial=0.01,
    backoff_max=0.04,
    recompute_interval=3600,
)


@contextlib.asynccontextmanager
async def running(watcher: ClusterWatcher) -> AsyncIterator[ClusterWatcher]:
    task = asyncio.create_task(watcher.run(), name="watcher-under-test")
    try:
        assert await watcher.wait_synced(5), "watcher did not sync"
        yield watcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make(kube: FakeKube, namespaces: list[str] | None = None, **settings: Any) -> ClusterWatcher:
    chosen = dataclasses.replace(FAST, **settings)
    return ClusterWatcher(kube, namespaces or ["default"], settings=chosen, clock=lambda: NOW)


async def until(
    sub: Subscription, predicate: Callable[[ClusterChange], bool], within: float = 5
) -> ClusterChange:
    async with asyncio.timeout(within):
        async for change in sub:
            if predicate(change):
                return change
    raise AssertionError("the subscription ended before the expected change")


def phase_is(phase: Phase) -> Callable[[ClusterChange], bool]:
    return lambda change: change.status.phase is phase


async def test_nothing_is_published_before_pods_are_listed() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    kube.apply("pods", head())
    kube.apply("pods", worker())
    kube.gates["list:pods"] = asyncio.Event()
    watcher = make(kube)
    async with watcher.subscribe() as sub:
        task = asyncio.create_task(watcher.run())
        try:
            async with asyncio.timeout(5):
                await kube.wait_calls("list:pods", 1)
                await kube.wait_calls("watch:rayclusters", 1)  # the clusters were listed
            assert not watcher.synced
            assert sub.pending == 0 and watcher.get("default", "demo") is None
            kube.gates["list:pods"].set()
            first = await until(sub, lambda c: True)
            assert first.status.phase is Phase.READY  # never a false "creating" after a restart
            assert watcher.synced
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_cluster_progress_is_published_in_order() -> None:
    kube = FakeKube()
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        kube.apply("rayclusters", raycluster())
        assert (await until(sub, lambda c: True)).status.phase is Phase.CREATING
        kube.apply("pods", head(ready=False, phase="Pending", scheduled=False))
        await until(sub, phase_is(Phase.PODS_PENDING))
        kube.apply(
            "pods",
            head(
                ready=False, phase="Pending", containers=[waiting("ray-head", "ContainerCreating")]
            ),
        )
        await until(sub, phase_is(Phase.CONTAINERS_CREATING))
        kube.apply("pods", head())
        kube.apply("pods", worker())
        ready = await until(sub, phase_is(Phase.READY))
        assert (ready.status.ready_workers, ready.status.desired_workers) == (1, 1)
        assert [p["metadata"]["name"] for p in watcher.pods_of("default", "demo")] == [
            "demo-head-x7k2p",
            "demo-worker-worker-abc12",
        ]
        assert watcher.get("default", "demo") == ready


async def test_pods_of_clusters_not_managed_by_krayne_are_not_published() -> None:
    kube = FakeKube()
    kube.apply("pods", pod("other-head-aaaaa", cluster="other", node_type="head", ready=True))
    watcher = make(kube)
    async with running(watcher):
        assert watcher.snapshot() == []
        assert watcher.get("default", "other") is None


async def test_expired_resource_version_relists_and_reports_what_vanished() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    kube.apply("pods", head())
    kube.apply("pods", worker())
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        assert watcher.get("default", "demo").status.phase is Phase.READY  # type: ignore[union-attr]
        # While the watches are down the worker disappears and history is compacted: only a
        # re-list can tell.
        kube.drop_watches()
        kube.delete("pods", "demo-worker-worker-abc12", silently=True)
        kube.expire()
        change = await until(sub, phase_is(Phase.RUNNING))
        assert change.status.ready_workers == 0
        assert kube.calls["list:pods"] == 2
        assert watcher.pods_of("default", "demo")[0]["metadata"]["name"] == "demo-head-x7k2p"
        assert len(watcher.pods_of("default", "demo")) == 1


async def test_dropped_watch_resumes_from_its_resource_version_without_listing() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        kube.drop_watches()
        kube.apply("pods", head(ready=False, phase="Pending", scheduled=False))
        await until(sub, phase_is(Phase.PODS_PENDING))
        assert kube.calls["list:pods"] == 1
        assert kube.calls["watch:pods"] >= 2


async def test_connection_errors_are_retried_with_backoff_until_the_server_is_back() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    kube.fail("list:pods", connection_refused(), times=3)
    watcher = make(kube)
    async with running(watcher), watcher.subscribe(replay=True) as sub:
        assert (await until(sub, lambda c: True)).status.phase is Phase.CREATING
        assert kube.calls["list:pods"] == 4
        kube.fail("watch:pods", connection_refused(), times=2)
        kube.drop_watches()
        kube.apply("pods", head(ready=False, phase="Pending", scheduled=False))
        await until(sub, phase_is(Phase.PODS_PENDING))


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    settings = WatchSettings(
        backoff_initial=1, backoff_factor=2, backoff_max=10, backoff_jitter=0.5
    )
    rng = random.Random(7)
    delays = [settings.backoff(attempt, rng) for attempt in range(8)]
    ceilings = [1, 2, 4, 8, 10, 10, 10, 10]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jitter: capped waits still differ
    assert WatchSettings(backoff_jitter=0).backoff(100) == WatchSettings().backoff_max


async def test_a_silent_connection_is_abandoned_after_the_inactivity_timeout() -> None:
    kube = FakeKube()
    kube.hang_watches = True
    watcher = make(kube, inactivity_timeout=0.05)
    async with running(watcher):
        async with asyncio.timeout(5):
            await kube.wait_calls("watch:rayclusters", 3)
        assert kube.calls["list:rayclusters"] == 1


async def test_a_server_answering_410_to_every_watch_gets_backoff_not_a_list_storm() -> None:
    kube = FakeKube()
    kube.always_expire = True
    watcher = make(kube, backoff_initial=30, backoff_max=30)
    async with running(watcher):
        async with asyncio.timeout(5):
            await kube.wait_calls("watch:rayclusters", 2)
        for _ in range(100):  # give a misbehaving informer every chance to list again
            await asyncio.sleep(0)
        # The first 410 re-listed at once; the second one waits out the backoff.
        assert kube.calls["list:rayclusters"] == 2


async def test_slow_subscriber_gets_latest_state_per_cluster_in_first_changed_order() -> None:
    kube = FakeKube()
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as slow, watcher.subscribe() as fast:
        kube.apply("rayclusters", raycluster("alpha"))
        kube.apply("rayclusters", raycluster("beta"))
        for replicas in range(1, 30):
            for name in ("alpha", "beta"):
                body = raycluster(name, annotations={"krayne.io/notified": str(replicas)})
                kube.apply("rayclusters", body)
        await until(
            fast, lambda c: c.name == "beta" and c.annotations["krayne.io/notified"] == "29"
        )
        assert slow.pending == 2  # bounded: one entry per cluster, whatever the backlog
        first, second = await anext(slow), await anext(slow)
        assert [first.name, second.name] == ["alpha", "beta"]
        assert first.annotations["krayne.io/notified"] == "29"
        assert second.annotations["krayne.io/notified"] == "29"


async def test_annotation_change_alone_is_published() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        kube.apply("rayclusters", raycluster(annotations={"krayne.io/slack-thread-ts": "1.2"}))
        change = await until(sub, lambda c: True)
        assert change.annotations == {"krayne.io/slack-thread-ts": "1.2"}
        assert change.status.phase is Phase.CREATING


async def test_unchanged_status_is_not_republished() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        body = raycluster()
        body["status"] = {"lastUpdateTime": "2026-11-25T11:59:00Z"}  # a status-only write
        kube.apply("rayclusters", body)
        kube.apply("rayclusters", raycluster("marker"))
        assert (await until(sub, lambda c: True)).name == "marker"


async def test_deleted_cluster_is_published_with_its_last_object_and_recreation_follows() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster(annotations={"krayne.io/slack-channel": "C1"}))
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        kube.delete("rayclusters", "demo")
        recreated = raycluster()
        recreated["metadata"]["uid"] = "uid-demo-2"
        kube.apply("rayclusters", recreated)
        async with asyncio.timeout(5):
            gone, new = await anext(sub), await anext(sub)
        assert gone.deleted and gone.annotations == {"krayne.io/slack-channel": "C1"}
        assert gone.status.phase is Phase.DELETING
        assert not new.deleted and new.uid == "uid-demo-2"


async def test_warning_events_are_grouped_by_cluster_capped_and_aged_out() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    kube.apply("pods", head())
    kube.apply("pods", pod("other-head-aaaaa", cluster="other", node_type="head"))
    kube.apply("events", event("Pod", "other-head-aaaaa", "BackOff", "not ours"))
    kube.apply(
        "events", event("RayCluster", "demo", "FailedToCreateService", "old", minutes_ago=90)
    )
    kube.apply("events", event("Pod", "demo-head-x7k2p", "Unhealthy", "probe", type_="Normal"))
    for i in range(5):
        kube.apply(
            "events",
            event(
                "Pod", "demo-head-x7k2p", "BackOff", f"restart {i}", minutes_ago=5 - i, uid=str(i)
            ),
        )
    watcher = make(kube, events_per_cluster=3)
    async with running(watcher):
        messages = [e["message"] for e in watcher.events_of("default", "demo")]
        assert messages == ["restart 4", "restart 3", "restart 2"]


async def test_pod_warning_event_updates_the_status_reason() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    kube.apply("pods", head(ready=False, phase="Pending", scheduled=""))
    watcher = make(kube)
    async with running(watcher), watcher.subscribe() as sub:
        kube.apply(
            "events",
            event(
                "Pod",
                "demo-head-x7k2p",
                "FailedScheduling",
                "0/2 nodes are available: 2 Insufficient cpu.",
            ),
        )
        change = await until(sub, lambda c: "Insufficient cpu" in c.status.reason)
        assert change.status.phase is Phase.UNSCHEDULABLE


#: Per namespace: RayClusters, pods, Warning events, and one small stream per reason a node
#: autoscaler records on pods (a field selector cannot ask for several reasons at once).
STREAMS = 3 + len(AUTOSCALER_EVENT_SELECTORS)


async def test_api_load_does_not_depend_on_the_number_of_subscribers() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    watcher = make(kube, namespaces=["default", "team-b"])
    async with running(watcher), contextlib.AsyncExitStack() as stack:
        subs = [await stack.enter_async_context(watcher.subscribe()) for _ in range(50)]
        kube.apply("pods", head())
        for sub in subs:
            await until(sub, phase_is(Phase.RUNNING))
        assert kube.open_watches == 2 * STREAMS  # per namespace, whatever the subscribers
        assert sum(n for call, n in kube.calls.items() if call.startswith("list:")) == 2 * STREAMS


async def test_all_namespaces_watch_sees_every_namespace() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster("a", namespace="ns1"))
    kube.apply("rayclusters", raycluster("b", namespace="ns2"))
    watcher = ClusterWatcher(kube, None, settings=FAST, clock=lambda: NOW)
    async with running(watcher):
        assert [(c.namespace, c.name) for c in watcher.snapshot()] == [("ns1", "a"), ("ns2", "b")]
        assert kube.open_watches == STREAMS


async def test_subscription_ends_when_the_watcher_stops_and_run_cancels_cleanly() -> None:
    kube = FakeKube()
    watcher = make(kube)
    async with watcher.subscribe() as sub:
        async with running(watcher):
            assert kube.open_watches == STREAMS
        async with asyncio.timeout(5):
            assert [c async for c in sub] == []
    assert kube.open_watches == 0
    with pytest.raises(RuntimeError):
        await watcher.run()


async def test_forbidden_events_do_not_stop_clusters_from_being_published() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    forbidden = PermissionDeniedError('events is forbidden: cannot list resource "events"')
    kube.fail("list:events", forbidden, times=1000)
    watcher = make(kube)
    async with running(watcher):
        assert watcher.get("default", "demo") is not None


async def test_forbidden_clusters_keep_the_watcher_unsynced() -> None:
    kube = FakeKube()
    kube.fail("list:rayclusters", PermissionDeniedError("forbidden"), times=1000)
    watcher = make(kube)
    task = asyncio.create_task(watcher.run())
    try:
        async with asyncio.timeout(5):
            await kube.wait_calls("list:rayclusters", 3)  # retried with backoff
        assert not watcher.synced
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_wait_synced_times_out_while_the_api_is_down() -> None:
    kube = FakeKube()
    kube.fail("list:rayclusters", KubeConnectionError("down"), times=1000)
    watcher = make(kube)
    task = asyncio.create_task(watcher.run())
    try:
        assert await watcher.wait_synced(0.1) is False
        assert not watcher.synced
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_time_alone_ends_a_stale_crash_loop_and_ages_out_events() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    kube.apply("pods", head())
    oom = terminated("OOMKilled", 137, minutes_ago=1)
    looping = running_container("ray-worker", ready=False, restarts=2, last=oom)
    kube.apply("pods", worker(containers=[looping]))
    kube.apply("events", event("Pod", "demo-head-x7k2p", "BackOff", "old news", minutes_ago=1))
    now = [NOW]
    watcher = ClusterWatcher(
        kube,
        ["default"],
        settings=dataclasses.replace(FAST, recompute_interval=0.01, event_max_age=600),
        clock=lambda: now[0],
    )
    async with running(watcher), watcher.subscribe(replay=True) as sub:
        assert (await anext(sub)).status.phase is Phase.CRASH_LOOP
        assert len(watcher.events_of("default", "demo")) == 1
        now[0] = NOW + timedelta(minutes=30)
        await until(sub, phase_is(Phase.READY))  # the crash is old: no longer a loop
        assert watcher.events_of("default", "demo") == []


async def test_the_cache_answers_only_for_watched_namespaces_whose_streams_are_healthy() -> None:
    kube = FakeKube()
    kube.apply("rayclusters", raycluster())
    async with running(make(kube)) as watcher:
        assert watcher.holds("default") and not watcher.holds("elsewhere")
        kube.fail("watch:pods", connection_refused(), times=10**6)
        kube.drop_watches()
        async with asyncio.timeout(5):
            while watcher.holds("default"):
                await kube.wait_calls("watch:pods", kube.calls["watch:pods"] + 1)
        kube.failures.clear()
        async with asyncio.timeout(5):
            while not watcher.holds("default"):  # a watch follows a successful list
                await kube.wait_calls("watch:pods", kube.calls["watch:pods"] + 1)
