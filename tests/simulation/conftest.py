"""A store with the simulation running on the test's loop, and condition waits without sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, TypeVar

import pytest

from core.sandbox.apiserver.store import Store
from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simulation import Simulation

SPEED = 50.0
T = TypeVar("T")


async def until(
    store: Any, check: Callable[[], T | Literal[False] | None], *, deadline: float = 10.0
) -> T:
    """Re-evaluate ``check`` after every store change until it returns something truthy."""
    changed = asyncio.Event()
    unsubscribe = store.add_listener(lambda *_: changed.set())
    try:
        async with asyncio.timeout(deadline):
            while True:
                result = check()
                if result:
                    return result  # truthy, so neither False nor None
                changed.clear()
                await changed.wait()
    finally:
        unsubscribe()


async def start_simulation(
    config: SimConfig | None = None, *, speed: float = SPEED
) -> tuple[Simulation, asyncio.Task[None]]:
    store = Store(seed=1)
    for ns in ("default", "team-a"):
        store.create("namespaces", {"metadata": {"name": ns}})
    simulation = Simulation(store, config, speed=speed)
    task = asyncio.create_task(simulation.run(), name="test-simulation")
    await simulation.started.wait()
    return simulation, task


async def stop_simulation(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation, task = await start_simulation()
    yield simulation
    await stop_simulation(task)


def raycluster(
    name: str = "demo",
    *,
    namespace: str = "default",
    workers: int = 1,
    gpus: int = 0,
    gpu_type: str | None = None,
    image: str = "rayproject/ray:2.53.0-py311",
    worker_image: str | None = None,
    autoscaling: bool = False,
    min_workers: int | None = None,
    max_workers: int | None = None,
) -> dict[str, Any]:
    """A RayCluster like the ones krayne-bot (and KubeRay's samples) create."""
    head_resources = {"cpu": "1", "memory": "4Gi"}
    worker_resources: dict[str, Any] = {"cpu": "1", "memory": "2Gi"}
    if gpus:
        worker_resources["nvidia.com/gpu"] = gpus
    worker_spec: dict[str, Any] = {
        "containers": [
            {
                "name": "ray-worker",
                "image": worker_image or image,
                "resources": {"limits": worker_resources, "requests": worker_resources},
            }
        ]
    }
    if gpu_type:
        worker_spec["nodeSelector"] = {"cloud.google.com/gke-accelerator": gpu_type}
    spec: dict[str, Any] = {
        "rayVersion": "2.53.0",
        "enableInTreeAutoscaling": autoscaling,
        "headGroupSpec": {
            "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "ray-head",
                            "image": image,
                            "ports": [
                                {"name": "gcs-server", "containerPort": 6379},
                                {"name": "dashboard", "containerPort": 8265},
                                {"name": "client", "containerPort": 10001},
                            ],
                            "resources": {"limits": head_resources, "requests": head_resources},
                        }
                    ]
                }
            },
        },
        "workerGroupSpecs": [
            {
                "groupName": "workers",
                "replicas": workers,
                "minReplicas": workers if min_workers is None else min_workers,
                "maxReplicas": max(workers, 1) if max_workers is None else max_workers,
                "rayStartParams": {},
                "template": {"spec": worker_spec},
            }
        ],
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "krayne"}},
        "spec": spec,
    }  # fmt: skip


def pods_of(store: Any, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = store.list(
        "pods", namespace, label_selector=f"ray.io/cluster={name}"
    )[0]
    return pods


def events_for(store: Any, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    items, _ = store.list("events", namespace)
    return [e for e in items if e["involvedObject"]["name"] == name]


def container_status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    status = pod.get("status") or {}
    statuses: list[dict[str, Any]] = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for cs in statuses:
        if cs["name"] == name:
            return cs
    return {}


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = (obj.get("status") or {}).get("conditions") or []
    for cond in conditions:
        if cond["type"] == kind:
            return cond
    return {}
