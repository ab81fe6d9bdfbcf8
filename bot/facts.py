"""Pure extraction of what the Slack views show from a live RayCluster and its pods.

The notifier sees raw objects from the watch (not ``core.api`` summaries), so the few facts a
status card needs — owner, image, GPUs, worker counts, Slack thread — are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.status import ClusterStatus
from manifests.labels import NOTIFIED, OWNER, SLACK_CHANNEL, SLACK_TEAM, SLACK_THREAD_TS

__all__ = ["NOTIFIED", "OWNER", "SLACK_CHANNEL", "SLACK_TEAM", "SLACK_THREAD_TS"]

DELETED_BY = "krayne.io/deleted-by"
"""Who deleted the cluster from Slack, so the card can say so once the object is gone."""
GPU_KEY = "nvidia.com/gpu"


@dataclass(frozen=True, slots=True)
class CardView:
    """What the status card of one cluster shows."""

    name: str
    namespace: str
    owner: str | None
    status: ClusterStatus
    images: tuple[str, ...] | None
    """The distinct images the cluster's pods run, head first (None: not known)."""
    gpus: int
    ready_workers: int
    desired_workers: int
    deleted_by: str | None = None
    gone: bool = False


def annotations_of(obj: dict[str, Any] | None) -> dict[str, str]:
    if not obj:
        return {}
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(((template or {}).get("spec") or {}).get("containers") or [])


def _gpus_of(container: dict[str, Any]) -> int:
    resources = container.get("resources") or {}
    for section in ("limits", "requests"):
        value = (resources.get(section) or {}).get(GPU_KEY)
        if value is not None:
            try:
                return int(str(value))
            except ValueError:
                return 0
    return 0


def images_of(obj: dict[str, Any]) -> tuple[str, ...]:
    """Distinct images of the head and every worker group, head first: a GPU group runs the
    ``-gpu`` image while the head runs the CPU one, and the card shows both."""
    spec = obj.get("spec") or {}
    templates = [(spec.get("headGroupSpec") or {}).get("template") or {}]
    templates += [g.get("template") or {} for g in spec.get("workerGroupSpecs") or []]
    found: list[str] = []
    for template in templates:
        containers = _containers(template)
        image = containers[0].get("image") if containers else None
        if image and str(image) not in found:
            found.append(str(image))
    return tuple(found)


def total_gpus(obj: dict[str, Any]) -> int:
    """GPUs the desired pods ask for: head plus each group's replicas × per-pod GPUs."""
    spec = obj.get("spec") or {}
    head = _containers((spec.get("headGroupSpec") or {}).get("template") or {})
    total = _gpus_of(head[0]) if head else 0
    for group in spec.get("workerGroupSpecs") or []:
        containers = _containers(group.get("template") or {})
        if containers:
            total += _gpus_of(containers[0]) * int(group.get("replicas") or 0)
    return total


def card_view(obj: dict[str, Any], status: ClusterStatus, *, gone: bool = False) -> CardView:
    meta = obj.get("metadata") or {}
    notes = annotations_of(obj)
    return CardView(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "default")),
        owner=notes.get(OWNER),
        status=status,
        images=images_of(obj),
        gpus=total_gpus(obj),
        ready_workers=status.ready_workers,
        desired_workers=status.desired_workers,
        deleted_by=notes.get(DELETED_BY),
        gone=gone,
    )


def head_service(name: str) -> str:
    return f"{name}-head-svc"


def head_dns(name: str, namespace: str) -> str:
    return f"{head_service(name)}.{namespace}.svc.cluster.local"


def head_ports(obj: dict[str, Any]) -> dict[str, int]:
    """Port name -> port from the head container (KubeRay's defaults where it lists none)."""
    ports = {"dashboard": 8265, "client": 10001, "gcs-server": 6379}
    head = _containers(((obj.get("spec") or {}).get("headGroupSpec") or {}).get("template") or {})
    for port in (head[0].get("ports") or []) if head else []:
        if port.get("name") and port.get("containerPort"):
            ports[str(port["name"])] = int(port["containerPort"])
    return ports
