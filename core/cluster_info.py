"""What the lifecycle API returns, and the pure functions that read it off live objects.

The result types are the contract of ``core.api`` (which re-exports them); they live here so the
builders — RayCluster + pods + events in, frozen dataclasses out — are tested without a server.
Every reader tolerates missing keys: a RayCluster just created has no status, a pod no IP.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.status import ClusterStatus, derive_status
from manifests import labels
from manifests.raycluster import (
    CODE_SERVER_PORT,
    GPU_NODE_SELECTOR,
    GPU_RESOURCE,
    NOTEBOOK_PORT,
    SSH_PORT,
    head_service_name,
)

Obj = dict[str, Any]
MAX_EVENTS = 10
_SERVICE_PORTS = (NOTEBOOK_PORT[0], CODE_SERVER_PORT[0], SSH_PORT[0])


@dataclass(frozen=True, slots=True)
class SlackRef:
    """Where a cluster's Slack thread lives (annotations krayne.io/slack-*)."""

    team: str | None
    channel: str
    thread_ts: str | None


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


# -- small readers ------------------------------------------------------------------------------


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _container(group_spec: Obj) -> Obj:
    containers = _d(_d(group_spec.get("template")).get("spec")).get("containers") or [{}]
    return _d(containers[0])


def _amounts(container: Obj) -> tuple[str, str, int]:
    """(cpu, memory, gpus) of a container: limits, else requests."""
    res = _d(container.get("resources"))
    limits, requests = _d(res.get("limits")), _d(res.get("requests"))
    cpu = str(limits.get("cpu") or requests.get("cpu") or "")
    memory = str(limits.get("memory") or requests.get("memory") or "")
    gpus = _int(limits.get(GPU_RESOURCE, requests.get(GPU_RESOURCE)))
    return cpu, memory, gpus


def _groups(raycluster: Obj) -> list[Obj]:
    return [_d(g) for g in _d(raycluster.get("spec")).get("workerGroupSpecs") or []]


def desired_replicas(group_spec: Obj) -> int:
    """KubeRay's target: clamp(replicas, min, max) × numOfHosts (OPERATOR.md §5)."""
    low = _int(group_spec.get("minReplicas"), 0)
    high = _int(group_spec.get("maxReplicas"), 2_147_483_647)
    replicas = min(max(_int(group_spec.get("replicas"), 0), low), high)
    return replicas * max(_int(group_spec.get("numOfHosts"), 1), 1)


def total_gpus(raycluster: Obj) -> int:
    head = _amounts(_container(_d(_d(raycluster.get("spec")).get("headGroupSpec"))))[2]
    return head + sum(desired_replicas(g) * _amounts(_container(g))[2] for g in _groups(raycluster))


def pod_ready(pod: Obj) -> bool:
    conditions = _d(pod.get("status")).get("conditions") or []
    return any(_d(c).get("type") == "Ready" and _d(c).get("status") == "True" for c in conditions)


def _pod_labels(pod: Obj) -> dict[str, Any]:
    return _d(_d(pod.get("metadata")).get("labels"))


def _name(obj: Obj) -> str:
    return str(_d(obj.get("metadata")).get("name", ""))


def pods_by_cluster(pods: Iterable[Obj]) -> dict[tuple[str, str], list[Obj]]:
    """Pods grouped by (namespace, value of their ray.io/cluster label)."""
    grouped: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    for pod in pods:
        cluster = _pod_labels(pod).get(labels.RAY_CLUSTER)
        if cluster:
            grouped[(str(_d(pod.get("metadata")).get("namespace", "")), str(cluster))].append(pod)
    return grouped


def concerns_cluster(event: Obj, cluster: str, pod_names: Iterable[str]) -> bool:
    """Whether an Event is about the RayCluster ``cluster`` or one of its pods."""
    involved = _d(event.get("involvedObject"))
    kind, name = involved.get("kind"), involved.get("name")
    if kind == "RayCluster":
        return name == cluster
    return kind == "Pod" and name in set(pod_names)


def warning_events(cluster: str, pods: list[Obj], events: Iterable[Obj]) -> list[Obj]:
    names = {_name(p) for p in pods}
    return [e for e in events if e.get("type") == "Warning" and concerns_cluster(e, cluster, names)]


def event_info(event: Obj) -> EventInfo:
    involved = _d(event.get("involvedObject"))
    series = _d(event.get("series"))
    last = (
        parse_time(event.get("lastTimestamp"))
        or parse_time(series.get("lastObservedTime"))
        or parse_time(event.get("eventTime"))
        or parse_time(event.get("firstTimestamp"))
    )
    return EventInfo(
        type=str(event.get("type") or "Normal"),
        reason=str(event.get("reason") or ""),
        message=str(event.get("message") or "").strip(),
        object_name=f"{str(involved.get('kind') or '?').lower()}/{involved.get('name') or '?'}",
        count=max(_int(event.get("count"), 0), _int(series.get("count"), 0), 1),
        last_seen=last,
    )


def slack_ref(annotations: dict[str, str]) -> SlackRef | None:
    channel = annotations.get(labels.SLACK_CHANNEL)
    if not channel:
        return None
    return SlackRef(
        team=annotations.get(labels.SLACK_TEAM),
        channel=channel,
        thread_ts=annotations.get(labels.SLACK_THREAD_TS),
    )


# -- builders -----------------------------------------------------------------------------------


def summary_from(
    raycluster: Obj, pods: list[Obj], events: list[Obj], now: datetime
) -> ClusterSummary:
    """One cluster's summary; ``pods``/``events`` must be its own (see ``pods_by_cluster``)."""
    meta = _d(raycluster.get("metadata"))
    annotations = {str(k): str(v) for k, v in _d(meta.get("annotations")).items()}
    status = derive_status(raycluster, pods, events, now)
    return ClusterSummary(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        owner=annotations.get(labels.OWNER) or _d(meta.get("labels")).get(labels.OWNER),
        status=status,
        created_at=parse_time(meta.get("creationTimestamp")),
        ready_workers=status.ready_workers,
        desired_workers=status.desired_workers,
        gpus=total_gpus(raycluster),
        slack=slack_ref(annotations),
        annotations=annotations,
    )


def details_from(
    raycluster: Obj, pods: list[Obj], events: list[Obj], now: datetime
) -> ClusterDetails:
    """Everything describe shows; ``events`` may hold the whole namespace's, they are filtered."""
    mine = warning_events(_name(raycluster), pods, events)
    summary = summary_from(raycluster, pods, mine, now)
    spec = _d(raycluster.get("spec"))
    head_container = _container(_d(spec.get("headGroupSpec")))
    head_pods = [p for p in pods if _pod_labels(p).get(labels.RAY_NODE_TYPE) == "head"]
    head_pod = next((p for p in head_pods if pod_ready(p)), head_pods[0] if head_pods else None)
    cpu, memory, _ = _amounts(head_container)
    head = HeadInfo(
        cpus=cpu,
        memory=memory,
        image=str(head_container.get("image", "")),
        pod_name=_name(head_pod) if head_pod else None,
        pod_ip=_d(head_pod.get("status")).get("podIP") if head_pod else None,
        ready=bool(head_pod and pod_ready(head_pod)),
    )
    groups = []
    for group in _groups(raycluster):
        gname = str(group.get("groupName", ""))
        container = _container(group)
        g_cpu, g_memory, g_gpus = _amounts(container)
        selector = _d(_d(_d(group.get("template")).get("spec")).get("nodeSelector"))
        ready = sum(
            1
            for p in pods
            if _pod_labels(p).get(labels.RAY_GROUP) == gname
            and _pod_labels(p).get(labels.RAY_NODE_TYPE) != "head"
            and pod_ready(p)
        )
        groups.append(
            WorkerGroupInfo(
                name=gname,
                replicas=_int(group.get("replicas"), 0),
                min_replicas=_int(group.get("minReplicas"), 0),
                max_replicas=_int(group.get("maxReplicas"), 2_147_483_647),
                ready=ready,
                cpus=g_cpu,
                memory=g_memory,
                gpus=g_gpus,
                gpu_type=selector.get(GPU_NODE_SELECTOR),
                image=str(container.get("image", "")),
            )
        )
    ports = {
        str(p.get("name")): _int(p.get("containerPort"))
        for p in (_d(x) for x in head_container.get("ports") or [])
        if p.get("name")
    }
    infos = sorted(
        (event_info(e) for e in mine),
        key=lambda i: i.last_seen.timestamp() if i.last_seen else float("-inf"),
        reverse=True,
    )
    return ClusterDetails(
        summary=summary,
        head=head,
        worker_groups=tuple(groups),
        head_service=f"{head_service_name(summary.name)}.{summary.namespace}.svc.cluster.local",
        endpoints=ports,
        services=tuple(s for s in _SERVICE_PORTS if s in ports),
        warning_events=tuple(infos[:MAX_EVENTS]),
    )
