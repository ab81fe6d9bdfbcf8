"""The audit trail: who did what from Slack, to which cluster, and what came of it.

Each mutating action (create, scale, delete — refused ones too) gives one structured log line on
the ``krayne.audit`` logger (``key=value`` pairs, values JSON-quoted so user text can never forge
a second line; with ``KRAYNE_LOG_FORMAT=json`` the fields are also an ``audit`` object), and,
when the RayCluster exists, a core/v1 Event on it, so ``kubectl describe raycluster`` shows who
did what from Slack next to the operator's own events. The Event is best effort: a refused
write (RBAC without ``events: create``) is logged and the action goes on.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import KrayneError
from core.kube import KubeClient, Obj

log = logging.getLogger("krayne.audit")
COMPONENT = "krayne-bot"
COMMAND_LIMIT = 300  # characters of the typed command kept: enough to see what was asked
REASONS = {
    "create": "SlackCreate",
    "scale": "SlackScale",
    "delete": "SlackDelete",
    "suspend": "SlackSuspend",
    "resume": "SlackResume",
    "extend": "SlackExtend",
}


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One action. ``result`` is ``ok``, ``refused:<policy rule>`` or ``failed:<reason>``."""

    action: str
    user: str
    team: str | None
    channel: str
    command: str
    cluster: str
    namespace: str
    result: str

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def fields(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["command"] = _clip(self.command)
        return fields

    def line(self) -> str:
        return "audit " + " ".join(f"{k}={json.dumps(v)}" for k, v in self.fields().items())

    def event_message(self) -> str:
        outcome = "" if self.ok else f" ({self.result})"
        return (
            f"{self.action}{outcome} by Slack user {self.user} in channel {self.channel}"
            f" of team {self.team or '?'}: {_clip(self.command)}"
        )


def _clip(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= COMMAND_LIMIT else one_line[: COMMAND_LIMIT - 1] + "…"


def event_body(record: AuditRecord, raycluster: Obj, now: datetime) -> Obj:
    """A core/v1 Event on ``raycluster`` (``Normal``; ``Warning`` for a refusal or failure)."""
    meta = raycluster.get("metadata") or {}
    name, namespace = str(meta.get("name", record.cluster)), str(meta.get("namespace", ""))
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = REASONS.get(record.action, "Slack") + ("" if record.ok else "Refused")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": str(raycluster.get("apiVersion", "ray.io/v1")),
            "kind": str(raycluster.get("kind", "RayCluster")),
            "name": name,
            "namespace": namespace,
            "uid": str(meta.get("uid", "")),
        },
        "reason": reason,
        "message": record.event_message(),
        "type": "Normal" if record.ok else "Warning",
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": "",
    }


def write_line(record: AuditRecord) -> None:
    """The structured log line alone (a refusal before anything exists to put an Event on)."""
    log.info(record.line(), extra={"audit": record.fields()})


async def audit(
    record: AuditRecord, *, client: KubeClient, raycluster: Obj | None = None,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Log ``record``; with ``raycluster`` (it exists), also record an Event on it."""
    write_line(record)
    if raycluster is None or not (raycluster.get("metadata") or {}).get("uid"):
        return
    try:
        await client.create_event(event_body(record, raycluster, now or datetime.now(UTC)))
    except KrayneError as err:
        log.warning(
            "audit Event on RayCluster %s/%s not recorded: %s",
            record.namespace, record.cluster, err.message,
        )  # fmt: skip
