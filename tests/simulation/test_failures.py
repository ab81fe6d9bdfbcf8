"""Failures look like a real cluster's: unschedulable, image pulls, crash loops, quota, bad spec."""

from __future__ import annotations

from typing import Any

import pytest

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE, OOM_DEMO_IMAGE, SimConfig
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


def _worker(sim: Simulation, name: str = "demo") -> dict[str, Any] | None:
    pods = pods_of(sim.store, name)
    return next((p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "worker"), None)


def _head(sim: Simulation, name: str = "demo") -> dict[str, Any] | None:
    pods = pods_of(sim.store, name)
    return next((p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "head"), None)


def _waiting(pod: dict[str, Any] | None, container: str) -> str:
    state = container_status(pod or {}, container).get("state") or {}
    return str((state.get("waiting") or {}).get("reason", ""))


async def test_worker_asking_for_64_gpus_is_unschedulable_with_the_schedulers_message(
    sim: Simulation,
) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=1, gpus=64))
    worker = await until(
        store, lambda: (w := _worker(sim)) and condition(w, "PodScheduled").get("status") == "False"
        and w,
    )  # fmt: skip
    scheduled = condition(worker, "PodScheduled")
    expected = (
        "0/5 nodes are available: 5 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are "
        "available: 5 No preemption victims found for incoming pod."
    )
    assert scheduled["reason"] == "Unschedulable"
    assert scheduled["message"] == expected
    assert worker["status"]["phase"] == "Pending" and "nodeName" not in worker["spec"]
    failed = [e for e in events_for(store, worker["metadata"]["name"])
              if e["reason"] == "FailedScheduling"]  # fmt: skip
    assert failed and failed[0]["type"] == "Warning"
    assert failed[0]["message"] == expected
    assert failed[0]["source"]["component"] == "default-scheduler"
    await until(store, lambda: condition(_head(sim) or {}, "Ready").get("status") == "True")
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and condition(r, "HeadPodReady").get("status") == "True" and r,
    )  # fmt: skip
    assert rc["status"].get("state", "") == ""
    assert condition(rc, "RayClusterProvisioned")["status"] == "False"
    assert rc["status"]["desiredGPU"] == "64"
    assert "readyWorkerReplicas" not in rc["status"]


async def test_unschedulable_pod_is_placed_once_capacity_frees_up() -> None:
    config = SimConfig.model_validate(
        {"nodes": [{"name": "small", "cpu": "2500m", "memory": "16Gi"}]}
    )
    sim, task = await start_simulation(config)
    try:
        store = sim.store
        store.create("rayclusters", raycluster("first", workers=1))
        await until(store, lambda: all(p["spec"].get("nodeName") for p in pods_of(store, "first"))
                    and len(pods_of(store, "first")) == 2)  # fmt: skip
        store.create("rayclusters", raycluster("second", workers=0))
        head = await until(
            store, lambda: (h := _head(sim, "second")) and condition(h, "PodScheduled").get(
                "reason") == "Unschedulable" and h
        )  # fmt: skip
        assert condition(head, "PodScheduled")["message"].startswith(
            "0/1 nodes are available: 1 Insufficient cpu."
        )
        store.delete("rayclusters", "default", "first")
        await until(store, lambda: (_head(sim, "second") or {}).get("spec", {}).get("nodeName"))
    finally:
        await stop_simulation(task)


async def test_unknown_tag_reports_err_image_pull_then_image_pull_back_off(sim: Simulation) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(image="rayproject/ray:9.9.9"))
    head = await until(
        store, lambda: _waiting(_head(sim), "ray-head") == "ErrImagePull" and _head(sim)
    )
    message = container_status(head, "ray-head")["state"]["waiting"]["message"]
    assert message == (
        "rpc error: code = NotFound desc = failed to pull and unpack image "
        '"docker.io/rayproject/ray:9.9.9": failed to resolve reference '
        '"docker.io/rayproject/ray:9.9.9": docker.io/rayproject/ray:9.9.9: not found'
    )
    name = head["metadata"]["name"]
    with pytest.raises(ApiError) as info:
        sim.read_log("default", name, "ray-head")
    assert info.value.code == 400
    head = await until(
        store, lambda: _waiting(_head(sim), "ray-head") == "ImagePullBackOff" and _head(sim)
    )
    backoff = container_status(head, "ray-head")["state"]["waiting"]["message"]
    assert backoff.startswith(
        'Back-off pulling image "rayproject/ray:9.9.9": ErrImagePull: rpc error'
    )
    with pytest.raises(ApiError, match="trying and failing to pull image"):
        sim.read_log("default", name, "ray-head")
    messages = [(e["reason"], e["message"]) for e in events_for(store, name)]
    assert ("Failed", f'Failed to pull image "rayproject/ray:9.9.9": {message}') in messages
    assert ("Failed", "Error: ErrImagePull") in messages
    assert ("BackOff", 'Back-off pulling image "rayproject/ray:9.9.9"') in messages
    assert ("Failed", "Error: ImagePullBackOff") in messages
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and condition(r, "HeadPodReady").get("reason") == "ImagePullBackOff" and r,
    )  # fmt: skip
    assert (
        "ray-head: ImagePullBackOff: Back-off pulling image"
        in (condition(rc, "HeadPodReady")["message"])
    )
    worker = _worker(sim)
    assert worker is not None and worker["status"]["phase"] == "Pending"


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("krayne/private-ray:2.53.0", "pull access denied, repository does not exist or may "
                                      "require authorization"),
        ("ghcr.io/acme/ray:1", "401 Unauthorized"),
        ("registry.internal.example:5000/ray:1", "i/o timeout"),
    ],
    ids=["denied", "unauthorized", "timeout"],
)  # fmt: skip
async def test_worker_image_pull_failures_carry_the_runtimes_message(
    sim: Simulation, image: str, fragment: str
) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(worker_image=image))
    worker = await until(
        store, lambda: _waiting(_worker(sim), "wait-gcs-ready") == "ErrImagePull" and _worker(sim)
    )
    assert fragment in container_status(worker, "wait-gcs-ready")["state"]["waiting"]["message"]
    assert _waiting(worker, "ray-worker") == "PodInitializing"


async def test_unparsable_image_is_invalid_image_name(sim: Simulation) -> None:
    sim.store.create("rayclusters", raycluster(worker_image="rayproject/Ray:2.53.0"))
    worker = await until(
        sim.store, lambda: _waiting(_worker(sim), "wait-gcs-ready") == "InvalidImageName"
        and _worker(sim),
    )  # fmt: skip
    reasons = {e["reason"] for e in events_for(sim.store, worker["metadata"]["name"])}
    assert {"InspectFailed", "Failed"} <= reasons


async def test_crashing_image_crash_loops_with_growing_restart_count_and_previous_logs(
    sim: Simulation,
) -> None:
    store = sim.store
    store.create("rayclusters", raycluster(workers=0, image=CRASHING_DEMO_IMAGE))
    head = await until(
        store,
        lambda: (h := _head(sim)) and _waiting(h, "ray-head") == "CrashLoopBackOff"
        and container_status(h, "ray-head")["restartCount"] >= 2 and h,
        deadline=15,
    )  # fmt: skip
    status = container_status(head, "ray-head")
    last = status["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("Error", 1)
    assert status["state"]["waiting"]["message"].startswith("back-off 20s restarting failed "
                                                            "container=ray-head pod=")  # fmt: skip
    assert head["status"]["phase"] == "Running"
    assert condition(head, "Ready")["status"] == "False"
    name = head["metadata"]["name"]
    previous = sim.read_log("default", name, "ray-head", previous=True)
    assert previous.rstrip().endswith("No module named 'krayne_missing_dependency'")
    assert sim.read_log("default", name, "ray-head", previous=True, tail_lines=1) == (
        "ModuleNotFoundError: No module named 'krayne_missing_dependency'\n"
    )
    back_off = [e for e in events_for(store, name) if e["reason"] == "BackOff"]
    assert back_off[0]["message"].startswith("Back-off restarting failed container ray-head in pod")
    rc = store.get("rayclusters", "default", "demo")
    assert condition(rc, "HeadPodReady")["status"] == "False"


async def test_oom_image_is_oom_killed_with_exit_code_137(sim: Simulation) -> None:
    sim.store.create("rayclusters", raycluster(workers=0, image=OOM_DEMO_IMAGE))
    head = await until(
        sim.store,
        lambda: (h := _head(sim)) and container_status(h, "ray-head").get("lastState", {}).get(
            "terminated") and h,
    )  # fmt: skip
    last = container_status(head, "ray-head")["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)


async def test_logs_of_a_healthy_container_have_no_previous(sim: Simulation) -> None:
    sim.store.create("rayclusters", raycluster(workers=0))
    ready = lambda: condition(_head(sim) or {}, "Ready").get("status") == "True"  # noqa: E731
    await until(sim.store, ready)
    head = _head(sim)
    assert head is not None
    name = head["metadata"]["name"]
    assert "Ray runtime started." in sim.read_log("default", name, "ray-head")
    with pytest.raises(ApiError) as info:
        sim.read_log("default", name, "ray-head", previous=True)
    assert info.value.message == (
        f'previous terminated container "ray-head" in pod "{name}" not found'
    )
    with pytest.raises(ApiError, match="is not valid for pod"):
        sim.read_log("default", name, "nope")
    with pytest.raises(ApiError) as missing:
        sim.read_log("default", "no-such-pod", "ray-head")
    assert missing.value.code == 404


async def test_namespace_pod_quota_sets_replica_failure_and_warns() -> None:
    config = SimConfig.model_validate({"quotas": {"max_pods": {"team-a": 2}}})
    sim, task = await start_simulation(config)
    try:
        store = sim.store
        store.create("rayclusters", raycluster(namespace="team-a", workers=3))
        rc = await until(
            store,
            lambda: (r := store.get("rayclusters", "team-a", "demo"))
            and condition(r, "ReplicaFailure").get("status") == "True" and r,
        )  # fmt: skip
        failure = condition(rc, "ReplicaFailure")
        assert failure["reason"] == "FailedCreateWorkerPod"
        assert failure["message"].startswith('FailedCreateWorkerPod\npods "demo-workers-worker-')
        assert "is forbidden: exceeded quota: pods-quota, requested: pods=1, used: pods=2, " \
               "limited: pods=2" in failure["message"]  # fmt: skip
        warnings = [e for e in events_for(store, "demo", "team-a")
                    if e["reason"] == "FailedToCreateWorkerPod"]  # fmt: skip
        assert warnings[0]["type"] == "Warning"
        assert warnings[0]["message"].startswith(
            'Failed to create worker Pod for the cluster team-a/demo, pods "demo-workers-worker-'
        )
        assert len(pods_of(store, "demo", "team-a")) == 2
    finally:
        await stop_simulation(task)


async def test_name_longer_than_53_characters_gets_invalid_metadata_event_and_no_status(
    sim: Simulation,
) -> None:
    store = sim.store
    name = "a" * 54
    store.create("rayclusters", raycluster(name))
    event = await until(
        store,
        lambda: [e for e in events_for(store, name) if e["reason"] == "InvalidRayClusterMetadata"],
    )
    assert event[0]["type"] == "Warning"
    assert event[0]["message"] == (
        f"The RayCluster metadata is invalid default/{name}: RayCluster name should be no more "
        "than 53 characters"
    )
    await sim.operator.queue.wait_idle()
    assert "status" not in store.get("rayclusters", "default", name)
    assert pods_of(store, name) == []


async def test_unschedulable_pods_are_retried_every_five_minutes() -> None:
    sim, task = await start_simulation(speed=2000)
    try:
        store = sim.store
        store.create("rayclusters", raycluster(workers=1, gpus=64))

        def failed_scheduling_count() -> int:
            worker = _worker(sim)
            if worker is None:
                return 0
            events = events_for(store, worker["metadata"]["name"])
            return sum(e["count"] for e in events if e["reason"] == "FailedScheduling")

        await until(store, lambda: failed_scheduling_count() >= 3, deadline=10)
    finally:
        await stop_simulation(task)


async def test_only_the_ray_container_of_a_crashing_head_crashes(sim: Simulation) -> None:
    sim.store.create(
        "rayclusters", raycluster(workers=0, image=CRASHING_DEMO_IMAGE, autoscaling=True)
    )
    head = await until(
        sim.store,
        lambda: (h := _head(sim)) and container_status(h, "ray-head").get("restartCount", 0) >= 1
        and container_status(h, "autoscaler").get("ready") and h,
    )  # fmt: skip
    assert container_status(head, "autoscaler")["restartCount"] == 0
    assert "running" in container_status(head, "autoscaler")["state"]


async def test_missing_service_account_sets_replica_failure_like_kuberay(sim: Simulation) -> None:
    store = sim.store
    rc = raycluster(workers=1)
    rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["serviceAccountName"] = "ray-workers"
    store.create("rayclusters", rc)
    rc = await until(
        store,
        lambda: (r := store.get("rayclusters", "default", "demo"))
        and condition(r, "ReplicaFailure").get("status") == "True" and r,
    )  # fmt: skip
    failure = condition(rc, "ReplicaFailure")
    assert failure["reason"] == "FailedCreateWorkerPod"
    assert failure["message"] == (
        'FailedCreateWorkerPod\npods "demo-workers-worker-" is forbidden: error looking up '
        'service account default/ray-workers: serviceaccount "ray-workers" not found'
    )
    warnings = [e for e in events_for(store, "demo") if e["reason"] == "FailedToCreateWorkerPod"]
    assert warnings[0]["message"] == (
        'Failed to create worker Pod for the cluster default/demo, pods "demo-workers-worker-" '
        "is forbidden: error looking up service account default/ray-workers: "
        'serviceaccount "ray-workers" not found'
    )
    assert [p["metadata"]["labels"]["ray.io/node-type"] for p in pods_of(store, "demo")] == ["head"]
    store.create("serviceaccounts", {"metadata": {"name": "ray-workers", "namespace": "default"}})
    await until(store, lambda: len(pods_of(store, "demo")) == 2)
