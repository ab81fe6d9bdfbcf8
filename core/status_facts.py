"""What the status rules look at, read once from the raw objects through ``core.objects``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.objects import EventView, PodView, RayClusterView, aware, obj, objs, text


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
            desired=RayClusterView.parse(rc).desired_workers,
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
