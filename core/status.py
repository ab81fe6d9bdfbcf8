"""Cluster status: one phase, one human reason, one hint — derived purely from live objects.

The types here are the contract between the API, the watcher and the Slack notifier.
``derive_status`` is a pure function of the RayCluster, its pods and Warning events. The wording
lives in ``core.status_reasons``, the tolerant JSON readers in ``core.objects``.

Decisions beyond DESIGN §4 (each has a test):

- ``status.state == "ready"`` with no pods is ``creating`` ("the head pod is gone"): KubeRay's
  state is sticky, the pods are the truth.
- Progress is the least advanced live pod: a worker still in ``Init:0/1`` (waiting for the GCS)
  keeps the cluster ``containers-creating`` even when the head is Ready.
- Terminating pods are ignored except by ``deleting``/``suspended``; Failed/Succeeded pods count
  as missing (KubeRay replaces them).
- A restarted container that is not Ready and whose latest termination (the current state, else
  ``lastState``) was a crash (non-zero exit or ``OOMKilled``) less than ``CRASH_RECENT`` ago is
  ``crash-loop``, like ``CrashLoopBackOff``: between two crashes the kubelet shows it Running,
  and the phase must not flap back to running on every restart. Being Ready ends it.
- A Running container whose last termination was ``OOMKilled`` less than ``CRASH_RECENT`` ago and
  that restarted is ``crash-loop`` with an OOM reason even while Ready, before it is killed again.
- ``CreateContainerConfigError``/``CreateContainerError`` (a missing secret or volume) are
  ``failed``: the container can never start without a change.
- ``InvalidRayCluster*`` events count until the operator writes a status again (a fixed spec);
  ``FailedToCreate*Pod`` events count while recent and the pods they name are missing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core import status_reasons as msg
from core import status_waits as waits
from core.objects import (
    CANNOT_START,
    GCS_WAIT_CONTAINER,
    PULL_ERRORS,
    STARTING,
    ContainerView,
    PodView,
    RayClusterView,
    Termination,
    condition,
    obj,
    text,
    timestamp,
)
from core.status_facts import ClusterFacts
from core.status_types import ClusterStatus, Phase, StatusSettings

__all__ = ["ClusterStatus", "Phase", "StatusSettings", "derive_status"]

# --- derivation -------------------------------------------------------------------------------

#: A FailedToCreate* event counts only this long after it was last seen (KubeRay retries every 2 s
#: and the event recorder repeats it at least every 5 min while the failure lasts).
EVENT_FRESH = timedelta(minutes=15)
#: A restarted container whose last crash is this recent is still crash-looping while not Ready
#: (and, after an OOM kill, even while Ready). Longer than the kubelet's longest back-off (5 min)
#: plus the time a crashing container runs, so a loop stays a loop from one crash to the next.
CRASH_RECENT = timedelta(minutes=10)
#: A container is crash-looping once it has crashed this many times: one OOM kill or one crash
#: followed by a recovery is not a loop (the kubelet restarts it; Ready proves the recovery).
LOOP_RESTARTS = 2
#: A RayCluster with no status this long after creation suggests no operator is running.
NO_STATUS_AFTER = timedelta(minutes=2)

_INVALID_EVENTS = frozenset({"InvalidRayClusterSpec", "InvalidRayClusterMetadata"})
_SETUP_EVENTS = frozenset(
    {
        "FailedToCreateService",
        "FailedToCreateServiceAccount",
        "FailedToCreateRole",
        "FailedToCreateRoleBinding",
        "FailedToCreateIngress",
        "FailedToCreateRoute",
        "AutoscalerServiceAccountNotFound",
    }
)
_REPLICA_FAILURES = {"FailedCreateHeadPod": "the head pod", "FailedCreateWorkerPod": "worker pods"}

_Found = tuple[Phase, str, str | None, str | None]  # phase, reason, hint, pod


def derive_status(
    raycluster: dict[str, Any],
    pods: list[dict[str, Any]],
    events: list[dict[str, Any]],
    now: datetime,
    settings: StatusSettings | None = None,
) -> ClusterStatus:
    """The cluster's phase with a reason and a hint, by DESIGN §4's rules, worst first.

    Pure and total: partial or malformed objects never raise. ``events`` are Warning (or all)
    events on the RayCluster and its pods; ``now`` decides which events and restarts are recent.
    KubeRay's sticky ``status.state`` is never trusted over the live pods.
    """
    facts = ClusterFacts.read(raycluster, pods, events, now, settings)
    found: _Found | None = None
    for rule in _RULES:
        found = rule(facts)
        if found is not None:
            break
    phase, reason, hint, pod = found or (Phase.CREATING, msg.UNKNOWN, None, None)
    return ClusterStatus(
        phase=phase,
        reason=reason or msg.UNKNOWN,
        hint=hint,
        pod=pod,
        ready_workers=sum(1 for p in facts.workers if p.ready),
        desired_workers=facts.desired,
        head_ready=facts.head is not None and facts.head.ready,
        recheck_at=min(facts.deadlines, default=None),
    )


def _deleting(f: ClusterFacts) -> _Found | None:
    if obj(f.raycluster.get("metadata")).get("deletionTimestamp") is None:
        return None
    left = len(f.pods)
    pods = msg.plural(left, "pod") + (" is" if left == 1 else " are")
    reason = msg.DELETING_PODS.format(pods=pods) if left else msg.DELETING
    return Phase.DELETING, reason, None, None


def _suspended(f: ClusterFacts) -> _Found | None:
    if obj(f.raycluster.get("spec")).get("suspend") is not True:
        return None
    left = len([p for p in f.pods if not p.finished])
    pods = msg.plural(left, "pod") + (" is" if left == 1 else " are")
    reason = msg.SUSPENDING.format(pods=pods) if left else msg.SUSPENDED
    return (
        Phase.SUSPENDED,
        reason,
        msg.SUSPENDED_HINT.format(name=f.name, namespace=f.namespace),
        None,
    )


def _failed(f: ClusterFacts) -> _Found | None:
    cond = condition(f.raycluster, "ReplicaFailure")
    what = _REPLICA_FAILURES.get(text(cond.get("reason")))
    if cond.get("status") == "True" and what and not _growth_refused(f, text(cond.get("reason"))):
        reason, hint = msg.replica_failure(what=what, detail=text(cond.get("message")), name=f.name)
        return Phase.FAILED, reason, hint, None
    status = obj(f.raycluster.get("status"))
    updated = timestamp(status.get("lastUpdateTime"))
    for event in f.cluster_events:
        if event.reason in _INVALID_EVENTS:
            # After rejecting a spec KubeRay writes no status; a status written later means
            # a fixed spec was reconciled since.
            if updated is None or event.last_seen is None or event.last_seen >= updated:
                reason, hint = msg.invalid_spec(
                    event_reason=event.reason, detail=event.message, name=f.name
                )
                return Phase.FAILED, reason, hint, None
        elif not f.seen_within(event, EVENT_FRESH):
            continue
        elif (event.reason == "FailedToCreateHeadPod" and f.head is None) or (
            event.reason == "FailedToCreateWorkerPod" and len(f.workers) < f.desired
        ):
            what = "the head pod" if event.reason == "FailedToCreateHeadPod" else "worker pods"
            reason, hint = msg.replica_failure(what=what, detail=event.message, name=f.name)
            return Phase.FAILED, reason, hint, None
        elif event.reason in _SETUP_EVENTS and f.head is None:
            reason, hint = msg.operator_warning(
                event_reason=event.reason, detail=event.message, name=f.name
            )
            return Phase.FAILED, reason, hint, None
    if status.get("state") == "failed":  # operators before v1.1 still set it
        detail = text(status.get("reason"))
        reason, hint = msg.replica_failure(what="the pods", detail=detail, name=f.name)
        return Phase.FAILED, reason, hint, None
    return None


def _growth_refused(f: ClusterFacts, reason: str) -> bool:
    """A worker pod the Ray autoscaler asked for beyond the groups' minimum was refused (a quota,
    say): the cluster keeps working at its size; the autoscaler asks again later."""
    if reason != "FailedCreateWorkerPod" or f.head is None or not f.head.ready:
        return False
    view = RayClusterView.parse(f.raycluster)
    floor = sum(g.min_replicas * g.num_of_hosts for g in view.groups if not g.suspended)
    return view.autoscaling and sum(1 for p in f.workers if p.ready) >= max(floor, 1)


def _image_pull(f: ClusterFacts) -> _Found | None:
    for pod in f.live:
        for c in pod.containers:
            if c.waiting_reason not in PULL_ERRORS:
                continue
            candidates = [c.waiting_message] + [
                e.message for e in f.pod_events.get(pod.name, []) if "image" in e.message.lower()
            ]
            problem, detail = msg.PullProblem.UNKNOWN, ""
            for message in filter(None, candidates):
                problem = msg.classify_pull_error(c.waiting_reason, message)
                if problem is not msg.PullProblem.UNKNOWN:
                    detail = message
                    break
            if not detail and not c.waiting_message.startswith("Back-off"):
                detail = c.waiting_message
            if problem.passing and waits.within_retry_budget(f, pod):
                what = f"{c.name} cannot pull `{c.image}` yet: {msg.pull_problem_text(problem)}"
                return waits.retrying(f, pod, what, detail)
            reason, hint = msg.image_pull(
                container=c.name,
                pod=pod.name,
                image=c.image,
                problem=problem,
                namespace=f.namespace,
                detail=detail,
            )
            return Phase.IMAGE_PULL_ERROR, reason, hint, pod.name
    return None


def _crash_loop(f: ClusterFacts) -> _Found | None:
    for pod in f.live:
        for c in pod.containers:
            looping = c.waiting_reason == "CrashLoopBackOff" or _between_crashes(c, f.now)
            if looping and c.restarts >= LOOP_RESTARTS:
                return _crashing(f, pod, c)
    for pod in f.live:
        for c in pod.containers:
            if c.waiting_reason == "CreateContainerError" and waits.within_retry_budget(f, pod):
                what = f"{c.name} could not be created ({c.waiting_reason})"
                return waits.retrying(f, pod, what, c.waiting_message)
            if c.waiting_reason in CANNOT_START:
                reason, hint = msg.cannot_start(
                    container=c.name,
                    pod=pod.name,
                    waiting_reason=c.waiting_reason,
                    detail=c.waiting_message,
                )
                return Phase.FAILED, reason, hint, pod.name
    return None


def _between_crashes(c: ContainerView, now: datetime) -> bool:
    """Restarted after a recent crash and not Ready again: the gap between two crashes.

    Between back-offs the kubelet shows the container Running (or, for a moment, terminated)
    rather than ``CrashLoopBackOff``; judged alone that reads as "starting" and the phase would
    flap on every restart. Readiness is what proves a recovery, so only a Ready container or one
    whose last crash is older than ``CRASH_RECENT`` counts as out of the loop. Init containers
    are never Ready while they run, so they are judged by ``CrashLoopBackOff`` alone.
    """
    if c.init or c.ready or c.restarts == 0 or c.waiting_reason:
        return False
    latest = c.latest_exit
    return latest is not None and latest.crashed and _recent(latest, now)


def _crashing(f: ClusterFacts, pod: PodView, c: ContainerView) -> _Found:
    latest = c.latest_exit
    reason, hint = msg.crash_loop(
        container=c.name,
        pod=pod.name,
        namespace=f.namespace,
        last_reason=latest.reason if latest else None,
        exit_code=latest.exit_code if latest else None,
        restarts=c.restarts,
        memory_flag=_memory_flag(pod),
    )
    return Phase.CRASH_LOOP, reason, hint, pod.name


def _recent(ended: Termination, now: datetime) -> bool:
    return ended.finished is not None and now - ended.finished <= CRASH_RECENT


def _memory_flag(pod: PodView) -> str:
    return "--head-memory" if pod.is_head else "--memory"


def _progress(f: ClusterFacts) -> _Found:
    """No failure: say how far the least advanced pod has got."""
    if f.head is None:
        return _creating(f)
    for pod in f.active:
        if pod.phase == "Pending" and not pod.scheduled:
            return Phase.PODS_PENDING, msg.PODS_PENDING.format(pod=pod.name), None, pod.name
    for pod in f.active:
        starting = _starting(pod)
        if starting is not None:
            return Phase.CONTAINERS_CREATING, starting, None, pod.name
    if not f.head.ready:
        return Phase.RUNNING, msg.HEAD_NOT_READY.format(pod=f.head.name), None, f.head.name
    ready = sum(1 for p in f.workers if p.ready)
    if ready < f.desired:
        waiting = next((p for p in f.workers if not p.ready), None)
        if waiting is None:
            return (
                Phase.RUNNING,
                msg.WORKERS_MISSING.format(ready=ready, desired=f.desired),
                None,
                None,
            )
        reason = msg.WORKERS_NOT_READY.format(ready=ready, desired=f.desired, pod=waiting.name)
        return Phase.RUNNING, reason, None, waiting.name
    workers = "its worker" if f.desired == 1 else f"all {f.desired} workers"
    reason = msg.READY.format(workers=workers) if f.desired else msg.READY_NO_WORKERS
    return Phase.READY, reason, None, f.head.name


def _creating(f: ClusterFacts) -> _Found:
    status = obj(f.raycluster.get("status"))
    provisioned = condition(f.raycluster, "RayClusterProvisioned").get("status") == "True"
    if f.active or status.get("state") == "ready" or provisioned:
        return Phase.CREATING, msg.CREATING_HEAD_GONE, None, None
    created = timestamp(obj(f.raycluster.get("metadata")).get("creationTimestamp"))
    if not status and created is not None and f.now - created > NO_STATUS_AFTER:
        age = msg.age_text((f.now - created).total_seconds())
        return (
            Phase.CREATING,
            msg.CREATING_NO_STATUS.format(age=age),
            msg.CREATING_NO_STATUS_HINT,
            None,
        )
    return Phase.CREATING, msg.CREATING, None, None


def _starting(pod: PodView) -> str | None:
    """Why a scheduled pod's containers are not all running yet, or None if they are."""
    inits = [c for c in pod.containers if c.init]
    pending_init = next((c for c in inits if not c.completed), None)
    if pod.phase == "Pending" and pending_init is not None:
        state = f"Init:{sum(c.completed for c in inits)}/{len(inits)}"
        if pending_init.name == GCS_WAIT_CONTAINER:
            return msg.WAITING_FOR_GCS.format(pod=pod.name, state=state)
        return msg.CONTAINERS_CREATING.format(
            pod=pod.name, container=pending_init.name, state=state
        )
    for c in pod.containers:
        if not c.init and c.waiting_reason in STARTING:
            return msg.CONTAINERS_CREATING.format(
                pod=pod.name, container=c.name, state=c.waiting_reason
            )
    if pod.phase == "Pending":
        return msg.POD_STARTING.format(pod=pod.name)
    return None


_RULES = (
    _deleting,
    _suspended,
    _failed,
    _image_pull,
    _crash_loop,
    waits.unschedulable,
    waits.stalled,
    _progress,
)
