"""What the status rules look at, read once from the raw objects through ``core.objects``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.objects import EventView, PodView, RayClusterView, aware, obj, objs, text
from core.status_types import StatusSettings


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
    autoscaler_events: dict[str, list[EventView]]  # node autoscalers' events per pod, newest first
    settings: StatusSettings
    autoscaler_seen: bool  # a node autoscaler acts in this cluster (settings, or these events)
    #: Moments at which a rule's verdict changes by time alone; derive_status reports the first.
    deadlines: list[datetime] = field(default_factory=list)

    def within(self, start: datetime | None, allowed: timedelta) -> bool:
        """True while less than ``allowed`` has passed since ``start`` (None: not started yet,
        so nothing has passed), and remembers the moment that stops being true."""
        if start is None:
            return True
        end = start + allowed
        if self.now <= end:
            self.deadlines.append(end)
            return True
        return False

    @classmethod
    def read(
        cls,
        raycluster: Any,
        pods: Any,
        events: Any,
        now: datetime,
        settings: StatusSettings | None = None,
    ) -> ClusterFacts:
        settings = settings or StatusSettings()
        rc = obj(raycluster)
        meta = obj(rc.get("metadata"))
        name = text(meta.get("name"))
        views = [PodView.parse(p) for p in objs(pods)]
        if name and not any(p.is_head for p in views):  # unlabelled pods: KubeRay's name pattern
            views = [replace(p, node_type="head") if _named_head(p, name) else p for p in views]
        views.sort(key=lambda p: (not p.is_head, p.name))
        live = [p for p in views if not p.terminating]
        active = [p for p in live if not p.finished]
        every = sorted(
            map(EventView.parse, objs(events)), key=lambda e: e.last_seen or _EPOCH, reverse=True
        )
        warnings = [e for e in every if e.warning]
        pod_events: dict[str, list[EventView]] = {}
        for event in warnings:
            if event.kind == "Pod":
                pod_events.setdefault(event.name, []).append(event)
        autoscaler_events: dict[str, list[EventView]] = {}
        for event in every:
            if event.kind == "Pod" and event.from_node_autoscaler:
                autoscaler_events.setdefault(event.name, []).append(event)
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
            autoscaler_events=autoscaler_events,
            settings=settings,
            autoscaler_seen=settings.autoscaler_seen or bool(autoscaler_events),
        )

    def seen_within(self, event: EventView, window: timedelta) -> bool:
        """Recent enough to count; an event without any timestamp is given the benefit."""
        return event.last_seen is None or self.now - event.last_seen <= window


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _named_head(pod: PodView, cluster: str) -> bool:
    return pod.node_type == "" and pod.name.startswith(f"{cluster}-head")
