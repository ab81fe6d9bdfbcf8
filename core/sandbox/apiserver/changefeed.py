"""The store's change feeds: watches with a bounded history, and in-process listeners.

Kept apart from the object store so each half stays readable. Every write ends in ``_emit``:
the change joins its resource's history (resuming a watch from a resourceVersion older than what
is kept raises 410 Expired, as a compacted etcd does), is offered to the open watches, then
delivered to listeners in order, even when a listener writes to the store itself.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from core.sandbox.apiserver.apierror import ApiError, gone
from core.sandbox.apiserver.objects import clone_obj
from core.sandbox.apiserver.resources import resource_type
from core.sandbox.apiserver.selectors import (
    object_matcher,
    parse_field_selector,
    parse_label_selector,
)
from core.sandbox.apiserver.watches import Change, Watch

log = logging.getLogger(__name__)

Listener = Callable[[str, str, dict[str, Any]], None]


class ChangeFeed:
    """Watches and listeners over a store's writes; ``Store`` inherits it."""

    def __init__(self, history_limit: int) -> None:
        self.history_limit = history_limit
        self._rv = 0
        self._history: dict[str, deque[Change]] = {}
        self._floor: dict[str, int] = {}
        self._compacted = 0  # every resourceVersion below this one is gone (expire_history)
        self._watches: dict[str, set[Watch]] = {}
        self._listeners: list[Listener] = []
        self._pending: deque[Change] = deque()
        self._dispatching = False

    def list_refs(
        self, resource: str, namespace: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        raise NotImplementedError

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        self._listeners.append(callback)

        def unsubscribe() -> None:
            self._listeners[:] = [c for c in self._listeners if c is not callback]

        return unsubscribe

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        send_initial: bool | None = None,
        max_queue: int = 50_000,
    ) -> Watch:
        """Open a watch: ``resource_version`` unset or "0" starts with ADDED for what exists."""
        rt = resource_type(resource)
        match = object_matcher(
            parse_label_selector(label_selector), parse_field_selector(field_selector, resource)
        )
        ns = namespace if rt.namespaced else None
        w = Watch(self, resource, ns, match, max_queue=max_queue)
        initial = send_initial if send_initial is not None else resource_version in (None, "", "0")
        if initial:
            refs, _ = self.list_refs(resource, ns)
            for obj in refs:
                rv = int(obj["metadata"]["resourceVersion"])
                w.offer(Change("ADDED", resource, obj, None, rv))
        else:
            try:
                since = int(resource_version or "0")
            except ValueError:
                raise ApiError(
                    400, "BadRequest", f'invalid resource version "{resource_version}"'
                ) from None
            floor = max(self._floor.get(resource, 0), self._compacted)
            if since < floor:
                raise gone(since, floor + 1)
            for change in self._history.get(resource, ()):
                if change.rv > since:
                    w.offer(change)
        self._watches.setdefault(resource, set()).add(w)
        return w

    def forget_watch(self, w: Watch) -> None:
        self._watches.get(w.resource, set()).discard(w)

    def open_watches(self) -> int:
        return sum(len(watches) for watches in self._watches.values())

    def close_watches(self) -> int:
        """Drop every open watch (fault injection, shutdown); returns how many were open."""
        count = self.open_watches()
        for watches in self._watches.values():
            for w in list(watches):
                w.close()
            watches.clear()
        return count

    def expire_history(self) -> None:
        """Compact: watches from any version handed out so far get 410; re-listing recovers."""
        self._rv += 1
        self._compacted = self._rv
        self._history.clear()

    def _emit(self, change: Change) -> None:
        history = self._history.setdefault(change.resource, deque())
        history.append(change)
        if len(history) > self.history_limit:
            self._floor[change.resource] = history.popleft().rv
        for w in list(self._watches.get(change.resource, ())):
            w.offer(change)
        self._pending.append(change)
        if self._dispatching:
            return  # a listener wrote to the store; the outer loop delivers it in order
        self._dispatching = True
        try:
            while self._pending:
                current = self._pending.popleft()
                for callback in list(self._listeners):
                    try:
                        callback(current.type, current.resource, clone_obj(current.obj))
                    except Exception:
                        log.exception("store listener %r failed on %s", callback, current.type)
        finally:
            self._dispatching = False
