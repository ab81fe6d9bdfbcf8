"""With ``timings.delete_grace`` deleted pods stay Terminating until the kubelet stops them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simulation import Simulation

from .conftest import events_for, pods_of, raycluster, start_simulation, stop_simulation, until


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    config = SimConfig.model_validate({"timings": {"delete_grace": 5}})
    simulation, task = await start_simulation(config)
    yield simulation
    await stop_simulation(task)


def _ready(sim: Simulation) -> bool:
    rc = sim.store.get("rayclusters", "default", "demo")
    return (rc.get("status") or {}).get("state") == "ready"


def _workers(store: Any) -> list[dict[str, Any]]:
    return [p for p in pods_of(store, "demo")
            if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]  # fmt: skip


async def test_deleted_pod_is_terminating_then_removed_and_only_then_replaced(
    sim: Simulation,
) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    worker = _workers(store)[0]["metadata"]["name"]
    marked = store.delete("pods", "default", worker)
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30  # terminationGracePeriodSeconds
    terminating = store.get("pods", "default", worker)
    assert terminating["metadata"]["deletionTimestamp"]
    await sim.operator.queue.wait_idle()
    assert [p["metadata"]["name"] for p in _workers(store)] == [worker]  # not replaced yet
    killing = [e["message"] for e in events_for(store, worker) if e["reason"] == "Killing"]
    assert killing == ["Stopping container ray-worker"]
    await until(store, lambda: worker not in [p["metadata"]["name"] for p in _workers(store)])
    await until(store, lambda: len(_workers(store)) == 1)


async def test_grace_period_zero_removes_the_pod_at_once(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    worker = _workers(store)[0]["metadata"]["name"]
    store.delete("pods", "default", worker, grace_period=0)
    assert worker not in [p["metadata"]["name"] for p in _workers(store)]


async def test_deleting_the_raycluster_removes_it_and_its_pods_terminate(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    store.delete("rayclusters", "default", "demo")
    assert store.list("rayclusters", "default")[0] == []
    pods = pods_of(store, "demo")
    assert len(pods) == 2 and all(p["metadata"]["deletionTimestamp"] for p in pods)
    assert store.list("services", "default")[0] == []  # not graceful: gone with the owner
    await until(store, lambda: pods_of(store, "demo") == [])


async def test_foreground_deletion_keeps_the_raycluster_until_its_pods_are_gone(
    sim: Simulation,
) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    marked = store.delete("rayclusters", "default", "demo", propagation="Foreground")
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert marked["metadata"]["deletionTimestamp"]
    assert all(p["metadata"]["deletionTimestamp"] for p in pods_of(store, "demo"))
    assert store.get("rayclusters", "default", "demo")["metadata"]["deletionTimestamp"]
    await until(store, lambda: store.list("rayclusters", "default")[0] == [])
    assert pods_of(store, "demo") == []


async def test_orphaned_pods_survive_their_raycluster(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    store.delete("rayclusters", "default", "demo", propagation="Orphan")
    assert store.list("rayclusters", "default")[0] == []
    pods = pods_of(store, "demo")
    assert len(pods) == 2
    assert all("ownerReferences" not in p["metadata"] for p in pods)
    assert all(not p["metadata"].get("deletionTimestamp") for p in pods)
