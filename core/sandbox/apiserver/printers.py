"""Cell text the real API server prints for pods and nodes, and apimachinery's duration format.

A port of kubernetes ``pkg/printers/internalversion/printers.go`` (``printPod``, ``printNode``)
and ``apimachinery/pkg/util/duration.HumanDuration``, so ``kubectl get pods`` against the sandbox
reads exactly as against a real cluster: ``Init:0/1`` while a worker waits in ``wait-gcs-ready``,
``Init:CrashLoopBackOff``, ``NotReady``, ``Terminating`` and ``3 (12s ago)`` restarts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.sandbox.apiserver.objects import parse_time

Obj = dict[str, Any]

NODE_UNREACHABLE_REASON = "NodeLost"  # k8s.io/kubernetes/pkg/util/node.NodeUnreachablePodReason


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    y = h // (24 * 365)
    if y < 8:
        d = (h // 24) % 365
        return f"{y}y" if d == 0 else f"{y}y{d}d"
    return f"{y}y"


def age(stamp: str | None, now: datetime) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a missing stamp."""
    if not stamp:
        return "<unknown>"
    return human_duration((now - parse_time(stamp)).total_seconds())


def _condition_true(status: Obj, kind: str) -> bool:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return bool(cond.get("status") == "True")
    return False


def _terminated_reason(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


class _Restarts:
    """Restart count and the latest ``lastState.terminated.finishedAt`` seen."""

    def __init__(self) -> None:
        self.count = 0
        self.last: datetime | None = None

    def add(self, container: Obj) -> None:
        self.count += int(container.get("restartCount") or 0)
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished:
            when = parse_time(finished)
            if self.last is None or when > self.last:
                self.last = when

    def cell(self, now: datetime) -> str:
        if self.count and self.last is not None:
            return f"{self.count} ({human_duration((now - self.last).total_seconds())} ago)"
        return str(self.count)


def pod_status_cells(pod: Obj, now: datetime) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS of ``printPod``."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = 0
    restarts, sidecar_restarts = _Restarts(), _Restarts()

    initializing = False
    for i, init in enumerate(status.get("initContainerStatuses") or []):
        restarts.add(init)
        if init.get("name") in sidecars:
            sidecar_restarts.add(init)
        state = init.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode") == 0:
            continue
        if init.get("name") in sidecars and init.get("started"):
            ready += 1 if init.get("ready") else 0
            continue
        initializing = True
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts = sidecar_restarts
        has_running = False
        for c in reversed(status.get("containerStatuses") or []):
            restarts.add(c)
            state = c.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated") is not None:
                reason = _terminated_reason(state["terminated"])
            elif c.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == NODE_UNREACHABLE_REASON:
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return f"{ready}/{total}", reason, restarts.cell(now)


def pod_cells(pod: Obj, now: datetime) -> list[Any]:
    """One ``kubectl get pods -o wide`` row."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready, reason, restarts = pod_status_cells(pod, now)
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gate_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gate_cell = f"{true}/{len(gates)}"
    return [
        pod["metadata"]["name"],
        ready,
        reason,
        restarts,
        age(pod["metadata"].get("creationTimestamp"), now),
        (ips[0].get("ip") if ips else None) or status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gate_cell,
    ]


NODE_COLUMNS = [
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Roles", "string", 0),
    ("Age", "string", 0),
    ("Version", "string", 0),
    ("Internal-IP", "string", 1),
    ("External-IP", "string", 1),
    ("OS-Image", "string", 1),
    ("Kernel-Version", "string", 1),
    ("Container-Runtime", "string", 1),
]
_ROLE_PREFIX = "node-role.kubernetes.io/"


def _node_roles(labels: dict[str, str]) -> str:
    """``findNodeRoles``: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role``."""
    roles = {k.removeprefix(_ROLE_PREFIX) for k in labels if k.startswith(_ROLE_PREFIX)}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    roles.discard("")
    return ",".join(sorted(roles)) or "<none>"


def _node_address(status: Obj, kind: str) -> str:
    for address in status.get("addresses") or []:
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return "<none>"


def node_cells(node: Obj, now: datetime) -> list[Any]:
    """One ``kubectl get nodes -o wide`` row (``printNode``)."""
    status = node.get("status") or {}
    ready = [c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    states = [("Ready" if ready[-1] == "True" else "NotReady") if ready else "Unknown"]
    if (node.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [
        node["metadata"]["name"],
        ",".join(states),
        _node_roles(node["metadata"].get("labels") or {}),
        age(node["metadata"].get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]
