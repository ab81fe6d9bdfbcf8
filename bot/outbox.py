"""Ordered, rate-limited delivery of Slack messages, paced per method as Slack's tiers say.

Slack answers bursts with ``429 Retry-After``. The outbox keeps one FIFO per channel, sends
chat.postMessage to a channel no faster than ``interval`` and every other method no faster than
its tier allows workspace-wide (``bot.pacing``), waits out ``Retry-After`` and re-sends the
same message (nothing is dropped, order is kept), and merges a card update into one still queued
for the same message (``coalesce_key``) so a slow channel gets the latest card, not every card.
The merged update goes where the newest one was submitted, never ahead of messages queued before
it, so a card cannot announce what its thread has not said yet.

The sender is a protocol of this module, not the Slack client: it raises ``RateLimited`` or
``TransientSendError``; anything else is final for that message and fails its future.

A transient error is ambiguous: the call may have been done before its answer was lost (a
timeout, a 5xx). With a ``Recheck`` (``bot.readback``) every message is given an identity before
it is first sent, and after such an error the outbox looks for it before sending it again: found,
it counts as delivered (its future gets what was found), so nothing is posted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.metrics import Metrics
from bot.pacing import Pacer

log = logging.getLogger(__name__)

Result = dict[str, Any]


class RateLimited(Exception):  # noqa: N818 - it is a signal, not a failure
    """The receiver asked us to wait ``retry_after`` seconds before sending again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


class TransientSendError(Exception):
    """A failure worth retrying (connection reset, 5xx)."""


@dataclass(slots=True)
class Outgoing:
    """One Web API call: ``method`` (e.g. ``chat.postMessage``) with its arguments."""

    channel: str
    method: str
    args: dict[str, Any]
    coalesce_key: str | None = None
    futures: list[asyncio.Future[Result]] = field(default_factory=list)


class Sender(Protocol):
    async def __call__(self, method: str, args: dict[str, Any]) -> Result: ...


class Recheck(Protocol):
    """Finds out whether a call whose answer was lost took effect anyway."""

    def identify(self, method: str, args: dict[str, Any]) -> None:
        """Before the first send: add to ``args`` what the call can be found by later."""

    async def find(self, method: str, args: dict[str, Any]) -> Result | None:
        """What Slack would have answered if the call took effect, None if it did not (or
        cannot tell); raises ``RateLimited``/``TransientSendError`` as the sender does."""


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    interval: float = 1.0
    """Seconds between two chat.postMessage to one channel: Slack's documented rate."""
    tier_scale: float = 1.0
    """Divides the other methods' tier intervals (``bot.pacing``); 1 against real Slack."""
    transient_retries: int = 5
    """Re-sends after connection errors/5xx before a message is given up (backoff doubles)."""
    backoff: float = 0.5
    """First wait after a transient error; doubles up to ``max_backoff``."""
    max_backoff: float = 30.0


class Outbox:
    """Per-channel queues drained by short-lived workers owned by ``run()``."""

    def __init__(
        self,
        sender: Sender,
        *,
        settings: OutboxSettings | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        recheck: Recheck | None = None,
    ) -> None:
        self._send = sender
        self._recheck = recheck
        self._settings = settings or OutboxSettings()
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._queues: dict[str, deque[Outgoing]] = {}
        self._active: set[str] = set()
        self._pacer = Pacer(
            channel_interval=self._settings.interval, scale=self._settings.tier_scale,
            clock=clock, sleep=sleep,
        )  # fmt: skip
        self._wake: asyncio.Queue[str] = asyncio.Queue()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(
        self, channel: str, method: str, args: dict[str, Any], *, coalesce_key: str | None = None
    ) -> asyncio.Future[Result]:
        """Queue a call; the future resolves with Slack's answer (or its final error)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(channel, deque())
        futures = [future]
        if coalesce_key is not None:
            for queued in queue:
                if queued.coalesce_key == coalesce_key:
                    # The newer state replaces the queued one *at the end of the queue*: it
                    # may describe what messages queued since then announce, and must not
                    # overtake them (a card saying "ready" above a thread still "pending").
                    queue.remove(queued)
                    futures = queued.futures + futures
                    self._pending -= 1
                    if self._metrics:
                        self._metrics.coalesced.inc()
                    break
        queue.append(Outgoing(channel, method, dict(args), coalesce_key, futures))
        self._pending += 1
        self._idle.clear()
        self._gauge()
        if channel not in self._active:
            self._active.add(channel)
            self._wake.put_nowait(channel)
        return future

    async def send(
        self, channel: str, method: str, args: dict[str, Any], *, coalesce_key: str | None = None
    ) -> Result:
        return await self.submit(channel, method, args, coalesce_key=coalesce_key)

    async def run(self) -> None:
        """Start a worker for every channel that has mail, until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                while True:
                    channel = await self._wake.get()
                    tg.create_task(self._worker(channel), name=f"outbox:{channel}")
        finally:
            self._abandon()

    def _abandon(self) -> None:
        """At shutdown, whatever is still queued will not be sent: tell its waiters."""
        for queue in self._queues.values():
            for item in queue:
                for future in item.futures:
                    future.cancel()
        self._queues.clear()
        self._active.clear()
        self._pending = 0
        self._idle.set()

    async def drain(self, within: float) -> bool:
        """Wait until everything queued was sent (or failed); False if time ran out."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            log.warning("outbox: %d message(s) still queued at shutdown", self._pending)
            return False
        return True

    async def _worker(self, channel: str) -> None:
        queue = self._queues[channel]
        try:
            while queue:
                head = queue[0]
                await self._pacer.wait(head.method, channel)
                if not queue or queue[0] is not head:  # coalesced meanwhile: pace the new head
                    continue
                item = queue.popleft()  # in flight: later updates queue behind it
                try:
                    await self._deliver(item)
                except asyncio.CancelledError:
                    for future in item.futures:
                        future.cancel()
                    raise
                finally:
                    self._pending -= 1
                self._gauge()
        finally:
            self._active.discard(channel)
            if not queue:
                self._queues.pop(channel, None)
            if self._pending == 0:
                self._idle.set()

    async def _deliver(self, item: Outgoing) -> None:
        """Send ``item`` until it succeeds or fails for good; resolve all its futures."""
        backoff = self._settings.backoff
        attempts = 0
        unsure = False  # the last failure may have reached Slack: look before sending again
        if self._recheck is not None:
            self._recheck.identify(item.method, item.args)
        while True:
            try:
                found = None
                if unsure and self._recheck is not None:
                    found = await self._recheck.find(item.method, dict(item.args))
                if found is not None:
                    result = found
                else:
                    result = await self._send(item.method, dict(item.args))
            except RateLimited as limited:
                self._count(item.method, "rate_limited")
                if self._metrics:
                    self._metrics.rate_limited.inc()
                await self._sleep(max(limited.retry_after, self._settings.interval))
                continue
            except TransientSendError as err:
                unsure = True
                attempts += 1
                self._count(item.method, "transient_error")
                if attempts > self._settings.transient_retries:
                    self._fail(item, err)
                    return
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._settings.max_backoff)
                continue
            except Exception as err:  # final for this message; the caller decides
                self._count(item.method, "error")
                self._fail(item, err)
                return
            self._count(item.method, "ok" if found is None else "found")
            for future in item.futures:
                if not future.done():
                    future.set_result(result)
            return

    def _fail(self, item: Outgoing, err: Exception) -> None:
        log.warning("outbox: %s to %s failed: %s", item.method, item.channel, err)
        for future in item.futures:
            if not future.done():
                future.set_exception(err)
                # Fire-and-forget callers never await: mark the exception retrieved.
                future.exception()

    def _count(self, method: str, outcome: str) -> None:
        if self._metrics:
            self._metrics.slack_calls.labels(method=method, outcome=outcome).inc()

    def _gauge(self) -> None:
        if self._metrics:
            self._metrics.queued.set(self._pending)
