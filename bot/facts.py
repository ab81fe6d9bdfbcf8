"""What a status card shows, read off a live RayCluster through ``core.objects``/``core.state``.

The notifier sees raw objects from the watch (not ``core.api`` summaries); both read through the
same views, so the card and ``/krayne list`` agree on workers, GPUs and owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.objects import RayClusterView
from core.state import ClusterState
from core.status import ClusterStatus


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


def card_view(obj: dict[str, Any], status: ClusterStatus, *, gone: bool = False) -> CardView:
    view = RayClusterView.parse(obj)
    state = ClusterState.read(view)
    return CardView(
        name=view.name,
        namespace=view.namespace,
        owner=state.owner,
        status=status,
        images=view.images,
        gpus=view.total_gpus,
        ready_workers=status.ready_workers,
        desired_workers=status.desired_workers,
        deleted_by=state.deleted_by,
        gone=gone,
    )
