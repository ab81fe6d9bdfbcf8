"""core/v1 Events as the kubelet, scheduler and controllers record them, with aggregation.

A repeat of the same (object, type, reason, message, component) bumps ``count`` and
``lastTimestamp`` on the existing Event instead of creating a new one, as client-go's event
correlator does, so ``kubectl describe`` shows "(x5 over 2m)" and event lists stay small.
Events older than the TTL are deleted, as the real server's ``--event-ttl`` does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import format_time

if TYPE_CHECKING:
    from core.sandbox.apiserver.store import Store

_Key = tuple[str, str, str, str, str, str]


class EventRecorder:
    """Creates or aggregates Events in the involved object's namespace."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen: dict[_Key, tuple[str, str]] = {}

    def record(
        self, involved: dict[str, Any], *, type: str, reason: str, message: str, component: str
    ) -> dict[str, Any]:
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        ref = {
            "apiVersion": involved.get("apiVersion", "v1"),
            "kind": involved.get("kind", ""),
            "name": meta.get("name", ""),
            "namespace": namespace,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if involved.get("fieldPath"):
            ref["fieldPath"] = involved["fieldPath"]
        key = (namespace, ref["uid"] or ref["name"], type, reason, message, component)
        now = format_time(self._store.now())
        existing = self._seen.get(key)
        if existing is not None:
            try:
                current = self._store.get_ref("events", existing[0], existing[1])
            except ApiError:
                self._seen.pop(key, None)
            else:
                return self._store.merge_patch(
                    "events",
                    existing[0],
                    existing[1],
                    {"count": int(current.get("count") or 1) + 1, "lastTimestamp": now},
                )
        nanos = int(self._store.now().timestamp() * 1e9)
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref['name']}.{nanos:x}", "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": None,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
        }
        while True:
            try:
                created = self._store.create("events", event)
                break
            except ApiError as err:
                if err.reason != "AlreadyExists":
                    raise
                nanos += 1
                event["metadata"]["name"] = f"{ref['name']}.{nanos:x}"
        self._seen[key] = (namespace, created["metadata"]["name"])
        return created


def expire_events(store: Store, ttl: timedelta) -> int:
    """Delete Events last seen more than ``ttl`` ago (the API server's ``--event-ttl``, 1 h)."""
    cutoff = format_time(store.now() - ttl)
    stale = [
        (e["metadata"]["namespace"], e["metadata"]["name"])
        for e in store.list_refs("events")[0]
        if (e.get("lastTimestamp") or e["metadata"].get("creationTimestamp") or "") < cutoff
    ]
    for namespace, name in stale:
        store.delete("events", namespace, name)
    return len(stale)
