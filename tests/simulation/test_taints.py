"""GPU taints and the ExtendedResourceToleration admission plugin, on and off."""

from __future__ import annotations

from typing import Any

from core.sandbox.sim.simconfig import SimConfig

from .conftest import condition, start_simulation, stop_simulation, until

L4 = {"cloud.google.com/gke-accelerator": "nvidia-l4"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _gpu_pod(name: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    limits = {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}
    spec: dict[str, Any] = {
        "containers": [{"name": "cuda", "image": "rayproject/ray:2.53.0-py311-gpu",
                        "resources": {"limits": limits, "requests": limits}}],
        "nodeSelector": L4,
    }  # fmt: skip
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def _scheduled(store: Any, name: str) -> dict[str, Any] | None:
    pod: dict[str, Any] = store.get("pods", "default", name)
    return pod if condition(pod, "PodScheduled").get("status") in ("True", "False") else None


async def test_without_extended_resource_toleration_a_gpu_pod_needs_its_own_toleration() -> None:
    config = SimConfig.from_mapping({"extended_resource_toleration": False})
    simulation, task = await start_simulation(config)
    try:
        store = simulation.store
        created = store.create("pods", _gpu_pod("no-toleration"))
        assert "tolerations" not in created["spec"]  # the API server adds nothing
        pod = await until(store, lambda: _scheduled(store, "no-toleration"))
        scheduled = condition(pod, "PodScheduled")
        assert scheduled["reason"] == "Unschedulable"
        assert scheduled["message"] == (
            "0/5 nodes are available: 2 node(s) had untolerated taint {nvidia.com/gpu: present}, "
            "3 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are "
            "available: 5 Preemption is not helpful for scheduling."
        )
        store.create("pods", _gpu_pod("tolerates", [GPU_TOLERATION]))
        pod = await until(store, lambda: _scheduled(store, "tolerates"))
        assert condition(pod, "PodScheduled")["status"] == "True"
        assert pod["spec"]["nodeName"].startswith("gke-sandbox-gpu-pool-")
    finally:
        await stop_simulation(task)


async def test_by_default_the_api_server_adds_the_gpu_toleration_as_on_gke() -> None:
    simulation, task = await start_simulation()
    try:
        store = simulation.store
        created = store.create("pods", _gpu_pod("gke-style"))
        assert created["spec"]["tolerations"] == [GPU_TOLERATION]
        cpu_only = _gpu_pod("cpu-only")
        cpu_only["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
        assert "tolerations" not in store.create("pods", cpu_only)["spec"]
        pod = await until(store, lambda: _scheduled(store, "gke-style"))
        assert condition(pod, "PodScheduled")["status"] == "True"
    finally:
        await stop_simulation(task)
