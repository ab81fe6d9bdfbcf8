"""v1 Node objects for the simulated nodes: the kubelet's labels, capacity and conditions.

Static nodes are registered Ready when the simulation starts. A node that a node autoscaler adds
registers NotReady first, carrying the ``node.kubernetes.io/not-ready:NoSchedule`` taint that the
node lifecycle controller keeps on it until the kubelet reports Ready (TaintNodesByCondition), so
the scheduler keeps pods off it meanwhile with its usual "untolerated taint" message.
"""

from __future__ import annotations

from typing import Any

from core.sandbox.sim.simconfig import NodeSpec, Taint

Obj = dict[str, Any]

# kubernetes: pkg/controller/nodelifecycle/node_lifecycle_controller.go (NotReadyTaintTemplate).
NOT_READY_TAINT = Taint(key="node.kubernetes.io/not-ready", value="", effect="NoSchedule")

_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)  # fmt: skip

# What a kubelet whose CNI is not up yet reports (kubelet_node_status.go setNodeReadyCondition).
_NOT_READY = (
    "Ready", "False", "KubeletNotReady",
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized",
)  # fmt: skip


def node_conditions(now: str, *, ready: bool = True) -> list[Obj]:
    """A kubelet's node conditions, in the order ``kubectl describe node`` shows them."""
    rows = [*_CONDITIONS[:-1], _CONDITIONS[-1] if ready else _NOT_READY]
    return [
        {"type": kind, "status": status, "reason": reason, "message": message,
         "lastHeartbeatTime": now, "lastTransitionTime": now}
        for kind, status, reason, message in rows
    ]  # fmt: skip


def builtin_labels(name: str) -> dict[str, str]:
    """Labels the kubelet puts on every node."""
    return {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64"}  # fmt: skip


def node_object(spec: NodeSpec, host_ip: str, now: str, *, ready: bool = True) -> Obj:
    """The v1 Node for ``spec``; a NotReady one also carries the not-ready taint."""
    allocatable = {"cpu": spec.cpu, "memory": spec.memory, "pods": str(spec.max_pods)}
    if spec.gpus:
        allocatable[spec.gpu_resource] = str(spec.gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": {**builtin_labels(spec.name), **spec.labels}},
        "spec": {"taints": [t.model_dump() for t in spec.taints]},
        "status": {
            "capacity": dict(allocatable),
            "allocatable": allocatable,
            "conditions": node_conditions(now, ready=ready),
            "addresses": [
                {"type": "InternalIP", "address": host_ip},
                {"type": "Hostname", "address": spec.name},
            ],
            "nodeInfo": {"kubeletVersion": "v1.34.1-gke.1431000",
                         "osImage": "Container-Optimized OS from Google",
                         "kernelVersion": "6.6.97+",
                         "containerRuntimeVersion": "containerd://2.0.6",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }  # fmt: skip
