"""What the lifecycle API returns, and the pure functions that read it off live objects.

The result types are the contract of ``core.api`` (which re-exports them); they live here so the
builders — RayCluster + pods + events in, frozen dataclasses out — are tested without a server.
Every reader tolerates missing keys: a RayCluster just created has no status, a pod no IP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.objects import EventView, PodView, RayClusterView, cluster_warnings, pods_by_cluster
from core.state import ClusterState, SlackRef
from core.status import ClusterStatus, derive_status
from manifests.labels import MANAGED_BY
from manifests.raycluster import CODE_SERVER_PORT, NOTEBOOK_PORT, SSH_PORT

__all__ = [
    "ClusterDetails",
    "ClusterSummary",
    "EventInfo",
    "HeadInfo",
    "SlackRef",
    "WorkerGroupInfo",
    "details_from",
    "pods_by_cluster",
    "summary_from",
    "warning_events",
]

Obj = dict[str, Any]
MAX_EVENTS = 10
_SERVICE_PORTS = (NOTEBOOK_PORT[0], CODE_SERVER_PORT[0], SSH_PORT[0])


@dataclass(frozen=True, slots=True)
class WorkerGroupInfo:
    name: str
    replicas: int
    min_replicas: int
    max_replicas: int
    ready: int
    cpus: str
    memory: str
    gpus: int
    gpu_type: str | None
    image: str


@dataclass(frozen=True, slots=True)
class HeadInfo:
    cpus: str
    memory: str
    image: str
    pod_name: str | None
    pod_ip: str | None
    ready: bool


@dataclass(frozen=True, slots=True)
class EventInfo:
    type: str  # Normal | Warning
    reason: str
    message: str
    object_name: str  # e.g. "pod/demo-head-abcde" or "raycluster/demo"
    count: int
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """One row of `/krayne list`."""

    name: str
    namespace: str
    owner: str | None  # Slack user id from krayne.io/owner
    status: ClusterStatus
    created_at: datetime | None
    ready_workers: int
    desired_workers: int
    gpus: int  # total GPUs requested by the desired workers (+ head)
    slack: SlackRef | None
    annotations: dict[str, str] = field(default_factory=dict)
    expires: datetime | None = None  # when its TTL runs out (krayne.io/expires-at)
    managed: bool = True  # made by krayne (app.kubernetes.io/managed-by=krayne)
    uid: str = ""  # metadata.uid: this cluster, not an earlier one of the same name


@dataclass(frozen=True, slots=True)
class ClusterDetails:
    """Everything `/krayne describe` shows."""

    summary: ClusterSummary
    head: HeadInfo
    worker_groups: tuple[WorkerGroupInfo, ...]
    head_service: str  # "<name>-head-svc.<ns>.svc.cluster.local"
    endpoints: dict[str, int]  # port name -> port: dashboard 8265, client 10001, gcs-server 6379
    services: tuple[str, ...]  # enabled extras: "notebook", "code-server", "ssh"
    warning_events: tuple[EventInfo, ...]  # most recent first, at most 10


# -- builders -----------------------------------------------------------------------------------


def warning_events(cluster: str, pods: list[Obj], events: Any) -> list[Obj]:
    """The Warning events about ``cluster`` or one of its ``pods``."""
    return cluster_warnings(cluster, pods, events)


def event_info(event: EventView) -> EventInfo:
    return EventInfo(
        type=event.type,
        reason=event.reason,
        message=event.message,
        object_name=event.object_name,
        count=event.count,
        last_seen=event.last_seen,
    )


def summary_from(
    raycluster: Obj, pods: list[Obj], events: list[Obj], now: datetime,
    *, status: ClusterStatus | None = None,
) -> ClusterSummary:
    """One cluster's summary; ``pods``/``events`` must be its own (see ``pods_by_cluster``).
    ``status``: one already derived (the watcher's), instead of deriving it again."""
    view = RayClusterView.parse(raycluster)
    state = ClusterState.read(view)
    if status is None:
        status = derive_status(raycluster, pods, events, now)
    return ClusterSummary(
        name=view.name,
        namespace=view.namespace,
        owner=state.owner,
        status=status,
        created_at=view.created_at,
        ready_workers=status.ready_workers,
        desired_workers=status.desired_workers,
        gpus=view.total_gpus,
        slack=state.slack,
        annotations=dict(view.annotations),
        expires=state.expires,
        managed=view.labels.get(MANAGED_BY[0]) == MANAGED_BY[1],
        uid=view.uid,
    )


def details_from(
    raycluster: Obj, pods: list[Obj], events: list[Obj], now: datetime,
    *, status: ClusterStatus | None = None,
) -> ClusterDetails:
    """Everything describe shows; ``events`` may hold the whole namespace's, they are filtered."""
    view = RayClusterView.parse(raycluster)
    mine = warning_events(view.name, pods, events)
    summary = summary_from(raycluster, pods, mine, now, status=status)
    pod_views = [PodView.parse(p) for p in pods]
    head_pods = [p for p in pod_views if p.is_head]
    head_pod = next((p for p in head_pods if p.ready), head_pods[0] if head_pods else None)
    head = HeadInfo(
        cpus=view.head.cpus,
        memory=view.head.memory,
        image=view.head.image,
        pod_name=head_pod.name if head_pod else None,
        pod_ip=head_pod.ip if head_pod else None,
        ready=bool(head_pod and head_pod.ready),
    )
    groups = tuple(
        WorkerGroupInfo(
            name=group.name,
            replicas=group.replicas,
            min_replicas=group.min_replicas,
            max_replicas=group.max_replicas,
            ready=sum(
                1 for p in pod_views if p.group == group.name and not p.is_head and p.ready
            ),
            cpus=group.cpus,
            memory=group.memory,
            gpus=group.gpus,
            gpu_type=group.gpu_type,
            image=group.image,
        )
        for group in view.groups
    )
    infos = sorted(
        (event_info(EventView.parse(e)) for e in mine),
        key=lambda i: i.last_seen.timestamp() if i.last_seen else float("-inf"),
        reverse=True,
    )
    return ClusterDetails(
        summary=summary,
        head=head,
        worker_groups=groups,
        head_service=view.head_dns,
        endpoints=dict(view.head.ports),
        services=tuple(s for s in _SERVICE_PORTS if s in view.head.ports),
        warning_events=tuple(infos[:MAX_EVENTS]),
    )
