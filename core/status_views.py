"""Typed, never-failing views of the JSON objects status is derived from.

The API server's objects arrive as plain dicts and may be partial (a pod that was just created has
no ``status``; a fuzzer sends ``null`` anywhere). Every reader here tolerates missing keys and wrong
types, so ``core.status`` can state its rules without defensive clutter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.status_reasons import parse_quantity

PULL_ERRORS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
CANNOT_START = frozenset({"CreateContainerConfigError", "CreateContainerError"})
STARTING = frozenset({"ContainerCreating", "PodInitializing"})
GCS_WAIT_CONTAINER = "wait-gcs-ready"
_INT32_MAX = 2_147_483_647


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list | tuple) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def integer(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def timestamp(value: Any) -> datetime | None:
    """RFC 3339 (``2026-01-02T03:04:05Z``, with or without fractions) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Termination:
    """One ``terminated`` container state: the current one, or ``lastState``'s."""

    reason: str | None
    exit_code: int | None
    finished: datetime | None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Termination | None:
        if not raw:
            return None
        code = raw.get("exitCode")
        return cls(
            reason=text(raw.get("reason")) or None,
            exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            finished=timestamp(raw.get("finishedAt")),
        )

    @property
    def crashed(self) -> bool:
        """Ended by a failure: a non-zero exit code or the OOM killer (not a clean exit)."""
        return self.reason == "OOMKilled" or self.exit_code not in (None, 0)


@dataclass(frozen=True, slots=True)
class ContainerView:
    name: str
    init: bool
    image: str
    ready: bool
    running: bool
    restarts: int
    waiting_reason: str
    waiting_message: str
    exited: Termination | None  # the current state, when the container is not running now
    last: Termination | None  # lastState: the termination before the current run

    @property
    def completed(self) -> bool:
        """Terminated with exit code 0 (an init container that finished its job)."""
        return self.exited is not None and self.exited.exit_code == 0

    @property
    def latest_exit(self) -> Termination | None:
        """The newest termination: the current state while down, else the last one."""
        return self.exited or self.last

    @property
    def last_reason(self) -> str | None:
        return self.last.reason if self.last else None

    @property
    def last_exit_code(self) -> int | None:
        return self.last.exit_code if self.last else None

    @property
    def last_finished(self) -> datetime | None:
        return self.last.finished if self.last else None

    @classmethod
    def parse(cls, raw: dict[str, Any], *, init: bool, spec_image: str) -> ContainerView:
        state, last = obj(raw.get("state")), obj(obj(raw.get("lastState")).get("terminated"))
        waiting = obj(state.get("waiting"))
        return cls(
            name=text(raw.get("name")) or "container",
            init=init,
            image=spec_image or text(raw.get("image")),
            ready=raw.get("ready") is True,
            running=isinstance(state.get("running"), dict),
            restarts=max(integer(raw.get("restartCount")), 0),
            waiting_reason=text(waiting.get("reason")),
            waiting_message=text(waiting.get("message")),
            exited=Termination.parse(obj(state.get("terminated"))),
            last=Termination.parse(last),
        )


@dataclass(frozen=True, slots=True)
class PodView:
    name: str
    node_type: str  # "head", "worker" or "" when the label is missing
    phase: str
    terminating: bool
    ready: bool
    scheduled: bool
    unschedulable_message: str | None
    containers: tuple[ContainerView, ...]
    spec: dict[str, Any] = field(repr=False, compare=False)

    @property
    def requests(self) -> dict[str, Decimal]:
        """Computed on demand: only an unschedulable pod's message names them."""
        return _pod_requests(self.spec)

    @property
    def is_head(self) -> bool:
        return self.node_type == "head"

    @property
    def finished(self) -> bool:
        """Failed/Succeeded pods are deleted and recreated by KubeRay; they count as missing."""
        return self.phase in ("Failed", "Succeeded")

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> PodView:
        meta, spec, status = obj(raw.get("metadata")), obj(raw.get("spec")), obj(raw.get("status"))
        labels = obj(meta.get("labels"))
        name = text(meta.get("name")) or "a pod"
        node_type = text(labels.get("ray.io/node-type"))
        conditions = {text(c.get("type")): c for c in objs(status.get("conditions"))}
        sched = conditions.get("PodScheduled", {})
        unschedulable = sched.get("status") == "False" and sched.get("reason") == "Unschedulable"
        phase = text(status.get("phase")) or "Pending"
        images = {
            text(c.get("name")): text(c.get("image"))
            for c in objs(spec.get("initContainers")) + objs(spec.get("containers"))
        }
        containers = tuple(
            ContainerView.parse(c, init=init, spec_image=images.get(text(c.get("name")), ""))
            for key, init in (("initContainerStatuses", True), ("containerStatuses", False))
            for c in objs(status.get(key))
        )
        return cls(
            name=name,
            node_type=node_type,
            phase=phase,
            terminating=meta.get("deletionTimestamp") is not None,
            ready=phase == "Running" and obj(conditions.get("Ready")).get("status") == "True",
            scheduled=sched.get("status") == "True" or bool(text(spec.get("nodeName"))),
            unschedulable_message=text(sched.get("message")) if unschedulable else None,
            containers=containers,
            spec=spec,
        )


def _pod_requests(spec: dict[str, Any]) -> dict[str, Decimal]:
    """Sum of the regular containers' requests (limits where no request is set)."""
    totals: dict[str, Decimal] = {}
    for container in objs(spec.get("containers")):
        resources = obj(container.get("resources"))
        merged = {**obj(resources.get("limits")), **obj(resources.get("requests"))}
        for key, raw in merged.items():
            amount = parse_quantity(str(raw)) if isinstance(raw, str | int | float) else None
            if isinstance(key, str) and amount is not None:
                totals[key] = totals.get(key, Decimal(0)) + amount
    order = {"cpu": 0, "memory": 1}
    return dict(sorted(totals.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])))


@dataclass(frozen=True, slots=True)
class EventView:
    kind: str
    name: str
    reason: str
    message: str
    warning: bool
    last_seen: datetime | None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> EventView:
        # core/v1 Events use involvedObject/message/lastTimestamp; events.k8s.io/v1 use
        # regarding/note/series.lastObservedTime. Accept both.
        about = obj(raw.get("involvedObject")) or obj(raw.get("regarding"))
        series = obj(raw.get("series"))
        last_seen = None
        for candidate in (
            series.get("lastObservedTime"),
            raw.get("lastTimestamp"),
            raw.get("deprecatedLastTimestamp"),
            raw.get("eventTime"),
            raw.get("firstTimestamp"),
            obj(raw.get("metadata")).get("creationTimestamp"),
        ):
            last_seen = timestamp(candidate)
            if last_seen is not None:
                break
        return cls(
            kind=text(about.get("kind")),
            name=text(about.get("name")),
            reason=text(raw.get("reason")),
            message=text(raw.get("message")) or text(raw.get("note")),
            warning=raw.get("type") == "Warning",
            last_seen=last_seen,
        )


def desired_workers(raycluster: dict[str, Any]) -> int:
    """Σ clamp(replicas, min, max) × numOfHosts over unsuspended groups — KubeRay's own formula
    (``ctrl/utils/util.go``), read from the spec so a fresh scale shows before the status does."""
    spec = obj(raycluster.get("spec"))
    if "workerGroupSpecs" not in spec:
        return max(integer(obj(raycluster.get("status")).get("desiredWorkerReplicas")), 0)
    total = 0
    for group in objs(spec.get("workerGroupSpecs")):
        if group.get("suspend") is True:
            continue
        replicas = integer(group.get("replicas"))
        low = integer(group.get("minReplicas"))
        high = integer(group.get("maxReplicas"), _INT32_MAX)
        low = min(low, high)  # KubeRay uses max when min > max
        total += max(min(max(replicas, low), high), 0) * max(integer(group.get("numOfHosts"), 1), 1)
    return min(total, _INT32_MAX)


def condition(raycluster: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for cond in objs(obj(raycluster.get("status")).get("conditions")):
        if cond.get("type") == kind:
            return cond
    return {}


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """Everything the rules look at, read once from the raw objects."""

    raycluster: dict[str, Any]
    name: str
    namespace: str
    now: datetime
    pods: list[PodView]  # every pod, head first, then by name
    live: list[PodView]  # not terminating
    active: list[PodView]  # not terminating and not Failed/Succeeded
    head: PodView | None
    workers: list[PodView]
    desired: int
    cluster_events: list[EventView]  # Warning events on the RayCluster, newest first
    pod_events: dict[str, list[EventView]]  # Warning events per pod name, newest first

    @classmethod
    def read(cls, raycluster: Any, pods: Any, events: Any, now: datetime) -> ClusterFacts:
        rc = obj(raycluster)
        meta = obj(rc.get("metadata"))
        name = text(meta.get("name"))
        views = [PodView.parse(p) for p in objs(pods)]
        if name and not any(p.is_head for p in views):  # unlabelled pods: KubeRay's name pattern
            views = [replace(p, node_type="head") if _named_head(p, name) else p for p in views]
        views.sort(key=lambda p: (not p.is_head, p.name))
        live = [p for p in views if not p.terminating]
        active = [p for p in live if not p.finished]
        warnings = sorted(
            (e for e in map(EventView.parse, objs(events)) if e.warning),
            key=lambda e: e.last_seen or _EPOCH,
            reverse=True,
        )
        pod_events: dict[str, list[EventView]] = {}
        for event in warnings:
            if event.kind == "Pod":
                pod_events.setdefault(event.name, []).append(event)
        return cls(
            raycluster=rc,
            name=name or "the cluster",
            namespace=text(meta.get("namespace")) or "default",
            now=aware(now),
            pods=views,
            live=live,
            active=active,
            head=next((p for p in active if p.is_head), None),
            workers=[p for p in active if p.node_type == "worker"],
            desired=desired_workers(rc),
            cluster_events=[
                e for e in warnings if e.kind == "RayCluster" and (not name or e.name == name)
            ],
            pod_events=pod_events,
        )

    def seen_within(self, event: EventView, window: timedelta) -> bool:
        """Recent enough to count; an event without any timestamp is given the benefit."""
        return event.last_seen is None or self.now - event.last_seen <= window


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _named_head(pod: PodView, cluster: str) -> bool:
    return pod.node_type == "" and pod.name.startswith(f"{cluster}-head")
