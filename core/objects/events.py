"""core/v1 and events.k8s.io/v1 Events, read alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.objects.fields import integer, obj, objs, text, timestamp

#: What node autoscalers record on a pod they act on, or cannot help:
#: cluster-autoscaler (also GKE NAP/Autopilot) ``Normal TriggeredScaleUp`` / ``NotTriggerScaleUp``
#: (kubernetes/autoscaler cluster-autoscaler/processors/status/eventing_scale_up_processor.go);
#: Karpenter ``Normal Nominated`` and, from its own component, ``Warning FailedScheduling``
#: (kubernetes-sigs/karpenter pkg/controllers/provisioning/scheduling/events.go).
SCALE_UP_ACTING = frozenset({"TriggeredScaleUp", "Nominated"})
SCALE_UP_REFUSED = frozenset({"NotTriggerScaleUp"})
KARPENTER_COMPONENTS = ("karpenter", "eks-auto-mode")


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
    source: str = ""  # the component that recorded it: kubelet, cluster-autoscaler, karpenter…
    first_seen: datetime | None = None

    @property
    def from_node_autoscaler(self) -> bool:
        """Recorded by a node autoscaler: acting on the pod, or saying it cannot help."""
        return (
            self.reason in SCALE_UP_ACTING
            or self.reason in SCALE_UP_REFUSED
            or (self.reason == "FailedScheduling" and self.source.startswith(KARPENTER_COMPONENTS))
        )

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
        source = (
            text(obj(raw.get("source")).get("component"))
            or text(raw.get("reportingComponent"))
            or text(raw.get("reportingController"))
            or text(obj(raw.get("deprecatedSource")).get("component"))
        )
        first_seen = timestamp(raw.get("firstTimestamp")) or timestamp(
            raw.get("deprecatedFirstTimestamp")
        )
        return cls(
            kind=text(about.get("kind")),
            name=text(about.get("name")),
            reason=text(raw.get("reason")),
            message=(text(raw.get("message")) or text(raw.get("note"))).strip(),
            warning=kind == "Warning",
            last_seen=last_seen,
            type=kind,
            count=max(integer(raw.get("count")), integer(series.get("count")), 1),
            source=source,
            first_seen=first_seen or timestamp(raw.get("eventTime")) or last_seen,
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
