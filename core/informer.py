"""One resilient list+watch stream of one kind in one namespace, in kopf's three layers.

- ``Informer.run`` (outer): forever; on API errors waits with exponential backoff and jitter (or
  a 429's Retry-After, if longer), then starts over. A successful list resets the backoff.
- ``_list_then_watch`` (middle): lists, replaces the cached objects (reporting the ones that
  vanished as deletions), then watches from the list's resourceVersion, again and again; a 410
  Gone (``WatchExpiredError``) simply returns so the outer loop lists afresh — never re-watch from
  a stale resourceVersion.
- ``_watch_once`` (inner): one watch request with bookmarks and a server-side ``timeoutSeconds``,
  plus a client-side inactivity timeout in case the connection silently dies.

The informer knows nothing about clusters: it calls ``on_change(type, obj)`` for every change and
``on_synced()`` after each complete list. ``core.watching`` builds its indexes from those calls.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from core.errors import KrayneError, TooManyRequests, WatchExpiredError
from core.kube import KubeClient, Obj, ObjectList, WatchKind

log = logging.getLogger(__name__)

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
Key = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """How watching behaves; every default says why it is what it is. Tests shrink them."""

    #: Server-side watch timeout. The API server ends a watch after a random 30–60 min anyway;
    #: asking for 5 min keeps connections fresh through proxies and load balancers that drop idle
    #: streams, and costs one cheap re-watch (not a re-list) each time.
    timeout_seconds: int = 300
    #: No byte for this long (bookmarks arrive about every minute) means the connection is dead
    #: even if TCP has not noticed: re-watch from the last resourceVersion.
    inactivity_timeout: float = 360.0
    #: First wait after an error; doubles per consecutive failure up to ``backoff_max``. Half a
    #: second rides out an API server restart without hammering it.
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    #: An unreachable API server is retried at most every 30 s, so recovery is noticed quickly.
    backoff_max: float = 30.0
    #: Each wait is shortened by up to this fraction at random, so many bots (or the three streams
    #: of one) that lost the same server do not reconnect in lockstep.
    backoff_jitter: float = 0.5
    #: Warning events older than this are dropped: the API server keeps events for one hour, and
    #: older warnings describe problems long fixed or retried.
    event_max_age: float = 3600.0
    #: At most this many Warning events are kept per involved object and handed out per cluster:
    #: status needs the newest few, a describe view shows a screenful.
    events_per_cluster: int = 20
    #: Status depends on time (recent events, recent crashes): recompute every cluster this often
    #: even when nothing changed, so a crash growing old is noticed without a new event.
    recompute_interval: float = 30.0
    #: At most this share of the event loop goes to re-deriving any one cluster's status: a
    #: cluster's changes in a burst are derived once, and after a derivation that took ``t`` the
    #: next waits ``4t`` (1000 pods: ~35 ms, so ~6 a second; 10 pods: at once). Acks and watch
    #: reads get the rest (``core/coalesce.py``).
    derive_share: float = 0.2

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``attempt`` (0-based)."""
        base = min(self.backoff_max, self.backoff_initial * self.backoff_factor**attempt)
        return base * (1 - self.backoff_jitter * (rng or random).random())


class Informer:
    """Keeps ``objects`` equal to the server's list of one kind, via list + watch."""

    def __init__(
        self,
        client: KubeClient,
        kind: WatchKind,
        namespace: str | None,
        *,
        on_change: Callable[[ChangeType, Obj], None],
        on_synced: Callable[[], None],
        on_error: Callable[[KrayneError], None] | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        settings: WatchSettings,
    ) -> None:
        self.client = client
        self.kind: WatchKind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.settings = settings
        self.objects: dict[Key, Obj] = {}
        self.lists = 0  # how many full lists ran (a re-list after 410 or an error adds one)
        self.listing = False  # True while a list's changes are being reported (one batch)
        self._on_change = on_change
        self._on_synced = on_synced
        self._on_error = on_error
        self._failures = 0
        self._expired = 0  # 410s in a row with no event in between

    @property
    def failing(self) -> bool:
        """The last list or watch failed and it has not listed since: its cache may be stale."""
        return self._failures > 0

    @property
    def name(self) -> str:
        where = f"{self.kind}@{self.namespace or '*'}"
        return f"{where}[{self.field_selector}]" if self.field_selector else where

    async def run(self) -> None:
        """Outer loop: forever, until cancelled."""
        while True:
            try:
                await self._list_then_watch()
            except WatchExpiredError:
                # The first 410 re-lists at once; a server that answers 410 to every fresh
                # resourceVersion must not turn that into a tight list loop.
                self._expired += 1
                delay = self.settings.backoff(self._expired - 2) if self._expired > 1 else 0.0
                log.info("%s: resourceVersion expired (410), listing again", self.name)
                await asyncio.sleep(delay)
            except KrayneError as exc:
                if self._on_error is not None:
                    self._on_error(exc)
                delay = self.settings.backoff(self._failures)
                if isinstance(exc, TooManyRequests) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)  # the server's Retry-After wins
                self._failures += 1
                log.warning("%s: %s; retrying in %.1f s", self.name, exc, delay)
                await asyncio.sleep(delay)

    async def _list_then_watch(self) -> None:
        """Middle loop: list once, then watch from there until the resourceVersion expires."""
        version = self._replace(await self._list())
        self._failures = 0
        self.lists += 1
        self._on_synced()
        loop = asyncio.get_running_loop()
        quick = 0
        while True:
            started = loop.time()
            version, events = await self._watch_once(version)
            if events:
                self._expired = 0
            # A server that ends every watch at once, empty, must not make this a busy loop.
            quick = quick + 1 if not events and loop.time() - started < 1.0 else 0
            if quick > 1:
                await asyncio.sleep(self.settings.backoff(quick - 2))

    async def _watch_once(self, version: str) -> tuple[str, int]:
        """Inner loop: one watch request; returns the last resourceVersion and the event count."""
        stream = self.client.watch(
            self.kind,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=version,
            timeout_seconds=self.settings.timeout_seconds,
        )
        count = 0
        loop = asyncio.get_running_loop()
        deadline_s = self.settings.inactivity_timeout
        try:
            async with asyncio.timeout(deadline_s) as deadline:
                async for event in stream:
                    deadline.reschedule(loop.time() + deadline_s)
                    count += 1
                    obj = event.get("object") or {}
                    version = _version(obj) or version
                    kind = event.get("type")
                    if kind in ("ADDED", "MODIFIED"):
                        self._put(obj)
                    elif kind == "DELETED":
                        self._drop(obj)
        except TimeoutError:
            if not deadline.expired():
                raise
            log.info("%s: silent for %.0f s, watching again", self.name, deadline_s)
        finally:
            await _aclose(stream)
        return version, count

    async def _list(self) -> ObjectList:
        if self.kind == "rayclusters":
            return await self.client.list_rayclusters(
                self.namespace, label_selector=self.label_selector
            )
        if self.kind == "pods":
            return await self.client.list_pods(self.namespace, label_selector=self.label_selector)
        return await self.client.list_events(self.namespace, field_selector=self.field_selector)

    def _replace(self, listed: ObjectList) -> str:
        """Make the cache equal to a fresh list, reporting exactly what changed."""
        fresh = {_key(o): o for o in listed.get("items") or [] if isinstance(o, dict)}
        self.listing = True
        try:
            for key in [k for k in self.objects if k not in fresh]:
                self._on_change("DELETED", self.objects.pop(key))
            for key, obj in fresh.items():
                old = self.objects.get(key)
                if old != obj:
                    self.objects[key] = obj
                    self._on_change("MODIFIED" if old is not None else "ADDED", obj)
        finally:
            self.listing = False
        return str(listed.get("resourceVersion") or "")

    def _put(self, obj: Obj) -> None:
        key = _key(obj)
        kind: ChangeType = "MODIFIED" if key in self.objects else "ADDED"
        self.objects[key] = obj
        self._on_change(kind, obj)

    def _drop(self, obj: Obj) -> None:
        self.objects.pop(_key(obj), None)
        self._on_change("DELETED", obj)


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
