"""Node pools grow and shrink as cluster-autoscaler and Karpenter do, with their events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.sandbox.sim.node_pools import reasons_message, scale_up_info
from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simulation import Simulation

from .conftest import (
    SPEED,
    condition,
    events_for,
    pods_of,
    raycluster,
    start_simulation,
    stop_simulation,
    until,
)

A100 = {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def _config(autoscaler: str = "cluster-autoscaler", **pool: Any) -> SimConfig:
    """One CPU node plus an autoscaled 8×A100 pool that starts empty."""
    return SimConfig.from_mapping(
        {
            "nodes": [{"name": "cpu-node", "cpu": "16", "memory": "64Gi"}],
            "node_pools": [
                {
                    "name": "gpu-a100",
                    "min": 0,
                    "max": 1,
                    "autoscaler": autoscaler,
                    "scale_up_seconds": 8,
                    "scale_down_idle_seconds": 60,
                    "node": {"cpu": "94", "memory": "1300Gi", "gpus": 8, "labels": A100,
                             "taints": [GPU_TAINT]},
                }
                | pool
            ],
        }
    )  # fmt: skip


@pytest.fixture
async def ca_sim() -> AsyncIterator[Simulation]:
    simulation, task = await start_simulation(_config())
    yield simulation
    await stop_simulation(task)


@pytest.fixture
async def karpenter_sim() -> AsyncIterator[Simulation]:
    simulation, task = await start_simulation(_config("karpenter"))
    yield simulation
    await stop_simulation(task)


def _worker(sim: Simulation, name: str = "demo") -> dict[str, Any] | None:
    workers = [p for p in pods_of(sim.store, name)
               if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]  # fmt: skip
    return workers[0] if workers else None


def _reasons(sim: Simulation, pod: dict[str, Any]) -> list[str]:
    return [e["reason"] for e in events_for(sim.store, pod["metadata"]["name"])]


def _event(sim: Simulation, pod: dict[str, Any], reason: str) -> dict[str, Any] | None:
    events = [e for e in events_for(sim.store, pod["metadata"]["name"]) if e["reason"] == reason]
    return events[0] if events else None


def _pool_nodes(sim: Simulation) -> list[dict[str, Any]]:
    return [n for n in sim.store.list("nodes")[0] if n["metadata"]["name"] != "cpu-node"]


def _ready_worker(sim: Simulation) -> dict[str, Any] | None:
    worker = _worker(sim)
    return worker if worker and condition(worker, "Ready").get("status") == "True" else None


async def test_scale_from_zero_gpu_pool_triggers_scale_up_then_the_worker_becomes_ready(
    ca_sim: Simulation,
) -> None:
    store = ca_sim.store
    assert _pool_nodes(ca_sim) == []
    store.create("rayclusters", raycluster(gpus=1, gpu_type="nvidia-tesla-a100"))
    worker = await until(store, lambda: _worker(ca_sim))
    scale_up = await until(store, lambda: _event(ca_sim, worker, "TriggeredScaleUp"))
    assert scale_up["type"] == "Normal"
    assert scale_up["message"] == "pod triggered scale-up: [{gpu-a100 0->1 (max: 1)}]"
    assert scale_up["source"]["component"] == "cluster-autoscaler"
    node = await until(store, lambda: (nodes := _pool_nodes(ca_sim)) and nodes[0])
    assert condition(node, "Ready")["status"] == "False"  # registered first, NotReady
    assert {"key": "node.kubernetes.io/not-ready", "value": "",
            "effect": "NoSchedule"} in node["spec"]["taints"]  # fmt: skip
    assert node["metadata"]["labels"]["cloud.google.com/gke-nodepool"] == "gpu-a100"
    ready = await until(store, lambda: _ready_worker(ca_sim), deadline=20)
    assert ready["spec"]["nodeName"] == node["metadata"]["name"]
    node = store.get("nodes", None, node["metadata"]["name"])
    assert condition(node, "Ready")["status"] == "True"
    assert node["spec"]["taints"] == [GPU_TAINT]
    reasons = _reasons(ca_sim, ready)
    assert reasons.index("FailedScheduling") < reasons.index("TriggeredScaleUp")
    assert reasons.index("TriggeredScaleUp") < reasons.index("Scheduled")
    assert "nominatedNodeName" not in ready["status"]


async def test_pod_larger_than_the_node_template_does_not_trigger_scale_up(
    ca_sim: Simulation,
) -> None:
    store = ca_sim.store
    store.create("rayclusters", raycluster(gpus=16, gpu_type="nvidia-tesla-a100"))
    worker = await until(store, lambda: _worker(ca_sim))
    event = await until(store, lambda: _event(ca_sim, worker, "NotTriggerScaleUp"))
    assert event["type"] == "Normal"
    assert event["message"] == "pod didn't trigger scale-up: 1 Insufficient nvidia.com/gpu"
    assert _pool_nodes(ca_sim) == []
    assert condition(store.get("pods", "default", worker["metadata"]["name"]),
                     "PodScheduled")["reason"] == "Unschedulable"  # fmt: skip


async def test_pool_at_max_size_reports_max_node_group_size_reached(ca_sim: Simulation) -> None:
    store = ca_sim.store
    store.create("rayclusters", raycluster("first", gpus=8, gpu_type="nvidia-tesla-a100"))
    first = await until(store, lambda: _worker(ca_sim, "first"))
    await until(store, lambda: _event(ca_sim, first, "TriggeredScaleUp"))
    store.create("rayclusters", raycluster("second", gpus=8, gpu_type="nvidia-tesla-a100"))
    second = await until(store, lambda: _worker(ca_sim, "second"))
    event = await until(store, lambda: _event(ca_sim, second, "NotTriggerScaleUp"), deadline=20)
    assert event["message"] == "pod didn't trigger scale-up: 1 max node group size reached"
    assert len(_pool_nodes(ca_sim)) == 1


async def test_karpenter_nominates_a_nodeclaim_and_never_sets_nominated_node_name(
    karpenter_sim: Simulation,
) -> None:
    store = karpenter_sim.store
    store.create("rayclusters", raycluster(gpus=1, gpu_type="nvidia-tesla-a100"))
    worker = await until(store, lambda: _worker(karpenter_sim))
    nominated = await until(store, lambda: _event(karpenter_sim, worker, "Nominated"))
    assert nominated["type"] == "Normal"
    assert nominated["source"]["component"] == "karpenter"
    assert nominated["message"].startswith("Pod should schedule on: nodeclaim/gpu-a100-")
    claim = nominated["message"].removeprefix("Pod should schedule on: nodeclaim/")
    ready = await until(store, lambda: _ready_worker(karpenter_sim), deadline=20)
    assert ready["spec"]["nodeName"] == claim
    assert "nominatedNodeName" not in ready["status"]
    node = store.get("nodes", None, claim)
    assert node["metadata"]["labels"]["karpenter.sh/nodepool"] == "gpu-a100"
    assert node["metadata"]["labels"]["karpenter.sh/registered"] == "true"
    assert "TriggeredScaleUp" not in _reasons(karpenter_sim, ready)


async def test_karpenter_explains_a_pod_no_instance_type_can_hold(
    karpenter_sim: Simulation,
) -> None:
    store = karpenter_sim.store
    store.create("rayclusters", raycluster(gpus=16, gpu_type="nvidia-tesla-a100"))
    worker = await until(store, lambda: _worker(karpenter_sim))
    failed = await until(
        store,
        lambda: next((e for e in events_for(store, worker["metadata"]["name"])
                      if e["source"]["component"] == "karpenter"), None),
    )  # fmt: skip
    assert failed["type"] == "Warning" and failed["reason"] == "FailedScheduling"
    assert failed["message"].startswith(
        "Failed to schedule pod, no instance type has enough resources, requirements="
    )
    assert '"nvidia.com/gpu":"16"' in failed["message"]
    assert _pool_nodes(karpenter_sim) == []


@pytest.mark.parametrize(
    ("autoscaler", "reason", "message"),
    [
        ("cluster-autoscaler", "ScaleDown", "marked the node as toBeDeleted/unschedulable"),
        ("karpenter", "DisruptionTerminating", "Disrupting Node: Empty"),
    ],
)
async def test_an_idle_pool_node_is_removed_after_the_idle_time(
    autoscaler: str, reason: str, message: str
) -> None:
    simulation, task = await start_simulation(_config(autoscaler))
    try:
        store = simulation.store
        store.create("rayclusters", raycluster(gpus=1, gpu_type="nvidia-tesla-a100"))
        ready = await until(store, lambda: _ready_worker(simulation), deadline=20)
        node_name = ready["spec"]["nodeName"]
        store.delete("rayclusters", "default", "demo")
        await until(store, lambda: _pool_nodes(simulation) == [] or None, deadline=20)
        events = [e for e in events_for(store, node_name) if e["reason"] == reason]
        assert events[0]["message"] == message and events[0]["involvedObject"]["kind"] == "Node"
    finally:
        await stop_simulation(task)


async def test_a_pool_keeps_its_minimum_nodes_ready_from_the_start() -> None:
    simulation, task = await start_simulation(_config(min=1, max=2, scale_down_idle_seconds=1))
    try:
        nodes = _pool_nodes(simulation)
        assert len(nodes) == 1 and condition(nodes[0], "Ready")["status"] == "True"
        store = simulation.store
        store.create("rayclusters", raycluster(gpus=1, gpu_type="nvidia-tesla-a100"))
        ready = await until(store, lambda: _ready_worker(simulation))
        assert ready["spec"]["nodeName"] == nodes[0]["metadata"]["name"]
        assert "TriggeredScaleUp" not in _reasons(simulation, ready)
        store.delete("rayclusters", "default", "demo")
        await until(store, lambda: pods_of(store, "demo") == [] or None)
        # Idle for five simulated seconds, five times scale_down_idle_seconds: still there.
        later = asyncio.Event()
        simulation.timers.later(5.0, later.set)
        async with asyncio.timeout(5):
            await later.wait()
        assert [n["metadata"]["name"] for n in _pool_nodes(simulation)] == [
            nodes[0]["metadata"]["name"]
        ]
    finally:
        await stop_simulation(task)


async def test_a_restarted_simulation_adopts_the_pool_nodes_it_finds() -> None:
    config = _config(min=1, max=2)
    first, task = await start_simulation(config)
    store = first.store
    names = [n["metadata"]["name"] for n in _pool_nodes(first)]
    await stop_simulation(task)
    second = Simulation(store, config, speed=SPEED)
    task = asyncio.create_task(second.run())
    try:
        await second.started.wait()
        assert [n["metadata"]["name"] for n in _pool_nodes(second)] == names
        store.create("rayclusters", raycluster(gpus=1, gpu_type="nvidia-tesla-a100"))
        ready = await until(store, lambda: _ready_worker(second))
        assert ready["spec"]["nodeName"] == names[0]
    finally:
        await stop_simulation(task)


def test_reasons_are_counted_over_node_groups_as_cluster_autoscaler_prints_them() -> None:
    per_group = [["max node group size reached"], ["Insufficient nvidia.com/gpu"],
                 ["Insufficient nvidia.com/gpu"]]  # fmt: skip
    assert reasons_message(per_group) == (
        "2 Insufficient nvidia.com/gpu, 1 max node group size reached"
    )
    assert scale_up_info("gpu-a100", 0, 2, 4) == "[{gpu-a100 0->2 (max: 4)}]"
