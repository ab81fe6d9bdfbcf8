"""The bot's state on each RayCluster: annotation keys, one typed record, one patch builder.

State lives on the RayCluster, not in a database (DESIGN §7), the way kopf keeps its progress in
prefixed annotations (``kopf/_cogs/configs/progress.py``): the owner, the Slack team, channel and
thread, what was last announced in the thread, and who deleted it from Slack. Everything that
reads this state goes through ``ClusterState.read``; everything that writes it builds its merge
patch with ``state_patch``, so keys and encodings are spelt in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from core.objects import RayClusterView, timestamp
from manifests.labels import OWNER

__all__ = [
    "DELETED_BY",
    "EXPIRES_AT",
    "REMINDED_FOR",
    "SCALED_BY",
    "SCALE_REQUESTS",
    "TTL_SUSPENDED_AT",
    "GONE",
    "SCALING",
    "NOTIFIED",
    "OWNER",
    "SLACK_CHANNEL",
    "SLACK_TEAM",
    "SLACK_THREAD_TS",
    "ClusterState",
    "Notified",
    "SlackRef",
    "creation_annotations",
    "decode_notified",
    "encode_notified",
    "state_patch",
]

SLACK_TEAM = "krayne.io/slack-team"
SLACK_CHANNEL = "krayne.io/slack-channel"
SLACK_THREAD_TS = "krayne.io/slack-thread-ts"
NOTIFIED = "krayne.io/notified"
DELETED_BY = "krayne.io/deleted-by"
#: The Slack request (its trigger_id) that created the cluster. Slack re-sends a request whose
#: ack it missed, possibly to another replica: a create that finds its cluster made by the same
#: request is that retry, done already (the dedupe lives in Kubernetes, shared by replicas).
SLACK_REQUEST = "krayne.io/slack-request"
"""Who deleted the cluster from Slack, so the card can say so once the object is gone."""
SCALED_BY = "krayne.io/scaled-by"
"""Set in the very write of a scale from Slack (``user:nonce``): a spec change that does not
change it came from elsewhere (kubectl, a GitOps tool) and is told in the thread."""
SCALE_REQUESTS = "krayne.io/scale-requests"
"""The Slack requests (trigger ids) of the last few scales from Slack, oldest first, separated by
spaces, written in the scale's own write. Slack re-sends a request whose ack it missed
(https://docs.slack.dev/apis/events-api/#retries), maybe to another replica whose in-process
dedupe never saw it; a relative +1/-1 button applied twice would add two workers, so a scale
whose request is recorded here is that retry, done already."""
_SCALE_REQUESTS_KEPT = 8
EXPIRES_AT = "krayne.io/expires-at"
"""When the cluster's TTL runs out (RFC 3339, UTC); absent: it never expires."""
REMINDED_FOR = "krayne.io/reminded-for"
"""The expiry the owner was last reminded of (a new expiry earns a new reminder)."""
TTL_SUSPENDED_AT = "krayne.io/ttl-suspended-at"
"""When the bot suspended the cluster because its TTL ran out (it is deleted a grace later)."""

_REASON_MAX = 200
#: Phases a Notified record may hold besides the status phases: the cluster is gone (its last
#: reply was said), or a person just scaled it (the thread follows that to "ready again").
GONE = "gone"
SCALING = "scaling"


class Notified(TypedDict, total=False):
    """What ``krayne.io/notified`` holds: the last phase announced and its reason, and whether
    ``ready`` was ever announced (the owner is mentioned only the first time)."""

    phase: str
    reason: str
    was_ready: bool
    seq: int  # how many replies the thread has been told (tells two "ready"s apart)


def encode_notified(record: Notified) -> str:
    """Compact, sorted JSON; the reason is clipped so the annotation stays small."""
    clipped = dict(record)
    if "reason" in clipped:
        clipped["reason"] = str(clipped["reason"])[:_REASON_MAX]
    return json.dumps(clipped, separators=(",", ":"), sort_keys=True)


def decode_notified(raw: str | None) -> Notified | None:
    """The record, or None for a missing or unreadable annotation (never raises)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("phase"), str):
        return None
    record = Notified(phase=value["phase"], reason=str(value.get("reason", "")))
    if value.get("was_ready") is True:
        record["was_ready"] = True
    seq = value.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0:
        record["seq"] = seq
    return record


@dataclass(frozen=True, slots=True)
class SlackRef:
    """Where a cluster's Slack thread lives (annotations krayne.io/slack-*)."""

    team: str | None
    channel: str
    thread_ts: str | None


@dataclass(frozen=True, slots=True)
class ClusterState:
    """Everything the bot keeps on one RayCluster, read without ever failing."""

    owner: str | None
    slack: SlackRef | None
    notified: Notified | None
    deleted_by: str | None
    expires: datetime | None = None
    reminded_for: datetime | None = None
    ttl_suspended_at: datetime | None = None

    @property
    def channel(self) -> str | None:
        return self.slack.channel if self.slack else None

    @property
    def thread_ts(self) -> str | None:
        return self.slack.thread_ts if self.slack else None

    @classmethod
    def read(cls, raycluster: dict[str, Any] | RayClusterView | None) -> ClusterState:
        view = (
            raycluster
            if isinstance(raycluster, RayClusterView)
            else RayClusterView.parse(raycluster)
        )
        notes = view.annotations
        channel = notes.get(SLACK_CHANNEL)
        slack = (
            SlackRef(
                team=notes.get(SLACK_TEAM) or None,
                channel=channel,
                thread_ts=notes.get(SLACK_THREAD_TS) or None,
            )
            if channel
            else None
        )
        return cls(
            owner=view.owner,
            slack=slack,
            notified=decode_notified(notes.get(NOTIFIED)),
            deleted_by=notes.get(DELETED_BY) or None,
            expires=timestamp(notes.get(EXPIRES_AT)),
            reminded_for=timestamp(notes.get(REMINDED_FOR)),
            ttl_suspended_at=timestamp(notes.get(TTL_SUSPENDED_AT)),
        )


def creation_annotations(
    *, channel: str, team: str | None, expires: datetime | None = None,
    request: str | None = None,
) -> dict[str, str]:
    """The annotations a cluster created from Slack starts with (the thread comes later)."""
    notes = {SLACK_CHANNEL: channel}
    if team:
        notes[SLACK_TEAM] = team
    if expires is not None:
        notes[EXPIRES_AT] = rfc3339(expires)
    if request:
        notes[SLACK_REQUEST] = request
    return notes


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, ``Z``: how Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def made_by_request(raycluster: dict[str, Any], request: str | None) -> bool:
    """Whether ``raycluster`` was created by the Slack request ``request`` (a retry's twin)."""
    recorded = RayClusterView.parse(raycluster).annotations.get(SLACK_REQUEST)
    return bool(request) and recorded == request


def scaled_by_request(raycluster: dict[str, Any], request: str | None) -> bool:
    """Whether the scale asked for by the Slack request ``request`` is already written."""
    recorded = RayClusterView.parse(raycluster).annotations.get(SCALE_REQUESTS) or ""
    return bool(request) and request in recorded.split()


def scale_requests_with(raycluster: dict[str, Any], request: str) -> str:
    """``krayne.io/scale-requests`` with ``request`` added (only the newest few are kept: a
    retry comes within minutes, and the annotation must stay small)."""
    recorded = (RayClusterView.parse(raycluster).annotations.get(SCALE_REQUESTS) or "").split()
    return " ".join([*recorded, request][-_SCALE_REQUESTS_KEPT:])


class _Unset:
    pass


_UNSET: Any = _Unset()


def state_patch(
    *,
    thread_ts: str | None = _UNSET,
    notified: Notified | None = _UNSET,
    deleted_by: str | None = _UNSET,
    expires: datetime | None = _UNSET,
    reminded_for: datetime | None = _UNSET,
    ttl_suspended_at: datetime | None = _UNSET,
) -> dict[str, str | None]:
    """The annotations of one merge patch: only the fields given change; None removes a key."""
    patch: dict[str, str | None] = {}
    for key, moment in (
        (EXPIRES_AT, expires),
        (REMINDED_FOR, reminded_for),
        (TTL_SUSPENDED_AT, ttl_suspended_at),
    ):
        if moment is not _UNSET:
            patch[key] = None if moment is None else rfc3339(moment)
    if thread_ts is not _UNSET:
        patch[SLACK_THREAD_TS] = thread_ts
    if notified is not _UNSET:
        patch[NOTIFIED] = None if notified is None else encode_notified(notified)
    if deleted_by is not _UNSET:
        patch[DELETED_BY] = deleted_by
    return patch
