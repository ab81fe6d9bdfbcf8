"""Status rules for waits that pass on their own on real, elastic clusters.

A GPU pod is Unschedulable for minutes while a node autoscaler adds a node; the first pull of a
popular image can hit a registry rate limit; containerd sometimes fails a create it retries a
moment later. Reported as failures, each of these cries wolf. These rules tell the passing from
the final, each from what the platform itself records:

- cluster-autoscaler records on the pod ``Normal TriggeredScaleUp`` ("pod triggered scale-up:
  [{pool 0->1 (max: 1)}]") or ``Normal NotTriggerScaleUp`` ("pod didn't trigger scale-up: …")
  (kubernetes/autoscaler ``cluster-autoscaler/processors/status/eventing_scale_up_processor.go``,
  ``EventingScaleUpStatusProcessor.Process``). GKE's node auto-provisioning and Autopilot run it.
- Karpenter records ``Normal Nominated`` ("Pod should schedule on: nodeclaim/x") when it has
  launched capacity for the pod, and ``Warning FailedScheduling`` ("Failed to schedule pod, …")
  from the ``karpenter`` component when no NodePool can help (kubernetes-sigs/karpenter
  ``pkg/controllers/provisioning/scheduling/events.go``, ``NominatePodEvent`` and
  ``PodFailedToScheduleEvent``).
- kube-scheduler sets ``status.nominatedNodeName`` when preemption makes room for the pod.
- The kubelet retries pulls and creates with a back-off doubling from 10 s to 5 min
  (kubernetes ``pkg/kubelet/images/image_manager.go``); its ``Failed`` events say why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core import status_reasons as msg
from core.objects import GCS_WAIT_CONTAINER, SCALE_UP_ACTING, ContainerView, EventView, PodView
from core.status_facts import ClusterFacts
from core.status_types import Phase

Found = tuple[Phase, str, str | None, str | None]  # phase, reason, hint, pod

#: Kubelet event reasons while it retries a pull or a create.
_RETRY_EVENTS = frozenset({"Failed", "BackOff", "ErrImagePull"})


def autoscaler_verdict(events: list[EventView]) -> EventView | None:
    """The newest node-autoscaler event about one pod (``events`` newest first)."""
    return next((e for e in events if e.from_node_autoscaler), None)


def unschedulable(f: ClusterFacts) -> Found | None:
    """An Unschedulable pod: waiting for a node, still within its grace, or unschedulable."""
    for pod in f.active:
        if pod.unschedulable_message is None:
            continue
        verdict = autoscaler_verdict(f.autoscaler_events.get(pod.name, []))
        since = pod.unschedulable_since or pod.created
        acting = bool(pod.nominated_node) or (
            verdict is not None and verdict.reason in SCALE_UP_ACTING
        )
        refused = verdict is not None and not acting
        grace = (
            f.settings.node_grace_with_autoscaler
            if f.autoscaler_seen or acting
            else f.settings.node_grace_without_autoscaler
        )
        if acting and f.within(since, grace):
            detail = verdict.message if verdict is not None else f"node {pod.nominated_node}"
            return (
                Phase.WAITING_FOR_NODE,
                msg.waiting_for_node(pod=pod.name, detail=detail),
                None,
                pod.name,
            )
        if not refused and not acting and f.within(since, grace):
            return Phase.PODS_PENDING, msg.PODS_PENDING.format(pod=pod.name), None, pod.name
        detail = pod.unschedulable_message or next(
            (e.message for e in f.pod_events.get(pod.name, []) if e.reason == "FailedScheduling"),
            "",
        )
        if refused and verdict is not None:
            detail = verdict.message
        elif acting:
            waited = msg.age_text(_since(f.now, since).total_seconds())
            detail = msg.node_never_came(waited=waited, detail=detail)
        reason, hint = msg.unschedulable(
            pod=pod.name,
            requests=msg.format_requests(pod.requests),
            detail=detail,
            name=f.name,
        )
        return Phase.UNSCHEDULABLE, reason, hint, pod.name
    return None


def retry_start(f: ClusterFacts, pod: PodView) -> datetime | None:
    """When the kubelet began retrying this pod: its first ``Failed`` event, else the pod's
    creation (it cannot have retried for longer than it has existed)."""
    firsts = [
        e.first_seen
        for e in f.pod_events.get(pod.name, [])
        if e.reason in _RETRY_EVENTS and e.first_seen is not None
    ]
    return min(firsts) if firsts else pod.created


def within_retry_budget(f: ClusterFacts, pod: PodView) -> bool:
    return f.within(retry_start(f, pod), f.settings.retry_budget)


def retrying(f: ClusterFacts, pod: PodView, what: str, detail: str) -> Found:
    waited = msg.age_text(_since(f.now, retry_start(f, pod)).total_seconds())
    reason = msg.retrying(pod=pod.name, what=what, detail=detail, waited=waited)
    return Phase.RETRYING, reason, None, pod.name


def stalled(f: ClusterFacts) -> Found | None:
    """A pod waiting for the head's GCS (``wait-gcs-ready``) past ``init_stall_after``."""
    for pod in f.active:
        if pod.phase != "Pending" or pod.is_head:
            continue
        waiting = _gcs_wait(pod)
        if waiting is None:
            continue
        since = waiting.started or pod.created
        if f.within(since, f.settings.init_stall_after):
            continue
        address = f"{f.name}-head-svc.{f.namespace}.svc.cluster.local:6379"
        reason, hint = msg.init_stalled(
            pod=pod.name,
            waited=msg.age_text(_since(f.now, since).total_seconds()),
            address=address,
            head=f.head.name if f.head is not None else None,
            namespace=f.namespace,
        )
        return Phase.STALLED, reason, hint, pod.name
    return None


def _gcs_wait(pod: PodView) -> ContainerView | None:
    inits = [c for c in pod.containers if c.init and not c.completed]
    first = inits[0] if inits else None
    return first if first is not None and first.name == GCS_WAIT_CONTAINER else None


def _since(now: datetime, then: datetime | None) -> timedelta:
    return now - then if then is not None else timedelta(0)
