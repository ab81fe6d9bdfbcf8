"""core/v1 and events.k8s.io/v1 Events, read alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.objects.fields import integer, obj, objs, text, timestamp


@dataclass(frozen=True, slots=True)
class EventView:
    kind: str
    name: str
    reason: str
    message: str
    warning: bool
    last_seen: datetime | None
    type: str = "Normal"
    count: int = 1

    @property
    def object_name(self) -> str:
        """``pod/demo-head-abcde`` or ``raycluster/demo``, as kubectl names objects."""
        return f"{(self.kind or '?').lower()}/{self.name or '?'}"

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
        kind = text(raw.get("type")) or "Normal"
        return cls(
            kind=text(about.get("kind")),
            name=text(about.get("name")),
            reason=text(raw.get("reason")),
            message=(text(raw.get("message")) or text(raw.get("note"))).strip(),
            warning=kind == "Warning",
            last_seen=last_seen,
            type=kind,
            count=max(integer(raw.get("count")), integer(series.get("count")), 1),
        )


def cluster_warnings(cluster: str, pods: Any, events: Any) -> list[dict[str, Any]]:
    """The Warning events about the RayCluster ``cluster`` or one of ``pods``."""
    names = {text(obj(p.get("metadata")).get("name")) for p in objs(pods)}
    found = []
    for raw in objs(events):
        event = EventView.parse(raw)
        if not event.warning:
            continue
        if (event.kind == "RayCluster" and event.name == cluster) or (
            event.kind == "Pod" and event.name in names
        ):
            found.append(raw)
    return found
