"""Node autoscalers, simulated: cluster-autoscaler and Karpenter grow and shrink ``node_pools``.

When the scheduler leaves a pod ``Unschedulable``, the pool's autoscaler looks at it on its next
pass (cluster-autoscaler: ``--scan-interval`` 10 s; Karpenter: a 1 s batch window) and asks
whether a new node from a pool's template would take it, with the scheduler's own filters (taints,
nodeSelector, resources). If so it records what the real one records on the pod, provisions a
node (registered NotReady after 80 % of ``scale_up_seconds``, Ready at ``scale_up_seconds``) and the
scheduler binds the pod once the node is Ready. If not, it records why, with upstream's wording. A
pool node that stays empty for ``scale_down_idle_seconds`` is removed, down to ``min``. Everything
runs on speed-scaled timers; nothing polls.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import format_time
from core.sandbox.sim.kubelet import Kubelet
from core.sandbox.sim.node_pools import (
    karpenter_rejection,
    node_name,
    pool_node_spec,
    reasons_message,
    scale_up_info,
)
from core.sandbox.sim.nodes import NOT_READY_TAINT, node_conditions, node_object
from core.sandbox.sim.scheduler import NodeState, PodKey, Scheduler, pod_requests
from core.sandbox.sim.simconfig import NodePool, NodeSpec, SimConfig, Taint
from core.sandbox.sim.simloop import SimTimers

Obj = dict[str, Any]

# cluster-autoscaler: main.go flag --scan-interval (default 10 s): one RunOnce per interval.
CA_SCAN_INTERVAL = 10.0
# karpenter: pkg/operator/options BATCH_IDLE_DURATION (1 s): pods are batched before a solve.
KARPENTER_BATCH_IDLE = 1.0
# Share of scale_up_seconds after which the new VM's kubelet registers its Node (NotReady).
REGISTER_FRACTION = 0.8


@dataclass
class PoolNode:
    """A node the autoscaler provisioned: in flight (``ready`` False) or serving pods."""

    spec: NodeSpec
    state: NodeState  # the template's capacity, for bin-packing pods onto in-flight nodes
    ready: bool = False
    registered: bool = False
    pods: set[PodKey] = field(default_factory=set)  # pods this in-flight node was made for
    idle: asyncio.TimerHandle | None = None


@dataclass
class PoolState:
    pool: NodePool
    nodes: dict[str, PoolNode] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The target size: registered plus in-flight nodes (NodeGroup.TargetSize)."""
        return len(self.nodes)


class NodeAutoscaler:
    """Both flavours in one; each pool names its ``autoscaler``."""

    def __init__(
        self,
        store: Any,
        config: SimConfig,
        timers: SimTimers,
        *,
        scheduler: Scheduler,
        kubelet: Kubelet,
        node_specs: dict[str, NodeSpec],
    ) -> None:
        self.store = store
        self.timers = timers
        self.scheduler = scheduler
        self.kubelet = kubelet
        self.node_specs = node_specs  # the simulation's name -> NodeSpec map, kept current
        self.pools = {p.name: PoolState(p) for p in config.node_pools}
        self._rng = random.Random(config.seed if config.seed is not None else 11)
        self._scan_due: dict[str, asyncio.TimerHandle] = {}
        self._assigned: dict[PodKey, str] = {}  # pod -> in-flight node it waits for

    # ------------------------------------------------------------------ entry points
    def start(self) -> None:
        """Adopt the pool nodes a previous run left in the store, then bring every pool up to its
        ``min`` (Ready at once, as an existing cluster would be)."""
        for state in self.pools.values():
            self._adopt(state)
            while state.size < state.pool.min:
                node = self._new_node(state)
                self._register(state, node)
                self._ready(state, node)

    def _adopt(self, state: PoolState) -> None:
        key = "karpenter.sh/nodepool"
        if state.pool.autoscaler != "karpenter":
            key = "cloud.google.com/gke-nodepool"
        for obj in self.store.list_refs("nodes", label_selector=f"{key}={state.pool.name}")[0]:
            name = obj["metadata"]["name"]
            if name in self.node_specs:
                continue  # a fixed node that happens to carry the label
            spec = pool_node_spec(state.pool, name)
            node = PoolNode(spec=spec, state=NodeState.from_spec(spec), registered=True)
            state.nodes[name] = node
            self.kubelet.add_node(name)
            self.node_specs[name] = spec
            self.scheduler.add_node(spec)
            node.ready = True
            self._arm_idle(state, node)

    def pod_unschedulable(self, key: PodKey) -> None:
        """Scheduler hook: run each autoscaler's next pass (coalesced) to look at the pod."""
        flavours = {s.pool.autoscaler for s in self.pools.values()}
        for flavour in sorted(flavours):
            if flavour not in self._scan_due:
                delay = (
                    CA_SCAN_INTERVAL if flavour == "cluster-autoscaler" else KARPENTER_BATCH_IDLE
                )
                self._scan_due[flavour] = self.timers.later(delay, self._scan, flavour)

    def node_usage(self, name: str) -> None:
        """Scheduler hook: a pod was bound to or left ``name``; (re)arm or stop its idle timer."""
        for state in self.pools.values():
            node = state.nodes.get(name)
            if node is not None:
                self._arm_idle(state, node)

    # ------------------------------------------------------------------ scale-up
    def _pending(self) -> list[tuple[PodKey, Obj]]:
        pods = []
        for key in self.scheduler.pending_unschedulable():
            try:
                pod = self.store.get_ref("pods", key[0], key[1])
            except ApiError:
                self._assigned.pop(key, None)
                continue
            if not (pod.get("spec") or {}).get("nodeName"):
                pods.append((key, pod))
        return pods

    def _scan(self, flavour: str) -> None:
        self._scan_due.pop(flavour, None)
        states = [s for s in self.pools.values() if s.pool.autoscaler == flavour]
        pending = [(k, p) for k, p in self._pending() if k not in self._assigned]
        if flavour == "cluster-autoscaler":
            self._cluster_autoscaler_pass(states, pending)
        else:
            self._karpenter_pass(states, pending)

    def _fits_in_flight(self, states: list[PoolState], key: PodKey, spec: Obj) -> PoolNode | None:
        requests = pod_requests(spec)
        for state in states:
            for node in state.nodes.values():
                if not node.ready and not node.state.failures(spec, requests)[0]:
                    node.state.bind(requests)
                    node.pods.add(key)
                    self._assigned[key] = node.spec.name
                    return node
        return None

    def _cluster_autoscaler_pass(
        self, states: list[PoolState], pending: list[tuple[PodKey, Obj]]
    ) -> None:
        """cluster-autoscaler: core/scaleup/orchestrator/orchestrator.go ``ScaleUp``. Pods that fit
        on upcoming nodes are left alone (core/podlistprocessor filter_out_schedulable.go); node
        groups at their max size are skipped ("max node group size reached"); the others are
        checked by running the scheduler's filters on a template node; the expander picks one
        option and the binpacking estimator sizes it (capped at max). Events come from
        processors/status/eventing_scale_up_processor.go ``Process``."""
        waiting = [(k, p) for k, p in pending if self._fits_in_flight(states, k, p["spec"]) is None]
        if not waiting:
            return
        rejected: dict[PodKey, dict[str, list[str]]] = {k: {} for k, _ in waiting}
        options: dict[str, list[tuple[PodKey, Obj]]] = {}
        for state in states:
            pool = state.pool
            for key, pod in waiting:
                if state.size >= pool.max:
                    # orchestrator.go: NewSkippedReasons("max node group size reached")
                    rejected[key][pool.name] = ["max node group size reached"]
                    continue
                template = NodeState.from_spec(pool_node_spec(state.pool, "template"))
                reasons, _ = template.failures(pod["spec"], pod_requests(pod["spec"]))
                if reasons:
                    rejected[key][pool.name] = reasons
                else:
                    options.setdefault(pool.name, []).append((key, pod))
        if options:
            # expander: the option that helps the most pods; ties go to config order (upstream's
            # default expander is "random"; the sandbox stays deterministic).
            best = max(options, key=lambda name: len(options[name]))
            state = self.pools[best]
            before, triggered = state.size, []
            for key, pod in options[best]:
                node = self._fits_in_flight([state], key, pod["spec"])
                if node is None and state.size < state.pool.max:
                    node = self._new_node(state)
                    self._provision(state, node)
                    node = self._fits_in_flight([state], key, pod["spec"])
                if node is not None:
                    triggered.append(pod)
            info = scale_up_info(best, before, state.size, state.pool.max)
            for pod in triggered:
                self._event(
                    pod,
                    "Normal",
                    "TriggeredScaleUp",
                    f"pod triggered scale-up: {info}",
                    "cluster-autoscaler",
                )
            return  # a scale-up happened this loop: no NotTriggerScaleUp events (Process)
        for key, pod in waiting:
            message = reasons_message(rejected[key].values())
            self._event(
                pod,
                "Normal",
                "NotTriggerScaleUp",
                f"pod didn't trigger scale-up: {message}",
                "cluster-autoscaler",
            )

    def _karpenter_pass(self, states: list[PoolState], pending: list[tuple[PodKey, Obj]]) -> None:
        """karpenter: pkg/controllers/provisioning/scheduling/scheduler.go ``add`` -> in-flight
        NodeClaims first (``addToInflightNode``), then a new NodeClaim per NodePool in order
        (``addToNewNodeClaim``; node limits, ``Taints.ToleratesPod``, requirements, instance type
        resources). Success: Normal ``Nominated`` "Pod should schedule on: nodeclaim/<name>"
        (provisioner.go via ``NominatePodEvent``); Karpenter never writes
        ``status.nominatedNodeName`` (it only reads it, pkg/utils/pod ``IsPreempting``). Failure:
        Warning ``FailedScheduling`` "Failed to schedule pod, <errors>"
        (``PodFailedToScheduleEvent``)."""
        for key, pod in pending:
            spec = pod["spec"]
            node = self._fits_in_flight(states, key, spec)
            errors: list[str] = []
            for state in states if node is None else ():
                error = karpenter_rejection(state.pool, state.size, spec)
                if error:
                    errors.append(error)
                    continue
                node = self._new_node(state)
                self._provision(state, node)
                node = self._fits_in_flight([state], key, spec)
                break
            if node is not None:
                self._event(
                    pod,
                    "Normal",
                    "Nominated",
                    f"Pod should schedule on: nodeclaim/{node.spec.name}",
                    "karpenter",
                )
            elif errors:
                self._event(
                    pod,
                    "Warning",
                    "FailedScheduling",
                    "Failed to schedule pod, " + "; ".join(errors),
                    "karpenter",
                )

    # ------------------------------------------------------------------ node lifecycle
    def _new_node(self, state: PoolState) -> PoolNode:
        while True:
            name = node_name(state.pool, self._rng)
            if (
                name not in self.node_specs
                and not self._stored(name)
                and all(name not in s.nodes for s in self.pools.values())
            ):
                break
        spec = pool_node_spec(state.pool, name)
        node = PoolNode(spec=spec, state=NodeState.from_spec(spec))
        state.nodes[name] = node
        return node

    def _stored(self, name: str) -> bool:
        try:
            self.store.get_ref("nodes", None, name)
        except ApiError:
            return False
        return True

    def _provision(self, state: PoolState, node: PoolNode) -> None:
        seconds = state.pool.scale_up_seconds
        self.timers.later(seconds * REGISTER_FRACTION, self._register, state, node)
        self.timers.later(seconds, self._ready, state, node)

    def _register(self, state: PoolState, node: PoolNode) -> None:
        """The VM booted and its kubelet registered the Node, NotReady and tainted not-ready."""
        if node.registered or state.nodes.get(node.spec.name) is not node:
            return
        node.registered = True
        name = node.spec.name
        self.kubelet.add_node(name)
        unready = node.spec.model_copy(update={"taints": [*node.spec.taints, NOT_READY_TAINT]})
        now = format_time(self.store.now())
        self.store.create(
            "nodes", node_object(unready, self.kubelet.host_ip(name), now, ready=False)
        )
        self.node_specs[name] = node.spec
        self.scheduler.add_node(unready)

    def _ready(self, state: PoolState, node: PoolNode) -> None:
        """The kubelet reports Ready; the node lifecycle controller lifts the not-ready taint."""
        self._register(state, node)
        if node.ready or state.nodes.get(node.spec.name) is not node:
            return
        node.ready = True
        for key in node.pods:
            self._assigned.pop(key, None)
        node.pods.clear()
        name, now = node.spec.name, format_time(self.store.now())
        taints = [t.model_dump() for t in node.spec.taints]
        self.store.merge_patch("nodes", None, name, {"spec": {"taints": taints}})
        self.store.merge_patch(
            "nodes",
            None,
            name,
            {"status": {"conditions": node_conditions(now)}},
            subresource="status",
        )
        self.scheduler.update_node(node.spec)
        self._arm_idle(state, node)

    def _arm_idle(self, state: PoolState, node: PoolNode) -> None:
        self.timers.cancel(node.idle)
        node.idle = None
        if node.ready and self.scheduler.pod_count(node.spec.name) == 0:
            node.idle = self.timers.later(
                state.pool.scale_down_idle_seconds, self._scale_down, state, node
            )

    def _scale_down(self, state: PoolState, node: PoolNode) -> None:
        """Remove an empty node if the pool stays at or above ``min``.

        cluster-autoscaler: core/scaledown/actuation/actuator.go ``taintNode`` -> taint
        ``ToBeDeletedByClusterAutoscaler`` and Normal ``ScaleDown`` "marked the node as
        toBeDeleted/unschedulable", then the VM and its Node go. Karpenter:
        pkg/controllers/disruption/events ``Terminating`` -> Normal ``DisruptionTerminating``
        "Disrupting Node: Empty" and the ``karpenter.sh/disrupted:NoSchedule`` taint."""
        node.idle = None
        name = node.spec.name
        if self.scheduler.pod_count(name) or state.size <= state.pool.min:
            return
        try:
            obj = self.store.get_ref("nodes", None, name)
        except ApiError:
            obj = None
        if state.pool.autoscaler == "karpenter":
            taint = Taint(key="karpenter.sh/disrupted", effect="NoSchedule")
            reason, message, component = (
                "DisruptionTerminating",
                "Disrupting Node: Empty",
                "karpenter",
            )
        else:
            stamp = str(int(self.store.now().timestamp()))
            taint = Taint(key="ToBeDeletedByClusterAutoscaler", value=stamp, effect="NoSchedule")
            reason, message = "ScaleDown", "marked the node as toBeDeleted/unschedulable"
            component = "cluster-autoscaler"
        self.scheduler.remove_node(name)
        if obj is not None:
            taints = [*(t.model_dump() for t in node.spec.taints), taint.model_dump()]
            obj = self.store.merge_patch("nodes", None, name, {"spec": {"taints": taints}})
            self.store.record_event(
                obj, type="Normal", reason=reason, message=message, component=component
            )
            self.store.delete("nodes", None, name)
        del state.nodes[name]
        self.node_specs.pop(name, None)

    def _event(self, pod: Obj, kind: str, reason: str, message: str, component: str) -> None:
        self.store.record_event(pod, type=kind, reason=reason, message=message, component=component)
