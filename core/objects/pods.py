"""Pods and their containers, read once: phase, readiness, scheduling, waiting and exit reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.objects.fields import integer, obj, objs, text, timestamp
from core.quantity import quantity_or_none
from manifests.labels import RAY_CLUSTER, RAY_GROUP, RAY_NODE_TYPE

PULL_ERRORS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
CANNOT_START = frozenset({"CreateContainerConfigError", "CreateContainerError"})
STARTING = frozenset({"ContainerCreating", "PodInitializing"})
GCS_WAIT_CONTAINER = "wait-gcs-ready"


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
    started: datetime | None = None  # state.running.startedAt

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
            started=timestamp(obj(state.get("running")).get("startedAt")),
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
    namespace: str = ""
    cluster: str = ""  # the ray.io/cluster label
    group: str = ""  # the ray.io/group label
    ip: str | None = None
    created: datetime | None = None
    unschedulable_since: datetime | None = None  # PodScheduled=False's lastTransitionTime
    nominated_node: str = ""  # status.nominatedNodeName

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
        node_type = text(labels.get(RAY_NODE_TYPE))
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
            namespace=text(meta.get("namespace")),
            cluster=text(labels.get(RAY_CLUSTER)),
            group=text(labels.get(RAY_GROUP)),
            ip=text(status.get("podIP")) or None,
            created=timestamp(meta.get("creationTimestamp")),
            unschedulable_since=(
                timestamp(sched.get("lastTransitionTime")) if unschedulable else None
            ),
            nominated_node=text(status.get("nominatedNodeName")),
        )


def _pod_requests(spec: dict[str, Any]) -> dict[str, Decimal]:
    """Sum of the regular containers' requests (limits where no request is set)."""
    totals: dict[str, Decimal] = {}
    for container in objs(spec.get("containers")):
        resources = obj(container.get("resources"))
        merged = {**obj(resources.get("limits")), **obj(resources.get("requests"))}
        for key, raw in merged.items():
            amount = quantity_or_none(str(raw)) if isinstance(raw, str | int | float) else None
            if isinstance(key, str) and amount is not None:
                totals[key] = totals.get(key, Decimal(0)) + amount
    order = {"cpu": 0, "memory": 1}
    return dict(sorted(totals.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])))


def pods_by_cluster(pods: Any) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Raw pods grouped by (namespace, their ray.io/cluster label); unlabelled pods are left out."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod in objs(pods):
        meta = obj(pod.get("metadata"))
        cluster = text(obj(meta.get("labels")).get(RAY_CLUSTER))
        if cluster:
            grouped.setdefault((text(meta.get("namespace")), cluster), []).append(pod)
    return grouped
