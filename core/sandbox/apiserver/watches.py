"""Watch plumbing: a ``Change`` per write and a ``Watch`` queue per open watch.

One ``Change`` is shared by the history and every watch it is offered to; its JSON line is
encoded at most once (``line``), so fanning a change out to many watchers costs one
serialisation. A watch whose consumer falls too far behind is closed, as the real server
does, and the client is expected to reconnect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.sandbox.apiserver.changefeed import ChangeFeed


class Change:
    """One write: ADDED/MODIFIED/DELETED of ``obj`` (``old`` is the previous stored version)."""

    __slots__ = ("_line", "obj", "old", "resource", "rv", "type")

    def __init__(
        self,
        type: str,
        resource: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        rv: int,
    ) -> None:
        self.type = type
        self.resource = resource
        self.obj = obj
        self.old = old
        self.rv = rv
        self._line: bytes | None = None

    @property
    def namespace(self) -> str:
        return str(self.obj.get("metadata", {}).get("namespace") or "")

    def line(self) -> bytes:
        """The watch-stream line for this change, encoded once."""
        if self._line is None:
            self._line = encode_event(self.type, self.obj)
        return self._line

    def as_type(self, type: str) -> Change:
        if type == self.type:
            return self
        return Change(type, self.resource, self.obj, self.old, self.rv)


def encode_event(type: str, obj: Mapping[str, Any]) -> bytes:
    return json.dumps({"type": type, "object": obj}, separators=(",", ":")).encode() + b"\n"


class Watch:
    """A server-side watch: filters changes and queues them for one HTTP response."""

    def __init__(
        self,
        store: ChangeFeed,
        resource: str,
        namespace: str | None,
        match: Callable[[Mapping[str, Any]], bool],
        *,
        max_queue: int,
    ) -> None:
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self.match = match
        self.max_queue = max_queue
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.closed = False
        self.overflowed = False

    def offer(self, change: Change) -> None:
        """Queue ``change`` if this watch sees it; selector transitions become ADDED/DELETED."""
        if self.closed:
            return
        if self.namespace and change.namespace != self.namespace:
            return
        if change.type == "DELETED":
            out = change if self.match(change.obj) else None
        else:
            now = self.match(change.obj)
            before = change.old is not None and self.match(change.old)
            if now:
                out = change if before or change.type == "ADDED" else change.as_type("ADDED")
            else:
                out = change.as_type("DELETED") if before else None
        if out is None:
            return
        if self.queue.qsize() >= self.max_queue:
            self.overflowed = True
            self.close()
            return
        self.queue.put_nowait(out)

    def close(self) -> None:
        """End the watch: the consumer sees ``None`` after the events already queued."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)
            self.store.forget_watch(self)
