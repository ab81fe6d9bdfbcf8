"""Ray's autoscaler writes replicas and workersToDelete as node_provider.py does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.sandbox.sim.ray_autoscaler import DEMAND_ANNOTATION
from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simulation import Simulation

from .conftest import (
    condition,
    events_for,
    pods_of,
    raycluster,
    start_simulation,
    stop_simulation,
    until,
)

IDLE_TIMEOUT = 20


def _autoscaled(name: str = "demo", **kwargs: Any) -> dict[str, Any]:
    rc = raycluster(name, workers=0, autoscaling=True, min_workers=0, max_workers=3, **kwargs)
    rc["spec"]["autoscalerOptions"] = {"idleTimeoutSeconds": IDLE_TIMEOUT}
    return rc


@pytest.fixture
async def ray_sim() -> AsyncIterator[Simulation]:
    simulation, task = await start_simulation(SimConfig.from_mapping({"ray_autoscaler": True}))
    yield simulation
    await stop_simulation(task)


def _demand(sim: Simulation, workers: int | None, name: str = "demo") -> None:
    value = None if workers is None else json.dumps({"workers": workers})
    patch = {"metadata": {"annotations": {DEMAND_ANNOTATION: value}}}
    sim.store.merge_patch("rayclusters", "default", name, patch)


def _ready_workers(sim: Simulation, name: str = "demo") -> list[str]:
    return sorted(
        p["metadata"]["name"] for p in pods_of(sim.store, name)
        if p["metadata"]["labels"]["ray.io/node-type"] == "worker"
        and condition(p, "Ready").get("status") == "True"
    )  # fmt: skip


def _workers(sim: Simulation, name: str = "demo") -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods_of(sim.store, name)
                  if p["metadata"]["labels"]["ray.io/node-type"] == "worker")  # fmt: skip


def _group(sim: Simulation, name: str = "demo") -> dict[str, Any]:
    group: dict[str, Any] = sim.store.get("rayclusters", "default", name)["spec"][
        "workerGroupSpecs"
    ][0]
    return group


async def test_demand_scales_up_and_idle_workers_are_deleted_through_workers_to_delete(
    ray_sim: Simulation,
) -> None:
    store = ray_sim.store
    history: list[tuple[int, list[str]]] = []

    def record(event: str, resource: str, obj: dict[str, Any]) -> None:
        if resource == "rayclusters" and event == "MODIFIED":
            group = obj["spec"]["workerGroupSpecs"][0]
            deleting = (group.get("scaleStrategy") or {}).get("workersToDelete") or []
            history.append((group["replicas"], list(deleting)))

    store.add_listener(record)
    store.create("rayclusters", _autoscaled())
    await until(store, lambda: any(
        p["metadata"]["labels"]["ray.io/node-type"] == "head"
        and condition(p, "Ready").get("status") == "True" for p in pods_of(store, "demo")
    ) or None)  # fmt: skip
    assert _group(ray_sim)["replicas"] == 0

    _demand(ray_sim, 2)
    workers = await until(store, lambda: len(w := _ready_workers(ray_sim)) == 2 and w)
    assert _group(ray_sim)["replicas"] == 2

    _demand(ray_sim, None)  # the work is done: both workers go idle
    await until(store, lambda: _workers(ray_sim) == [] or None, deadline=15)
    assert (0, workers) in history  # one patch: replicas 0 and workersToDelete = the idle pods
    await until(store, lambda: _group(ray_sim)["scaleStrategy"]["workersToDelete"] == [] or None)
    deleted = [e["message"] for e in events_for(store, "demo") if e["reason"] == "DeletedWorkerPod"]
    assert sorted(deleted) == [f"Deleted pod default/{w}" for w in workers]
    assert _group(ray_sim)["replicas"] == 0


async def test_demand_beyond_max_replicas_is_capped(ray_sim: Simulation) -> None:
    store = ray_sim.store
    store.create("rayclusters", _autoscaled())
    _demand(ray_sim, 7)
    await until(store, lambda: _group(ray_sim)["replicas"] == 3 or None)
    await until(store, lambda: len(_workers(ray_sim)) == 3 or None)


async def test_workers_stay_up_to_min_replicas_when_idle(ray_sim: Simulation) -> None:
    store = ray_sim.store
    rc = _autoscaled()
    rc["spec"]["workerGroupSpecs"][0].update(replicas=1, minReplicas=1)
    store.create("rayclusters", rc)
    _demand(ray_sim, 3)
    await until(store, lambda: len(_ready_workers(ray_sim)) == 3 or None)
    _demand(ray_sim, 0)
    await until(store, lambda: len(_workers(ray_sim)) == 1 or None, deadline=15)
    assert _group(ray_sim)["replicas"] == 1


async def test_ray_scale_up_of_a_gpu_group_is_served_by_the_node_autoscaler() -> None:
    config = SimConfig.from_mapping({
        "ray_autoscaler": True,
        "node_pools": [{"name": "gpu-a100", "max": 2, "scale_up_seconds": 8,
                        "node": {"cpu": "94", "memory": "1300Gi", "gpus": 8,
                                 "labels": {"cloud.google.com/gke-accelerator": "nvidia-a100"},
                                 "taints": [{"key": "nvidia.com/gpu", "value": "present"}]}}],
    })  # fmt: skip
    simulation, task = await start_simulation(config)
    try:
        store = simulation.store
        store.create("rayclusters", _autoscaled(gpus=8, gpu_type="nvidia-a100"))
        _demand(simulation, 2)
        ready = await until(store, lambda: len(w := _ready_workers(simulation)) == 2 and w,
                            deadline=20)  # fmt: skip
        nodes = {store.get("pods", "default", w)["spec"]["nodeName"] for w in ready}
        assert len(nodes) == 2 and all(n.startswith("gke-sandbox-gpu-a100-") for n in nodes)
        scale_ups = [e["message"] for w in ready for e in events_for(store, w)
                     if e["reason"] == "TriggeredScaleUp"]  # fmt: skip
        assert scale_ups == ["pod triggered scale-up: [{gpu-a100 0->2 (max: 2)}]"] * 2
    finally:
        await stop_simulation(task)
