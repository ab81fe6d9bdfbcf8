"""Ordered, rate-limited delivery of Slack messages, paced per method as Slack's tiers say,
freshest news first.

Slack answers bursts with ``429 Retry-After``. The outbox keeps one lane per channel for
chat.postMessage (about one message per second per channel) and one workspace-wide lane per
other method, paced by its tier (``bot.pacing``), so card updates never wait behind a
channel's posts. It waits out ``Retry-After`` and re-sends the same message (nothing is
dropped). Within a lane:

- messages of one thread go out in the order they were submitted;
- an ``urgent`` message (a cluster ready, failed or gone) overtakes routine ones of other
  threads (https://docs.slack.dev/apis/web-api/rate-limits: one post per second per channel, so
  with 20 clusters provisioning the order of the queue is what users wait for);
- a call with a ``coalesce_key`` still queued for the same key (a card's update) is replaced in
  place by the newer one: the slow lane sends the latest card, not every card;
- ``hold`` lets a routine call wait a few seconds for a newer one to replace it (a card passing
  through pods-pending and containers-creating in two seconds is updated once); an urgent call
  ends the wait;
- ``withdraw`` takes back a call that was not sent yet (a progress reply superseded by the next
  phase, merged into that phase's reply by the notifier).

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
from bot.pacing import PER_CHANNEL, Pacer

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
    urgent: bool = False
    not_before: float = 0.0

    @property
    def thread(self) -> str | None:
        return self.args.get("thread_ts")


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
    """Lanes (a channel's posts, or one method's calls) drained by short-lived workers owned
    by ``run()``."""

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
        self._nudges: dict[str, asyncio.Event] = {}
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
        self,
        channel: str,
        method: str,
        args: dict[str, Any],
        *,
        coalesce_key: str | None = None,
        urgent: bool = False,
        hold: float = 0.0,
    ) -> asyncio.Future[Result]:
        """Queue a call; the future resolves with Slack's answer (or its final error)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        lane = channel if method in PER_CHANNEL else f"~{method}"
        queue = self._queues.setdefault(lane, deque())
        not_before = self._clock() + (0.0 if urgent else hold)
        queued = next((q for q in queue if coalesce_key and q.coalesce_key == coalesce_key), None)
        if queued is not None:  # the newer state takes the queued one's place
            queued.args = dict(args)
            queued.futures.append(future)
            queued.urgent = queued.urgent or urgent
            queued.not_before = min(queued.not_before, not_before)
            if self._metrics:
                self._metrics.coalesced.inc()
        else:
            queue.append(
                Outgoing(channel, method, dict(args), coalesce_key, [future], urgent, not_before)
            )
            self._pending += 1
            self._idle.clear()
            self._gauge()
        if lane in self._active:
            self._nudges[lane].set()
        else:
            self._active.add(lane)
            self._nudges[lane] = asyncio.Event()
            self._wake.put_nowait(lane)
        return future

    async def send(
        self, channel: str, method: str, args: dict[str, Any], *, coalesce_key: str | None = None
    ) -> Result:
        return await self.submit(channel, method, args, coalesce_key=coalesce_key)

    def withdraw(self, future: asyncio.Future[Result]) -> bool:
        """Take back the call ``future`` waits for if it was not sent yet (True), cancelling
        the future; False once it is in flight or done."""
        for queue in self._queues.values():
            for item in queue:
                if any(f is future for f in item.futures):
                    item.futures = [f for f in item.futures if f is not future]
                    if not item.futures:
                        queue.remove(item)
                        self._pending -= 1
                        self._gauge()
                        if self._pending == 0:
                            self._idle.set()
                    future.cancel()
                    return True
        return False

    async def run(self) -> None:
        """Start a worker for every lane that has mail, until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                while True:
                    lane = await self._wake.get()
                    tg.create_task(self._worker(lane), name=f"outbox:{lane}")
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
        """Wait until everything queued was sent (or failed); False if time ran out.
        Held calls are sent at once: the bot is stopping."""
        for queue in self._queues.values():
            for item in queue:
                item.not_before = 0.0
        for nudge in self._nudges.values():
            nudge.set()
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            log.warning("outbox: %d message(s) still queued at shutdown", self._pending)
            return False
        return True

    async def _worker(self, lane: str) -> None:
        queue = self._queues[lane]
        try:
            while queue:
                wait = min(item.not_before for item in queue) - self._clock()
                if wait > 0:
                    await self._nap(lane, wait)
                    continue
                await self._pacer.wait(queue[0].method, queue[0].channel)
                item = _pick(queue, self._clock())
                if item is None:  # withdrawn while waiting for the slot
                    continue
                queue.remove(item)  # in flight: later updates queue behind it
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
            self._active.discard(lane)
            self._nudges.pop(lane, None)
            if not queue:
                self._queues.pop(lane, None)
            if self._pending == 0:
                self._idle.set()

    async def _nap(self, lane: str, seconds: float) -> None:
        """Sleep until the earliest held call is due, or until a new call comes to the lane."""
        nudge = self._nudges[lane]
        nudge.clear()
        napping = asyncio.ensure_future(self._sleep(seconds))
        nudged = asyncio.ensure_future(nudge.wait())
        try:
            await asyncio.wait({napping, nudged}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            napping.cancel()
            nudged.cancel()

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


def _pick(queue: deque[Outgoing], now: float) -> Outgoing | None:
    """The next call of a lane: the first urgent one whose thread has nothing queued before
    it, else the first one due; None if nothing is due."""
    first: Outgoing | None = None
    threads: set[str | None] = set()
    for item in queue:
        free = item.not_before <= now and (item.thread is None or item.thread not in threads)
        if free and item.urgent:
            return item
        if free and first is None:
            first = item
        if item.thread is not None:
            threads.add(item.thread)
    return first
