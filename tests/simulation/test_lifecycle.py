"""A RayCluster in the sandbox goes through KubeRay's real states: pods, Service, status, events."""

from __future__ import annotations

import asyncio

from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simulation import Simulation

from .conftest import (
    condition,
    container_status,
    events_for,
    pods_of,
    raycluster,
    start_simulation,
    stop_simulation,
    until,
)


def _ready(sim: Simulation, name: str = "demo", namespace: str = "default") -> bool:
    rc = sim.store.get("rayclusters", namespace, name)
    return (rc.get("status") or {}).get("state") == "ready"


async def test_cluster_becomes_ready_with_kuberay_pods_service_and_status(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=2))
    await until(store, lambda: _ready(sim))

    pods = pods_of(store, "demo")
    heads = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "head"]
    workers = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]
    assert len(heads) == 1 and len(workers) == 2
    head = heads[0]
    assert head["metadata"]["name"].startswith("demo-head-")
    assert head["metadata"]["labels"] | {
        "ray.io/cluster": "demo", "ray.io/group": "headgroup", "ray.io/is-ray-node": "yes",
        "ray.io/identifier": "demo-head", "app.kubernetes.io/created-by": "kuberay-operator",
    } == head["metadata"]["labels"]  # fmt: skip
    assert all(w["metadata"]["name"].startswith("demo-workers-worker-") for w in workers)
    assert all(w["metadata"]["labels"]["ray.io/group"] == "workers" for w in workers)
    owner = head["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "RayCluster" and owner["controller"] is True
    assert head["status"]["phase"] == "Running" and head["spec"]["nodeName"]
    assert condition(head, "Ready")["status"] == "True"
    assert container_status(workers[0], "wait-gcs-ready")["state"]["terminated"]["reason"] == (
        "Completed"
    )

    service = store.get("services", "default", "demo-head-svc")
    assert service["spec"]["clusterIP"] == "None"
    assert {p["name"] for p in service["spec"]["ports"]} == {
        "gcs-server", "dashboard", "client", "metrics"
    }  # fmt: skip

    status = store.get("rayclusters", "default", "demo")["status"]
    assert status["readyWorkerReplicas"] == 2
    assert status["availableWorkerReplicas"] == 2
    assert status["desiredWorkerReplicas"] == 2
    assert status["minWorkerReplicas"] == 2 and status["maxWorkerReplicas"] == 2
    assert (status["desiredCPU"], status["desiredMemory"], status["desiredGPU"]) == (
        "3",
        "8Gi",
        "0",
    )
    assert status["endpoints"] == {"gcs-server": "6379", "dashboard": "8265", "client": "10001",
                                   "metrics": "8080"}  # fmt: skip
    assert status["head"] == {
        "podName": head["metadata"]["name"], "podIP": head["status"]["podIP"],
        "serviceName": "demo-head-svc", "serviceIP": head["status"]["podIP"],
    }  # fmt: skip
    assert status["observedGeneration"] == 1
    assert condition({"status": status}, "HeadPodReady")["reason"] == "HeadPodRunningAndReady"
    provisioned = condition({"status": status}, "RayClusterProvisioned")
    assert provisioned["status"] == "True"
    assert provisioned["reason"] == "AllPodRunningAndReadyFirstTime"
    assert "stateTransitionTimes" in status and "lastUpdateTime" in status

    reasons = [e["reason"] for e in events_for(store, "demo")]
    assert reasons[:3] == ["CreatedService", "CreatedHeadPod", "CreatedWorkerPod"]
    head_events = [(e["reason"], e["message"]) for e in events_for(store, head["metadata"]["name"])]
    assert [r for r, _ in head_events] == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    assert head_events[0][1].startswith(f"Successfully assigned default/{head['metadata']['name']}")
    assert head_events[1][1] == 'Pulling image "rayproject/ray:2.53.0-py311"'
    assert head_events[3][1] == "Created container: ray-head"
    assert head_events[4][1] == "Started container ray-head"


async def test_workers_wait_in_init_until_the_head_is_ready() -> None:
    config = SimConfig.model_validate({"timings": {"head_ready": 30.0}})
    sim, task = await start_simulation(config, speed=20)
    try:
        store = sim.store
        store.create("rayclusters", raycluster(workers=1))

        def head_running_worker_initialising() -> bool:
            pods = pods_of(store, "demo")
            head = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "head"]
            work = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]
            return bool(
                head and work and head[0]["status"]["phase"] == "Running"
                and "running" in container_status(work[0], "wait-gcs-ready").get("state", {})
            )  # fmt: skip

        await until(store, head_running_worker_initialising)
        worker = next(p for p in pods_of(store, "demo")
                      if p["metadata"]["labels"]["ray.io/node-type"] == "worker")  # fmt: skip
        assert worker["status"]["phase"] == "Pending"
        assert condition(worker, "Initialized")["reason"] == "ContainersNotInitialized"
        assert container_status(worker, "ray-worker")["state"]["waiting"]["reason"] == (
            "PodInitializing"
        )
        log = sim.read_log("default", worker["metadata"]["name"], "wait-gcs-ready")
        assert log.startswith("0 seconds elapsed: Waiting for GCS to be ready.\n")
        rc = store.get("rayclusters", "default", "demo")
        assert rc["status"]["conditions"][0]["type"] == "HeadPodReady"
        assert rc["status"].get("state", "") == ""
        await until(store, lambda: _ready(sim), deadline=15)
        done = sim.read_log("default", worker["metadata"]["name"], "wait-gcs-ready")
        assert done.endswith("GCS is ready.\n")
    finally:
        await stop_simulation(task)


async def test_deleting_the_cluster_cascades_to_pods_and_service(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    names = [p["metadata"]["name"] for p in pods_of(store, "demo")]
    store.delete("rayclusters", "default", "demo")
    assert pods_of(store, "demo") == []
    assert store.list("services", "default")[0] == []
    killing = await until(
        store,
        lambda: [e for n in names for e in events_for(store, n) if e["reason"] == "Killing"],
    )
    assert {e["message"] for e in killing} >= {"Stopping container ray-head",
                                               "Stopping container ray-worker"}  # fmt: skip


async def test_a_deleted_worker_pod_is_recreated(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    worker = next(p["metadata"]["name"] for p in pods_of(store, "demo")
                  if p["metadata"]["labels"]["ray.io/node-type"] == "worker")  # fmt: skip
    store.delete("pods", "default", worker)

    def replaced() -> bool:
        workers = [p for p in pods_of(store, "demo")
                   if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]  # fmt: skip
        return len(workers) == 1 and workers[0]["metadata"]["name"] != worker

    await until(store, replaced)
    # state stays "ready" (sticky) even while the replacement starts, as in KubeRay
    assert store.get("rayclusters", "default", "demo")["status"]["state"] == "ready"


async def test_status_is_written_only_when_it_changes(sim: Simulation) -> None:
    store = sim.store
    writes: list[str] = []
    store.add_listener(lambda ev, res, obj: writes.append(ev) if res == "rayclusters" else None)
    store.create("rayclusters", raycluster(workers=1))
    await until(store, lambda: _ready(sim))
    # one write per visible change (head pod/IP, readiness, workers...), not one per pod update
    assert len(writes) < 15
    settled = len(writes)
    store.merge_patch("rayclusters", "default", "demo", {"metadata": {"annotations": {"a": "b"}}})
    await asyncio.wait_for(sim.operator.queue.wait_idle(), 5)
    assert len(writes) == settled + 1  # the annotation itself; the reconcile wrote nothing


async def test_shutdown_cancels_every_timer() -> None:
    sim, task = await start_simulation()
    sim.store.create("rayclusters", raycluster(workers=3))
    await until(sim.store, lambda: sim.timers.pending > 0)
    await stop_simulation(task)
    assert sim.timers.pending == 0
    assert task.cancelled()


async def test_plain_pods_are_scheduled_and_run_too(sim: Simulation) -> None:
    """`kubectl run web --image=nginx` works in the sandbox: not only KubeRay's pods."""
    store = sim.store
    store.create("pods", {"metadata": {"name": "web", "namespace": "default"},
                          "spec": {"containers": [{"name": "web", "image": "nginx"}]}})  # fmt: skip
    pinned = {"metadata": {"name": "pinned", "namespace": "default"},
              "spec": {"nodeName": sim.config.nodes[0].name,
                       "containers": [{"name": "c", "image": "busybox:1.36"}]}}  # fmt: skip
    store.create("pods", pinned)

    def running(name: str) -> bool:
        pod = store.get("pods", "default", name)
        return condition(pod, "Ready").get("status") == "True"

    await until(store, lambda: running("web") and running("pinned"))
    assert store.get("pods", "default", "web")["spec"]["nodeName"]
    pulls = [e["message"] for e in events_for(store, "web") if e["reason"] == "Pulling"]
    assert pulls == ['Pulling image "nginx"']


async def test_the_newest_ray_release_image_runs(sim: Simulation) -> None:
    """The Krayne SDK's default image (Ray 2.60.0, Python 3.12) pulls and the cluster is ready."""
    store = sim.store
    store.create("rayclusters", raycluster(workers=1, image="rayproject/ray:2.60.0-py312"))
    await until(store, lambda: _ready(sim))
