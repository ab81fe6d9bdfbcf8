"""The pods, Service and status the simulated operator builds match KubeRay v1.5.1's."""

from __future__ import annotations

from typing import Any

import pytest

from core.sandbox.sim.kuberay_pods import (
    build_head_pod,
    build_head_service,
    build_worker_pod,
    desired_replicas,
    pod_generate_name,
    validate,
    validate_metadata,
)
from core.sandbox.sim.kuberay_status import (
    calculate_status,
    head_pod_ready_condition,
    status_changed,
)

from .conftest import raycluster

NOW = "2026-11-25T15:00:00Z"
LATER = "2026-11-25T15:00:09Z"


def _rc(**kwargs: Any) -> dict[str, Any]:
    rc = raycluster(**kwargs)
    rc["metadata"].update(uid="0f1e2d3c-0000-4000-8000-000000000001", generation=1)
    return rc


def _pod(
    node_type: str, *, phase: str = "Running", ready: bool = True, **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"demo-{node_type}-abcde", "labels": {"ray.io/node-type": node_type}},
        "spec": {"containers": [{"name": f"ray-{node_type}"}]},
        "status": {"phase": phase, "podIP": "10.108.0.7",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                   **({} if ready else {"reason": "ContainersNotReady",
                                                         "message": "containers with unready "
                                                                    "status: [ray-head]"})}],
                   **status},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("demo", "demo-head-"),
        ("a" * 53, "a" * 50 + "-head-"),
        ("a" * 49 + "-bc", "a" * 49 + "-head-"),  # cut at 50 leaves a dash: trimmed
    ],
)
def test_pod_name_prefix_is_cut_to_50_characters(prefix: str, expected: str) -> None:
    assert pod_generate_name(prefix, "head") == expected


def test_head_pod_carries_kuberay_labels_command_probes_and_owner() -> None:
    pod = build_head_pod(_rc())
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["generateName"] == "demo-head-"
    assert meta["labels"] == {
        "ray.io/node-type": "head", "ray.io/group": "headgroup", "ray.io/cluster": "demo",
        "ray.io/is-ray-node": "yes", "ray.io/identifier": "demo-head",
        "app.kubernetes.io/name": "kuberay", "app.kubernetes.io/created-by": "kuberay-operator",
    }  # fmt: skip
    assert meta["ownerReferences"][0]["controller"] is True
    ray = spec["containers"][0]
    assert ray["command"] == ["/bin/bash", "-lc", "--"]
    assert ray["args"][0].startswith("ulimit -n 65536; ray start --head ")
    assert "--num-cpus=0" in ray["args"][0] and "--memory=4294967296" in ray["args"][0]
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in ray["ports"]
    assert "gcs_healthz" in ray["readinessProbe"]["exec"]["command"][2]
    assert {e["name"] for e in ray["env"]} >= {"RAY_CLUSTER_NAME", "RAY_ADDRESS", "RAY_PORT"}
    assert "initContainers" not in spec
    assert [c["name"] for c in spec["containers"]] == ["ray-head"]


def test_worker_pod_waits_for_gcs_with_an_init_container() -> None:
    rc = _rc(gpus=1, gpu_type="nvidia-l4")
    pod = build_worker_pod(rc, rc["spec"]["workerGroupSpecs"][0])
    assert pod["metadata"]["generateName"] == "demo-workers-worker-"
    init = pod["spec"]["initContainers"][0]
    assert init["name"] == "wait-gcs-ready"
    assert init["image"] == "rayproject/ray:2.53.0-py311"
    assert init["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert "demo-head-svc.default.svc.cluster.local:6379" in init["args"][0]
    assert pod["spec"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert "--num-gpus=1" in pod["spec"]["containers"][0]["args"][0]


def test_autoscaling_adds_the_sidecar_and_service_account() -> None:
    pod = build_head_pod(_rc(autoscaling=True))
    autoscaler = pod["spec"]["containers"][1]
    assert autoscaler["name"] == "autoscaler"
    assert autoscaler["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert "ray kuberay-autoscaler" in autoscaler["args"][0]
    assert pod["spec"]["serviceAccountName"] == "demo"
    assert "--no-monitor" in pod["spec"]["containers"][0]["args"][0]


def test_head_service_is_headless_with_container_ports_and_metrics() -> None:
    service = build_head_service(_rc())
    assert service["metadata"]["name"] == "demo-head-svc"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == {"ray.io/cluster": "demo", "ray.io/node-type": "head"}
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [
        ("gcs-server", 6379), ("dashboard", 8265), ("client", 10001), ("metrics", 8080)
    ]  # fmt: skip
    assert all(p["appProtocol"] == "tcp" for p in service["spec"]["ports"])


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda rc: rc["metadata"].update(name="x" * 54),
         "RayCluster name should be no more than 53 characters"),
        (lambda rc: rc["metadata"].update(name="1abc"),
         "RayCluster name should be a valid DNS1035 label: [a DNS-1035 label must consist"),
        (lambda rc: rc["spec"]["headGroupSpec"]["template"]["spec"].update(containers=[]),
         "headGroupSpec should have at least one container"),
        (lambda rc: rc["spec"]["headGroupSpec"]["rayStartParams"].update(labels="a=b"),
         "rayStartParams['labels'] is not supported for headGroupSpec"),
        (lambda rc: rc["spec"]["workerGroupSpecs"][0].update(suspend=True),
         "worker group workers can be suspended only when the RayJobDeletionPolicy"),
        (lambda rc: rc["spec"].update(enableInTreeAutoscaling=True,
                                      autoscalerOptions={"version": "v2"})
         or rc["spec"]["headGroupSpec"]["template"]["spec"].update(restartPolicy="Always"),
         "restartPolicy for head Pod should be Never or unset when using autoscaler V2"),
    ],
    ids=["long-name", "not-dns1035", "no-head-container", "labels-param", "suspended-group",
         "v2-restart-policy"],
)  # fmt: skip
def test_operator_validation_rejects_what_kuberay_rejects(mutate: Any, problem: str) -> None:
    rc = _rc()
    mutate(rc)
    found = validate_metadata(rc) or validate(rc)  # metadata first, as rayClusterReconcile does
    assert found is not None and found.startswith(problem)


def test_valid_cluster_passes_operator_validation() -> None:
    assert validate(_rc(autoscaling=True, gpus=2)) is None


@pytest.mark.parametrize(
    ("group", "expected"),
    [({"replicas": 5, "minReplicas": 1, "maxReplicas": 3}, 3),
     ({"replicas": 0, "minReplicas": 2, "maxReplicas": 3}, 2),
     ({"replicas": 1, "minReplicas": 4, "maxReplicas": 3}, 3),
     ({"replicas": 2, "numOfHosts": 2}, 4),
     ({"replicas": 2, "suspend": True}, 0)],
)  # fmt: skip
def test_desired_replicas_clamp_like_kuberay(group: dict[str, Any], expected: int) -> None:
    assert desired_replicas(group) == expected


def test_unscheduled_head_gives_unknown_head_pod_ready() -> None:
    pod = {"metadata": {"name": "h"}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}  # fmt: skip
    assert head_pod_ready_condition(pod) == {
        "type": "HeadPodReady", "status": "False", "reason": "Unknown", "message": ""
    }  # fmt: skip
    assert head_pod_ready_condition(None)["reason"] == "HeadPodNotFound"


def test_head_pod_ready_names_the_waiting_container() -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting"}}
    head = _pod("head", ready=False, containerStatuses=[{"name": "ray-head", "state": waiting}])
    condition = head_pod_ready_condition(head)
    assert condition["reason"] == "CrashLoopBackOff"
    assert condition["message"] == (
        "containers with unready status: [ray-head]; ray-head: CrashLoopBackOff: back-off 10s "
        "restarting"
    )


def test_state_becomes_ready_once_and_stays_ready() -> None:
    rc = _rc(workers=1)
    status = calculate_status(rc, [_pod("head"), _pod("worker")], None, replica_failure=None,
                              now=NOW)  # fmt: skip
    assert status["state"] == "ready"
    assert status["stateTransitionTimes"] == {"ready": NOW}
    rc["status"] = status
    later = calculate_status(rc, [_pod("head"), _pod("worker", phase="Pending", ready=False)],
                             None, replica_failure=None, now=LATER)  # fmt: skip
    assert later["state"] == "ready"
    provisioned = next(c for c in later["conditions"] if c["type"] == "RayClusterProvisioned")
    assert (provisioned["status"], provisioned["lastTransitionTime"]) == ("True", NOW)
    assert "readyWorkerReplicas" not in later and "availableWorkerReplicas" not in later
    assert status_changed(status, later)


def test_replica_failure_is_set_on_error_and_removed_after_a_clean_reconcile() -> None:
    rc = _rc(workers=1)
    failure = ("FailedCreateWorkerPod", "FailedCreateWorkerPod\nx")
    failed = calculate_status(rc, [_pod("head")], None, now=NOW, replica_failure=failure)
    assert any(
        c["type"] == "ReplicaFailure" and c["status"] == "True" for c in failed["conditions"]
    )
    assert "state" not in failed
    rc["status"] = failed
    clean = calculate_status(rc, [_pod("head")], None, replica_failure=None, now=LATER)
    assert all(c["type"] != "ReplicaFailure" for c in clean["conditions"])


def test_only_last_update_time_changing_is_not_a_change() -> None:
    rc = _rc(workers=1)
    first = calculate_status(rc, [_pod("head")], None, replica_failure=None, now=NOW)
    rc["status"] = first
    again = calculate_status(rc, [_pod("head")], None, replica_failure=None, now=LATER)
    assert again["lastUpdateTime"] == LATER
    assert not status_changed(first, again)
