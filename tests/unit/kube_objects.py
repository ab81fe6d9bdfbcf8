"""Builders for RayCluster, Pod and Event JSON in the exact shape the API server returns.

camelCase keys, ``containerStatuses``/``initContainerStatuses``, string condition statuses,
RFC 3339 timestamps — so status tests exercise the same shapes the watcher receives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def ts(minutes_ago: float = 0) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def raycluster(
    name: str = "demo",
    namespace: str = "default",
    *,
    groups: list[Obj] | None = None,
    suspend: bool | None = None,
    deleting: bool = False,
    status: Obj | None = None,
    annotations: dict[str, str] | None = None,
    created_minutes_ago: float = 1,
) -> Obj:
    metadata: Obj = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "resourceVersion": "100",
        "generation": 1,
        "creationTimestamp": ts(created_minutes_ago),
        "labels": {"app.kubernetes.io/managed-by": "krayne", "app.kubernetes.io/name": name},
        "annotations": dict(annotations or {}),
    }
    if deleting:
        metadata["deletionTimestamp"] = ts(0)
        metadata["finalizers"] = ["ray.io/gcs-ft-redis-cleanup-finalizer"]
    spec: Obj = {
        "rayVersion": "2.53.0",
        "headGroupSpec": {
            "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray"}]}},
        },
        "workerGroupSpecs": groups if groups is not None else [group("worker", 1)],
    }
    if suspend is not None:
        spec["suspend"] = suspend
    body: Obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": metadata,
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body


def group(
    name: str,
    replicas: int,
    *,
    min_replicas: int = 0,
    max_replicas: int = 10,
    num_of_hosts: int | None = None,
    suspend: bool | None = None,
) -> Obj:
    spec: Obj = {
        "groupName": name,
        "replicas": replicas,
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray"}]}},
    }
    if num_of_hosts is not None:
        spec["numOfHosts"] = num_of_hosts
    if suspend is not None:
        spec["suspend"] = suspend
    return spec


def rc_condition(kind: str, status: str, reason: str, message: str = "") -> Obj:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": ts(1),
    }


# --- container statuses -------------------------------------------------------------------


def running(name: str, *, ready: bool = True, restarts: int = 0, last: Obj | None = None) -> Obj:
    status: Obj = {
        "name": name,
        "image": "docker.io/rayproject/ray:2.53.0-py311",
        "imageID": "docker.io/rayproject/ray@sha256:abc",
        "containerID": "containerd://abc",
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ts(2)}},
        "lastState": {"terminated": last} if last else {},
    }
    return status


def waiting(
    name: str, reason: str, message: str = "", *, restarts: int = 0, last: Obj | None = None
) -> Obj:
    state: Obj = {"reason": reason}
    if message:
        state["message"] = message
    return {
        "name": name,
        "image": "docker.io/rayproject/ray:2.53.0-py311",
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": state},
        "lastState": {"terminated": last} if last else {},
    }


def completed(name: str) -> Obj:
    return {
        "name": name,
        "image": "docker.io/rayproject/ray:2.53.0-py311",
        "ready": True,
        "restartCount": 0,
        "started": False,
        "state": {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": ts(3),
                "finishedAt": ts(2),
            }
        },
        "lastState": {},
    }


def terminated(reason: str, exit_code: int, *, minutes_ago: float = 1) -> Obj:
    return {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": ts(minutes_ago + 1),
        "finishedAt": ts(minutes_ago),
        "containerID": "containerd://old",
    }


# --- pods -------------------------------------------------------------------------------


def pod(
    name: str,
    *,
    cluster: str = "demo",
    node_type: str = "worker",
    phase: str = "Running",
    scheduled: bool | str = True,
    ready: bool = False,
    containers: list[Obj] | None = None,
    init: list[Obj] | None = None,
    requests: dict[str, str] | None = None,
    image: str = "rayproject/ray:2.53.0-py311",
    terminating: bool = False,
) -> Obj:
    """A KubeRay pod. ``scheduled`` is True, False (not yet tried) or an Unschedulable message."""
    container = "ray-head" if node_type == "head" else "ray-worker"
    resources = {"requests": requests or {"cpu": "1", "memory": "2Gi"}}
    resources["limits"] = dict(resources["requests"])
    spec: Obj = {
        "containers": [{"name": container, "image": image, "resources": resources}],
        "restartPolicy": "Always",
    }
    if node_type == "worker":
        spec["initContainers"] = [{"name": "wait-gcs-ready", "image": image}]
    conditions: list[Obj] = []
    if scheduled is True:
        spec["nodeName"] = "node-1"
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(3)})
    elif isinstance(scheduled, str):
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": scheduled,
                "lastTransitionTime": ts(3),
            }
        )
    if scheduled is True:
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": None if ready else "ContainersNotReady",
                "lastTransitionTime": ts(1),
            }
        )
    status: Obj = {"phase": phase, "conditions": conditions, "qosClass": "Guaranteed"}
    if containers is not None:
        status["containerStatuses"] = containers
    elif phase == "Running":
        status["containerStatuses"] = [running(container, ready=ready)]
    if init is not None:
        status["initContainerStatuses"] = init
    elif node_type == "worker" and phase == "Running":
        status["initContainerStatuses"] = [completed("wait-gcs-ready")]
    metadata: Obj = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "resourceVersion": "200",
        "creationTimestamp": ts(3),
        "labels": {
            "ray.io/cluster": cluster,
            "ray.io/node-type": node_type,
            "ray.io/group": "headgroup" if node_type == "head" else "worker",
            "ray.io/is-ray-node": "yes",
            "app.kubernetes.io/created-by": "kuberay-operator",
        },
        "ownerReferences": [
            {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": cluster, "controller": True}
        ],
    }
    if terminating:
        metadata["deletionTimestamp"] = ts(0)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def head(ready: bool = True, **kwargs: Any) -> Obj:
    return pod("demo-head-x7k2p", node_type="head", ready=ready, **kwargs)


def worker(suffix: str = "abc12", ready: bool = True, **kwargs: Any) -> Obj:
    return pod(f"demo-worker-worker-{suffix}", node_type="worker", ready=ready, **kwargs)


def event(
    kind: str,
    name: str,
    reason: str,
    message: str,
    *,
    type_: str = "Warning",
    minutes_ago: float = 0.5,
    namespace: str = "default",
    uid: str | None = None,
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name}.{uid or reason.lower()}",
            "namespace": namespace,
            "resourceVersion": "300",
            "creationTimestamp": ts(minutes_ago),
        },
        "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
        "reason": reason,
        "message": message,
        "type": type_,
        "count": 1,
        "firstTimestamp": ts(minutes_ago),
        "lastTimestamp": ts(minutes_ago),
        "source": {"component": "kubelet" if kind == "Pod" else "raycluster-controller"},
    }
