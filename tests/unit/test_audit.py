"""The audit record: one log line that user text cannot split, and the Event kubectl shows."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.serve import JsonFormatter
from core.audit import AuditRecord, event_body

RECORD = AuditRecord(
    action="delete", user="U1", team="T1", channel="C1",
    command="/krayne delete demo\naudit user=\"UADMIN\" result=\"ok\"", cluster="demo",
    namespace="ml", result="ok",
)  # fmt: skip


def test_the_log_line_holds_every_field_on_one_line() -> None:
    line = RECORD.line()
    assert "\n" not in line
    for key in ("action", "user", "team", "channel", "command", "cluster", "namespace", "result"):
        assert f" {key}=" in line
    assert 'cluster="demo"' in line and 'result="ok"' in line


def test_a_long_command_is_clipped() -> None:
    record = AuditRecord("create", "U1", None, "C1", "x" * 10_000, "demo", "ml", "ok")
    assert len(record.fields()["command"]) <= 300
    assert len(record.line()) < 600


def test_the_event_names_the_cluster_and_who_did_what() -> None:
    raycluster = {
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": "demo", "namespace": "ml", "uid": "uid-1"},
    }  # fmt: skip
    body = event_body(RECORD, raycluster, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert body["involvedObject"] == {
        "apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "demo", "namespace": "ml",
        "uid": "uid-1",
    }  # fmt: skip
    assert body["reason"] == "SlackDelete" and body["type"] == "Normal"
    assert body["message"].startswith("delete by Slack user U1 in channel C1 of team T1: ")
    assert body["firstTimestamp"] == "2026-01-02T03:04:05Z"
    refused = AuditRecord("scale", "U2", "T1", "C1", "button scale_up", "demo", "ml",
                          "refused:owner")  # fmt: skip
    warning = event_body(refused, raycluster, datetime(2026, 1, 2, tzinfo=UTC))
    assert (warning["reason"], warning["type"]) == ("SlackScaleRefused", "Warning")
    assert "(refused:owner)" in warning["message"]
    json.dumps(body)  # plain JSON, as the API server takes it


def test_json_logs_carry_the_audit_fields_as_an_object() -> None:
    record = logging.LogRecord("krayne.audit", logging.INFO, __file__, 1, RECORD.line(), (), None)
    record.audit = RECORD.fields()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["audit"]["user"] == "U1" and entry["audit"]["result"] == "ok"
    assert entry["message"].startswith("audit action=")
