"""The STATUS column ``kubectl get pods`` shows for the simulated pods at each stage of a
RayCluster's life: what a user watching a real KubeRay cluster would read."""

from __future__ import annotations

from datetime import UTC, datetime

from core.sandbox.apiserver.printers import pod_status_cells
from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE
from core.sandbox.sim.simulation import Simulation

from .conftest import pods_of, raycluster, until


def _cells(sim: Simulation, node_type: str, name: str = "demo") -> tuple[str, str, str] | None:
    for pod in pods_of(sim.store, name):
        if pod["metadata"]["labels"]["ray.io/node-type"] == node_type:
            return pod_status_cells(pod, datetime.now(UTC))
    return None


def _status_is(sim: Simulation, node_type: str, status: str) -> tuple[str, str, str] | None:
    cells = _cells(sim, node_type)
    return cells if cells is not None and cells[1] == status else None


async def test_workers_read_init_0_of_1_while_the_head_gcs_is_down(sim: Simulation) -> None:
    healthy = "rayproject/ray:2.53.0-py311"
    sim.store.create("rayclusters", raycluster(image=CRASHING_DEMO_IMAGE, worker_image=healthy))
    head = await until(sim.store, lambda: _status_is(sim, "head", "CrashLoopBackOff"))
    assert head is not None and head[0] == "0/1" and head[2].endswith(" ago)")
    worker = await until(sim.store, lambda: _status_is(sim, "worker", "Init:0/1"))
    assert worker == ("0/1", "Init:0/1", "0")


async def test_worker_image_that_cannot_be_pulled_reads_init_image_pull_back_off(
    sim: Simulation,
) -> None:
    sim.store.create("rayclusters", raycluster(worker_image="rayproject/ray:9.9.9"))
    worker = await until(sim.store, lambda: _status_is(sim, "worker", "Init:ImagePullBackOff"))
    assert worker == ("0/1", "Init:ImagePullBackOff", "0")


async def test_a_ready_cluster_reads_running_everywhere(sim: Simulation) -> None:
    sim.store.create("rayclusters", raycluster(workers=2))
    await until(sim.store, lambda: _status_is(sim, "head", "Running"))
    await until(
        sim.store,
        lambda: (
            len(pods_of(sim.store, "demo")) == 3
            and all(
                pod_status_cells(p, datetime.now(UTC)) == ("1/1", "Running", "0")
                for p in pods_of(sim.store, "demo")
            )
        ),
    )
