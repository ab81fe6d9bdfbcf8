"""A small in-memory implementation of the KubeClient list/watch methods, for watcher unit tests.

It behaves like an API server where the watcher can notice: resourceVersions increase, a watch
replays history after its resourceVersion and then streams live changes, an expired
resourceVersion answers 410 (``WatchExpiredError``), watches can be dropped, calls can be made to
fail, and every call is counted. Not a mock: it keeps real state and enforces selectors.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from core.errors import KubeConnectionError, WatchExpiredError
from core.kube import ObjectList, WatchEvent, WatchKind

Obj = dict[str, Any]
_END = object()


def _matches_labels(obj: Obj, selector: str | None) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if key not in labels or ("=" in term and labels[key] != value):
            return False
    return True


def _matches_fields(obj: Obj, selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if str(obj.get(key)) != value:
            return False
    return True


class FakeKube:
    server = "https://fake-kube.invalid"

    def __init__(self) -> None:
        self.version = 0
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {
            "rayclusters": {},
            "pods": {},
            "events": {},
        }
        self.history: list[tuple[int, str, str, Obj]] = []  # (rv, kind, type, obj)
        self.oldest_valid = 0  # watches from an older resourceVersion get 410
        self.calls: Counter[str] = Counter()
        self.failures: dict[str, list[Exception]] = {}
        self.hang_watches = False  # accept watches but never send or end (a dead connection)
        self.always_expire = False  # answer every watch with 410, however fresh its version
        self._live: set[asyncio.Queue[object]] = set()
        self._called = asyncio.Event()
        self.gates: dict[str, asyncio.Event] = {}  # a call waits until its gate is set

    # -- test controls ------------------------------------------------------------------

    def apply(self, kind: WatchKind, obj: Obj, *, silently: bool = False) -> Obj:
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        key = (meta["namespace"], meta["name"])
        existed = key in self.objects[kind]
        self.version += 1
        meta["resourceVersion"] = str(self.version)
        self.objects[kind][key] = stored
        if not silently:
            self._record(kind, "MODIFIED" if existed else "ADDED", stored)
        return stored

    def delete(
        self, kind: WatchKind, name: str, namespace: str = "default", *, silently: bool = False
    ) -> None:
        stored = self.objects[kind].pop((namespace, name))
        self.version += 1
        if not silently:
            gone = copy.deepcopy(stored)
            gone["metadata"]["resourceVersion"] = str(self.version)
            self._record(kind, "DELETED", gone)

    def expire(self) -> None:
        """Compact history: every resourceVersion handed out so far is now too old."""
        self.version += 1
        self.oldest_valid = self.version
        self.history.clear()

    def drop_watches(self) -> None:
        for queue in self._live:
            queue.put_nowait(_END)

    def fail(self, call: str, error: Exception, times: int = 1) -> None:
        self.failures.setdefault(call, []).extend([error] * times)

    async def wait_calls(self, call: str, count: int) -> None:
        """Until ``call`` (e.g. ``"watch:pods"``) has been made ``count`` times."""
        while self.calls[call] < count:
            self._called.clear()
            await self._called.wait()

    @property
    def open_watches(self) -> int:
        return len(self._live)

    # -- KubeClient ---------------------------------------------------------------------

    async def list_rayclusters(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> ObjectList:
        return await self._list("rayclusters", namespace, label_selector, None)

    async def list_pods(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> ObjectList:
        return await self._list("pods", namespace, label_selector, None)

    async def list_events(
        self, namespace: str | None, *, field_selector: str | None = None
    ) -> ObjectList:
        return await self._list("events", namespace, None, field_selector)

    async def watch(
        self,
        kind: WatchKind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        self._count(f"watch:{kind}")
        since = int(resource_version or 0)
        if since < self.oldest_valid or self.always_expire:
            raise WatchExpiredError(
                f"too old resource version: {since}", status=410, reason="Expired"
            )

        def wanted(event_kind: str, obj: Obj) -> bool:
            meta = obj.get("metadata") or {}
            return (
                event_kind == kind
                and (namespace is None or meta.get("namespace") == namespace)
                and _matches_labels(obj, label_selector)
                and _matches_fields(obj, field_selector)
            )

        queue: asyncio.Queue[object] = asyncio.Queue()
        for rv, event_kind, kind_of_change, obj in self.history:
            if rv > since and wanted(event_kind, obj):
                queue.put_nowait((event_kind, kind_of_change, obj))
        self._live.add(queue)
        try:
            async with asyncio.timeout(None if self.hang_watches else timeout_seconds):
                while True:
                    item = await queue.get()
                    if item is _END:
                        return
                    event_kind, kind_of_change, obj = item  # type: ignore[misc]
                    if wanted(event_kind, obj):
                        yield {"type": kind_of_change, "object": copy.deepcopy(obj)}
        except TimeoutError:
            return
        finally:
            self._live.discard(queue)

    async def close(self) -> None:
        self.drop_watches()

    # -- internals ----------------------------------------------------------------------

    def _count(self, call: str) -> None:
        self.calls[call] += 1
        self._called.set()
        pending = self.failures.get(call)
        if pending:
            raise pending.pop(0)

    async def _list(
        self, kind: WatchKind, namespace: str | None, labels: str | None, fields: str | None
    ) -> ObjectList:
        self._count(f"list:{kind}")
        gate = self.gates.get(f"list:{kind}")
        if gate is not None:
            await gate.wait()
        items = [
            copy.deepcopy(o)
            for (ns, _), o in sorted(self.objects[kind].items())
            if (namespace is None or ns == namespace)
            and _matches_labels(o, labels)
            and _matches_fields(o, fields)
        ]
        return {"items": items, "resourceVersion": str(self.version)}

    def _record(self, kind: str, change: str, obj: Obj) -> None:
        self.history.append((self.version, kind, change, obj))
        for queue in self._live:
            queue.put_nowait((kind, change, obj))


def connection_refused() -> KubeConnectionError:
    return KubeConnectionError("Cannot reach https://fake-kube.invalid: connection refused")
