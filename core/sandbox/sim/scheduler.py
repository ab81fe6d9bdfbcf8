"""The default-scheduler, simulated: filter nodes like kube-scheduler, explain failures its way.

``place(pod, nodes)`` is pure: it runs the filters that matter for Ray pods in kube-scheduler's
order (TaintToleration, NodeAffinity/nodeSelector, NodeResourcesFit including the pod count),
scores the feasible nodes by LeastAllocated and returns a node — or the exact ``FitError``
message, preemption suffix included::

    0/5 nodes are available: 2 Insufficient nvidia.com/gpu, 3 node(s) didn't match Pod's node
    affinity/selector. preemption: 0/5 nodes are available: 2 No preemption victims found for
    incoming pod, 3 Preemption is not helpful for scheduling.

``Scheduler`` wires it to the store: it binds pending pods after a short delay, marks the ones
that fit nowhere ``PodScheduled=False/Unschedulable`` with a ``FailedScheduling`` event, and
retries those only when capacity is freed (a pod went away), never by polling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import format_time
from core.sandbox.sim.quantity import milli
from core.sandbox.sim.simconfig import NodeSpec, SimConfig, Taint
from core.sandbox.sim.simloop import SimTimers

Obj = dict[str, Any]
PodKey = tuple[str, str]

_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
_NOT_HELPFUL = "Preemption is not helpful for scheduling"
_NO_VICTIMS = "No preemption victims found for incoming pod"
UNSCHEDULABLE_RETRY_SECONDS = 300.0  # podMaxInUnschedulablePodsDuration


def _container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})  # the API server defaults requests to limits
    merged.update(resources.get("requests") or {})
    return {name: milli(value) for name, value in merged.items()}


def pod_requests(spec: Mapping[str, Any]) -> dict[str, int]:
    """Effective requests: the sum over containers, at least the largest init container."""
    total: dict[str, int] = {}
    for container in spec.get("containers") or ():
        for name, value in _container_requests(container).items():
            total[name] = total.get(name, 0) + value
    for container in spec.get("initContainers") or ():
        for name, value in _container_requests(container).items():
            total[name] = max(total.get(name, 0), value)
    return total


def tolerated(taint: Taint, spec: Mapping[str, Any]) -> bool:
    """kube-scheduler TaintToleration filter (v1 Toleration.ToleratesTaint). GPU pods tolerate the
    GPU taint only when they carry the toleration, e.g. added by ExtendedResourceToleration at
    admission (core/sandbox/sim/admission_plugins.py)."""
    if taint.effect == "PreferNoSchedule":
        return True
    for toleration in spec.get("tolerations") or ():
        key, op = toleration.get("key"), toleration.get("operator", "Equal")
        effect = toleration.get("effect")
        if effect and effect != taint.effect:
            continue
        if key in (None, "") and op == "Exists":
            return True
        if key == taint.key and (op == "Exists" or toleration.get("value", "") == taint.value):
            return True
    return False


@dataclass
class NodeState:
    """A node's allocatable capacity (milli-units, ``pods`` counted ×1000) and what is bound."""

    spec: NodeSpec
    allocatable: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: NodeSpec) -> NodeState:
        allocatable = {"cpu": milli(spec.cpu), "memory": milli(spec.memory)}
        allocatable["pods"] = spec.max_pods * 1000
        if spec.gpus:
            allocatable[spec.gpu_resource] = spec.gpus * 1000
        return cls(spec, allocatable)

    @property
    def name(self) -> str:
        return self.spec.name

    def free(self, resource: str) -> int:
        return self.allocatable.get(resource, 0) - self.used.get(resource, 0)

    def bind(self, requests: Mapping[str, int], sign: int = 1) -> None:
        for name, value in {**requests, "pods": 1000}.items():
            self.used[name] = self.used.get(name, 0) + sign * value

    def failures(
        self, spec: Mapping[str, Any], requests: Mapping[str, int]
    ) -> tuple[list[str], bool]:
        """Why the pod cannot go here (empty if it can), and whether preemption could help."""
        for taint in self.spec.taints:
            if not tolerated(taint, spec):
                return [f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"], False
        selector = spec.get("nodeSelector") or {}
        labels = {**_builtin(self.spec), **self.spec.labels}
        if any(labels.get(k) != v for k, v in selector.items()):
            return [_MISMATCH], False
        reasons = []
        if self.free("pods") < 1000:
            reasons.append("Too many pods")
        for name in ("cpu", "memory"):
            if requests.get(name, 0) > self.free(name):
                reasons.append(f"Insufficient {name}")
        for name in sorted(requests):
            if name in ("cpu", "memory", "pods", "ephemeral-storage"):
                continue
            if requests[name] > 0 and requests[name] > self.free(name):
                reasons.append(f"Insufficient {name}")
        return reasons, True

    def score(self, requests: Mapping[str, int]) -> float:
        """LeastAllocated: the share of CPU and memory left after placing the pod."""
        shares = []
        for name in ("cpu", "memory"):
            capacity = self.allocatable.get(name, 0)
            if capacity:
                shares.append((self.free(name) - requests.get(name, 0)) / capacity)
        return sum(shares) / len(shares) if shares else 0.0


def _builtin(node: NodeSpec) -> dict[str, str]:
    """Labels the kubelet puts on every node."""
    return {"kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64"}  # fmt: skip


def fit_error(total: int, failures: Iterable[tuple[list[str], bool]]) -> str:
    """kube-scheduler's FitError text, including the preemption PostFilter's verdict."""
    reasons: dict[str, int] = {}
    preemption: dict[str, int] = {}
    for node_reasons, resolvable in failures:
        for reason in node_reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
        verdict = _NO_VICTIMS if resolvable else _NOT_HELPFUL
        preemption[verdict] = preemption.get(verdict, 0) + 1

    def histogram(counts: Mapping[str, int]) -> str:
        return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))

    message = f"0/{total} nodes are available: {histogram(reasons)}."
    return message + f" preemption: 0/{total} nodes are available: {histogram(preemption)}."


def place(spec: Mapping[str, Any], nodes: list[NodeState]) -> tuple[NodeState | None, str]:
    """The node to bind to, or ``None`` and the FitError message."""
    requests = pod_requests(spec)
    feasible: list[NodeState] = []
    failures: list[tuple[list[str], bool]] = []
    for node in nodes:
        reasons, resolvable = node.failures(spec, requests)
        if reasons:
            failures.append((reasons, resolvable))
        else:
            feasible.append(node)
    if not feasible:
        return None, fit_error(len(nodes), failures)
    best = max(feasible, key=lambda n: (n.score(requests), n.name))
    return best, ""


class Scheduler:
    """Binds pods to nodes; ``on_bound(pod, node, when)`` hands a bound pod to the kubelet."""

    def __init__(
        self,
        store: Any,
        config: SimConfig,
        timers: SimTimers,
        on_bound: Callable[[Obj, NodeSpec, str], None],
        on_unschedulable: Callable[[PodKey], None] | None = None,
        on_usage: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.timers = timers
        self.delay = config.timings.schedule
        self.nodes = [NodeState.from_spec(n) for n in config.nodes]
        self._by_name = {n.name: n for n in self.nodes}
        self._on_bound = on_bound
        # Node autoscaler hooks: a pod found no node; a node's bound pods changed.
        self._on_unschedulable = on_unschedulable
        self._on_usage = on_usage
        self._bound: dict[PodKey, tuple[NodeState, dict[str, int]]] = {}
        self._queued: set[PodKey] = set()
        self._unschedulable: dict[PodKey, None] = {}
        self._retry_pending = False
        self._flush_pending = False

    def pod_changed(self, event: str, pod: Obj) -> None:
        """Store listener hook (synchronous): only records and schedules timers."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if event == "DELETED":
            self._unschedulable.pop(key, None)
            self._queued.discard(key)
            if self.release(key):
                self._retry_unschedulable()
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            if key not in self._bound and node_name in self._by_name:
                node = self._by_name[node_name]  # bound elsewhere (kubectl, a restart): account it
                requests = pod_requests(pod.get("spec") or {})
                node.bind(requests)
                self._bound[key] = (node, requests)
                self._usage(node)
            return
        if key not in self._queued and key not in self._unschedulable:
            self._queued.add(key)
            self.timers.later(self.delay, self._attempt, key)

    def release(self, key: PodKey) -> bool:
        entry = self._bound.pop(key, None)
        if entry is None:
            return False
        node, requests = entry
        node.bind(requests, -1)
        self._usage(node)
        return True

    # ------------------------------------------------------- nodes that come and go
    def add_node(self, spec: NodeSpec) -> None:
        """A node registered (a node autoscaler added it): pending pods get another try."""
        node = NodeState.from_spec(spec)
        self.nodes.append(node)
        self._by_name[spec.name] = node
        self._retry_unschedulable()

    def update_node(self, spec: NodeSpec) -> None:
        """The node's taints or labels changed (Ready lifts the not-ready taint)."""
        node = self._by_name.get(spec.name)
        if node is not None:
            node.spec = spec
            self._retry_unschedulable()

    def remove_node(self, name: str) -> None:
        node = self._by_name.pop(name, None)
        if node is not None:
            self.nodes.remove(node)

    def pod_count(self, name: str) -> int:
        node = self._by_name.get(name)
        return node.used.get("pods", 0) // 1000 if node is not None else 0

    def pending_unschedulable(self) -> list[PodKey]:
        return list(self._unschedulable)

    def _usage(self, node: NodeState) -> None:
        if self._on_usage is not None:
            self._on_usage(node.name)

    def _retry_unschedulable(self) -> None:
        if self._unschedulable and not self._retry_pending:
            self._retry_pending = True
            self.timers.later(self.delay, self._retry)

    def _retry(self) -> None:
        """Each unschedulable pod gets an attempt: a step of its own, so a thousand of them run
        in slices (``SimTimers``) with the API server answering in between."""
        self._retry_pending = False
        for key in self._unschedulable:
            if key not in self._queued:
                self._queued.add(key)
                self.timers.later(0, self._attempt, key)

    def _flush_leftover(self) -> None:
        """kube-scheduler retries pods left unschedulable for 5 minutes even without events."""
        self._flush_pending = False
        self._retry()

    def _attempt(self, key: PodKey) -> None:
        self._queued.discard(key)
        try:
            pod = self.store.get_ref("pods", key[0], key[1])
        except ApiError:
            self._unschedulable.pop(key, None)
            return
        spec = pod.get("spec") or {}
        if spec.get("nodeName"):
            return
        node, message = place(spec, self.nodes)
        now = format_time(self.store.now())
        if node is None:
            self._mark_unschedulable(key, pod, message, now)
            return
        self._unschedulable.pop(key, None)
        requests = pod_requests(spec)
        node.bind(requests)
        self._bound[key] = (node, requests)
        self._usage(node)
        bound = self.store.merge_patch("pods", key[0], key[1], {"spec": {"nodeName": node.name}})
        self.store.record_event(
            bound,
            type="Normal",
            reason="Scheduled",
            message=f"Successfully assigned {key[0]}/{key[1]} to {node.name}",
            component="default-scheduler",
        )
        self._on_bound(bound, node.spec, now)  # the kubelet writes PodScheduled=True with it

    def _mark_unschedulable(self, key: PodKey, pod: Obj, message: str, now: str) -> None:
        self._unschedulable[key] = None
        if not self._flush_pending:
            self._flush_pending = True
            self.timers.later(UNSCHEDULABLE_RETRY_SECONDS, self._flush_leftover)
        conditions = (pod.get("status") or {}).get("conditions") or []
        previous = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if previous is None or previous.get("message") != message:
            condition = {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": (previous or {}).get("lastTransitionTime") or now,
                "reason": "Unschedulable",
                "message": message,
            }
            pod = self.store.merge_patch(
                "pods", key[0], key[1], {"status": {"conditions": [condition]}},
                subresource="status",
            )  # fmt: skip
        self.store.record_event(
            pod, type="Warning", reason="FailedScheduling", message=message,
            component="default-scheduler",
        )  # fmt: skip
        if self._on_unschedulable is not None:
            self._on_unschedulable(key)
