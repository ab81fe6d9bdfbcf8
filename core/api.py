"""The async lifecycle API: free functions, the Kubernetes client injected, frozen results.

CONTRACT STUB — the dataclasses and signatures below are fixed (the Slack layer codes against them);
the bodies are filled in by the core API work (issue 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.config import ClusterConfig
from core.kube import KubeClient
from core.status import ClusterStatus


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
    endpoints: dict[str, int]  # port name -> port: dashboard 8265, client 10001, gcs-server 6379, ...
    services: tuple[str, ...]  # enabled extras: "notebook", "code-server", "ssh"
    warning_events: tuple[EventInfo, ...]  # most recent first, at most 10


async def create_cluster(
    config: ClusterConfig,
    *,
    client: KubeClient,
    ray_version: str = "2.53.0",
    owner: str | None = None,
    annotations: dict[str, str] | None = None,
    wait: bool = False,
    timeout: float = 300,
) -> ClusterSummary:
    raise NotImplementedError


async def get_cluster(name: str, namespace: str, *, client: KubeClient) -> ClusterSummary:
    raise NotImplementedError


async def list_clusters(
    namespace: str | None = None, *, client: KubeClient, owner: str | None = None
) -> list[ClusterSummary]:
    raise NotImplementedError


async def describe_cluster(name: str, namespace: str, *, client: KubeClient) -> ClusterDetails:
    raise NotImplementedError


async def scale_cluster(
    name: str,
    namespace: str,
    group: str | None = None,
    replicas: int | None = None,
    *,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    client: KubeClient,
) -> ClusterSummary:
    raise NotImplementedError


async def delete_cluster(name: str, namespace: str, *, client: KubeClient) -> None:
    raise NotImplementedError


async def annotate_cluster(
    name: str, namespace: str, annotations: dict[str, str | None], *, client: KubeClient
) -> None:
    """Merge-patch annotations (None removes a key): how the bot records Slack thread state."""
    raise NotImplementedError


async def wait_until_ready(
    name: str, namespace: str, *, client: KubeClient, timeout: float = 300
) -> ClusterStatus:
    raise NotImplementedError
