"""KubeRay's ``calculateStatus``, pure: the RayCluster ``.status`` from its pods and head Service.

Follows ``raycluster_controller.go`` v1.5.1 (shared/kuberay/OPERATOR.md §1): ``state`` becomes
``ready`` once every pod (desired workers + head) is Running and Ready and never goes back;
``HeadPodReady`` mirrors the head pod's Ready condition (with the container's waiting reason when
it is ``ContainersNotReady``); ``RayClusterProvisioned`` flips to True once and stays;
``ReplicaFailure`` is present only while pod creation/deletion fails. Counts that are zero are
omitted, as Go's ``omitempty`` does. ``status_changed`` is ``inconsistentRayClusterStatus``:
the status is written only when something other than ``lastUpdateTime`` changed.
"""

from __future__ import annotations

from typing import Any

from core.sandbox.apiserver.objects import clone
from core.sandbox.sim.kuberay_pods import desired_replicas
from core.sandbox.sim.quantity import ZERO, Quantity, parse_quantity, sum_quantities

Obj = dict[str, Any]


def pod_is_ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def all_pods_running(pods: list[Obj]) -> bool:
    """``utils.CheckAllPodsRunning``: at least one pod, all Running, none with Ready != True."""
    if not pods:
        return False
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") != "Running":
            return False
        for cond in status.get("conditions") or ():
            if cond.get("type") == "Ready" and cond.get("status") != "True":
                return False
    return True


def _template_resources(template: Obj) -> dict[str, Quantity]:
    """``CalculatePodResource``: each container's requests, or limits where no request is set."""
    total: dict[str, Quantity] = {}
    for container in ((template.get("spec") or {}).get("containers")) or ():
        resources = container.get("resources") or {}
        merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for name, value in merged.items():
            quantity = parse_quantity(value)
            total[name] = total[name] + quantity if name in total else quantity
    return total


def desired_resources(rc: Obj) -> dict[str, Quantity]:
    """``CalculateDesiredResources``: head + each group × its **unclamped** replicas, added in
    that order, so each sum keeps the format of its first addend
    (see ``core.sandbox.sim.quantity``)."""
    spec = rc.get("spec") or {}
    total = _template_resources((spec.get("headGroupSpec") or {}).get("template") or {})
    for group in spec.get("workerGroupSpecs") or ():
        if group.get("suspend"):
            continue
        count = int(group.get("replicas") or 0) * max(1, int(group.get("numOfHosts") or 1))
        if count <= 0:
            continue
        for name, quantity in _template_resources(group.get("template") or {}).items():
            total[name] = total[name] + quantity * count if name in total else quantity * count
    return total


def _is_gpu(name: str) -> bool:
    return name.endswith("gpu") or name.startswith("nvidia.com/mig-")


def _set_condition(conditions: list[Obj], new: Obj, now: str) -> None:
    """``meta.SetStatusCondition``: lastTransitionTime moves only when the status changes."""
    for existing in conditions:
        if existing["type"] == new["type"]:
            if existing["status"] != new["status"]:
                existing["status"] = new["status"]
                existing["lastTransitionTime"] = now
            existing["reason"] = new["reason"]
            existing["message"] = new.get("message", "")
            return
    conditions.append({**new, "message": new.get("message", ""), "lastTransitionTime": now})


def head_pod_ready_condition(head: Obj | None) -> Obj:
    if head is None:
        return {"type": "HeadPodReady", "status": "False", "reason": "HeadPodNotFound",
                "message": "Head Pod not found"}  # fmt: skip
    condition = {"type": "HeadPodReady", "status": "False", "reason": "Unknown", "message": ""}
    status = head.get("status") or {}
    for cond in status.get("conditions") or ():
        if cond.get("type") != "Ready":
            continue
        condition["status"] = cond.get("status", "False")
        condition["message"] = cond.get("message", "")
        reason = cond.get("reason", "")
        if condition["status"] == "True" and not reason:
            reason = "HeadPodRunningAndReady"
        if reason == "ContainersNotReady":
            reason, detail = _container_problem(status)
            if detail:
                condition["message"] = f"{condition['message']}; {detail}"
        if reason:
            condition["reason"] = reason
        break
    return condition


def _container_problem(status: Obj) -> tuple[str, str]:
    """v1.5.1 (PR #4196): the first troubled container's reason, and ``name: Reason: message``."""
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        for kind in ("waiting", "terminated"):
            detail = state.get(kind)
            if detail and detail.get("reason"):
                text = f"{cs['name']}: {detail['reason']}"
                if detail.get("message"):
                    text += f": {detail['message']}"
                return detail["reason"], text
    return "ContainersNotReady", ""


def calculate_status(
    rc: Obj,
    pods: list[Obj],
    service: Obj | None,
    *,
    replica_failure: tuple[str, str] | None,
    now: str,
) -> Obj:
    """The new ``.status``; ``replica_failure`` is (reason, message) of this reconcile's error."""
    old = rc.get("status") or {}
    status: Obj = clone(old)
    spec = rc.get("spec") or {}
    conditions: list[Obj] = status.setdefault("conditions", [])
    if replica_failure is not None:
        reason, message = replica_failure
        _set_condition(conditions, {"type": "ReplicaFailure", "status": "True",
                                    "reason": reason, "message": message}, now)  # fmt: skip
    else:
        conditions[:] = [c for c in conditions if c["type"] != "ReplicaFailure"]
    status["observedGeneration"] = rc["metadata"].get("generation", 1)
    workers = [
        p for p in pods if p["metadata"].get("labels", {}).get("ray.io/node-type") == "worker"
    ]
    groups = spec.get("workerGroupSpecs") or ()
    numbers = {
        "readyWorkerReplicas": sum(1 for p in workers if pod_is_ready(p)),
        "availableWorkerReplicas": sum(
            1 for p in workers if (p.get("status") or {}).get("phase") == "Running"
        ),
        "desiredWorkerReplicas": sum(desired_replicas(g) for g in groups),
        "minWorkerReplicas": sum(
            0
            if g.get("suspend")
            else int(g.get("minReplicas") or 0) * int(g.get("numOfHosts") or 1)
            for g in groups
        ),
        "maxWorkerReplicas": min(
            2**31 - 1,
            sum(
                0
                if g.get("suspend")
                else int(g.get("maxReplicas", 2**31 - 1)) * int(g.get("numOfHosts") or 1)
                for g in groups
            ),
        ),
    }
    for key, value in numbers.items():
        if value:
            status[key] = value
        else:
            status.pop(key, None)
    resources = desired_resources(rc)
    status["desiredCPU"] = str(resources.get("cpu", ZERO))
    status["desiredMemory"] = str(resources.get("memory", ZERO))
    status["desiredGPU"] = str(
        sum_quantities([q for name, q in resources.items() if _is_gpu(name) and q.value])
    )
    status["desiredTPU"] = str(resources.get("google.com/tpu", ZERO))
    complete = len(pods) == numbers["desiredWorkerReplicas"] + 1
    if replica_failure is None and complete and all_pods_running(pods):
        status["state"] = "ready"
        status.pop("reason", None)
    head = next(
        (p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "head"), None
    )
    _set_condition(conditions, head_pod_ready_condition(head), now)
    provisioned = next((c for c in conditions if c["type"] == "RayClusterProvisioned"), None)
    if provisioned is None or provisioned["status"] != "True":
        if all_pods_running(pods):
            _set_condition(conditions, {"type": "RayClusterProvisioned", "status": "True",
                                        "reason": "AllPodRunningAndReadyFirstTime",
                                        "message": "All Ray Pods are ready for the first time"},
                           now)  # fmt: skip
        else:
            _set_condition(conditions, {"type": "RayClusterProvisioned", "status": "False",
                                        "reason": "RayClusterPodsProvisioning",
                                        "message": "RayCluster Pods are being provisioned for "
                                                   "first time"}, now)  # fmt: skip
    suspend = bool(spec.get("suspend"))
    _set_condition(conditions, {"type": "RayClusterSuspended", "status": "False",
                                "reason": "RayClusterSuspended"}, now)  # fmt: skip
    _set_condition(conditions, {"type": "RayClusterSuspending", "status": "False",
                                "reason": "RayClusterSuspending"}, now)  # fmt: skip
    if suspend and not pods:
        status["state"] = "suspended"
        _set_condition(conditions, {"type": "RayClusterSuspended", "status": "True",
                                    "reason": "RayClusterSuspended"}, now)  # fmt: skip
    elif suspend:
        _set_condition(conditions, {"type": "RayClusterSuspending", "status": "True",
                                    "reason": "RayClusterSuspending"}, now)  # fmt: skip
    endpoints: dict[str, str] = {}
    for port in ((service or {}).get("spec") or {}).get("ports") or ():
        if port.get("name"):
            value = port.get("nodePort") or port.get("targetPort")
            if value:
                endpoints[port["name"]] = str(value)
    if endpoints:
        status["endpoints"] = endpoints
    head_info: dict[str, str] = {}
    if head is not None:
        head_info["podName"] = head["metadata"]["name"]
        if (head.get("status") or {}).get("podIP"):
            head_info["podIP"] = head["status"]["podIP"]
    if service is not None:
        head_info["serviceName"] = service["metadata"]["name"]
        cluster_ip = (service.get("spec") or {}).get("clusterIP")
        service_ip = head_info.get("podIP", "") if cluster_ip == "None" else cluster_ip
        if service_ip:
            head_info["serviceIP"] = service_ip
    status["head"] = head_info
    status["lastUpdateTime"] = now
    if old.get("state") != status.get("state"):
        status.setdefault("stateTransitionTimes", {})[status.get("state", "")] = now
    return status


_COMPARED = ("state", "reason", "readyWorkerReplicas", "availableWorkerReplicas",
             "desiredWorkerReplicas", "minWorkerReplicas", "maxWorkerReplicas", "endpoints",
             "head", "conditions")  # fmt: skip


def status_changed(old: Obj | None, new: Obj) -> bool:
    """``inconsistentRayClusterStatus``: anything but lastUpdateTime/observedGeneration differs."""
    old = old or {}
    if not old:
        return True
    return any(old.get(key) != new.get(key) for key in _COMPARED)
