"""Replica changes reach the pods the way KubeRay applies them, with and without autoscaling."""

from __future__ import annotations

from typing import Any

from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE
from core.sandbox.sim.simulation import Simulation

from .conftest import condition, events_for, pods_of, raycluster, until


def _workers(sim: Simulation, name: str = "demo") -> list[dict[str, Any]]:
    return [p for p in pods_of(sim.store, name)
            if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]  # fmt: skip


def _set_group(sim: Simulation, **fields: Any) -> None:
    rc = sim.store.get("rayclusters", "default", "demo")
    rc["spec"]["workerGroupSpecs"][0].update(fields)
    sim.store.update("rayclusters", rc)


async def test_scale_up_then_down_without_autoscaling_deletes_surplus_workers(
    sim: Simulation,
) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1, max_workers=5))
    await until(store, lambda: len(_workers(sim)) == 1)
    _set_group(sim, replicas=3, minReplicas=3)
    await until(store, lambda: len(_workers(sim)) == 3)
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and r["status"].get("readyWorkerReplicas") == 3 and r,
        deadline=15,
    )  # fmt: skip
    assert rc["status"]["desiredWorkerReplicas"] == 3
    assert rc["status"]["observedGeneration"] == 2
    _set_group(sim, replicas=1, minReplicas=1)
    await until(store, lambda: len(_workers(sim)) == 1)
    deleted = [e for e in events_for(store, "demo") if e["reason"] == "DeletedWorkerPod"]
    assert len(deleted) == 2
    assert all(e["message"].startswith("Deleted Pod default/demo-workers-worker-") for e in deleted)


async def test_replicas_are_clamped_to_min_and_max(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1, max_workers=2))
    await until(store, lambda: len(_workers(sim)) == 1)
    _set_group(sim, replicas=7)
    await until(store, lambda: len(_workers(sim)) == 2)
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and r["metadata"]["generation"] == r["status"]["observedGeneration"] and r,
    )  # fmt: skip
    assert rc["status"]["desiredWorkerReplicas"] == 2
    assert rc["status"]["desiredCPU"] == "8"  # unclamped: head 1 + 7 × 1


async def test_with_autoscaling_the_operator_never_deletes_surplus_pods(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=3, min_workers=0, max_workers=3,
                                           autoscaling=True))  # fmt: skip
    await until(store, lambda: len(_workers(sim)) == 3)
    head = next(p for p in pods_of(store, "demo")
                if p["metadata"]["labels"]["ray.io/node-type"] == "head")  # fmt: skip
    assert [c["name"] for c in head["spec"]["containers"]] == ["ray-head", "autoscaler"]
    assert head["spec"]["serviceAccountName"] == "demo"
    assert store.get("roles", "default", "demo")["rules"]
    assert store.get("rolebindings", "default", "demo")["subjects"][0]["name"] == "demo"
    _set_group(sim, replicas=1)
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and r["status"].get("desiredWorkerReplicas") == 1 and r,
    )  # fmt: skip
    await sim.operator.queue.wait_idle()
    assert len(_workers(sim)) == 3
    victim = _workers(sim)[0]["metadata"]["name"]
    _set_group(sim, scaleStrategy={"workersToDelete": [victim]})
    await until(store, lambda: victim not in {w["metadata"]["name"] for w in _workers(sim)})
    await sim.operator.queue.wait_idle()
    assert len(_workers(sim)) == 2
    messages = [e["message"] for e in events_for(store, "demo")]
    assert f"Deleted pod default/{victim}" in messages
    assert "minWorkerReplicas" not in rc["status"]  # zero is omitted, as Go's omitempty does
    assert rc["status"]["maxWorkerReplicas"] == 3


async def test_suspend_deletes_all_pods_and_reports_suspended(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: len(pods_of(store, "demo")) == 2)
    store.merge_patch("rayclusters", "default", "demo", {"spec": {"suspend": True}})
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and r["status"].get("state") == "suspended" and r,
    )  # fmt: skip
    assert pods_of(store, "demo") == []
    assert condition(rc, "RayClusterSuspended")["status"] == "True"
    assert any(e["reason"] == "DeletedPod" for e in events_for(store, "demo"))


async def test_autoscaler_v2_pods_never_restart_and_failed_workers_are_replaced(
    sim: Simulation,
) -> None:
    store = sim.store
    rc = raycluster(workers=1, autoscaling=True, worker_image=CRASHING_DEMO_IMAGE)
    rc["spec"]["autoscalerOptions"] = {"version": "v2"}
    store.create("rayclusters", rc)
    deleted = await until(
        store,
        lambda: [e for e in events_for(store, "demo") if e["reason"] == "DeletedWorkerPod"],
        deadline=15,
    )
    assert deleted[0]["message"].startswith("Deleted worker Pod default/demo-workers-worker-")
    assert deleted[0]["message"].endswith(
        "Pod status: Failed; Pod restart policy: Never; Ray container terminated status: "
        "&ContainerStateTerminated{ExitCode:1,Reason:Error}"
    )
    await until(store, lambda: len(_workers(sim)) == 1)
    head = next(p for p in pods_of(store, "demo")
                if p["metadata"]["labels"]["ray.io/node-type"] == "head")  # fmt: skip
    assert head["spec"]["restartPolicy"] == "Never"
    assert {"name": "RAY_enable_autoscaler_v2", "value": "true"} in (
        head["spec"]["containers"][0]["env"]
    )
