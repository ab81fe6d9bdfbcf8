"""Acks first: the slow half of a command waits while Slack requests are being acknowledged.

Bolt answers Slack when a listener calls ``ack``; what the command does next (render a list,
ask Kubernetes, post to the response_url) runs on the same event loop. Measured with 50
concurrent `/krayne list`, those slow halves filled the loop's ready queue and every ack waited
behind them: ack p99 was 7-12 times a bare Bolt app's. Slack gives an ack 3 seconds and the
slow half 30 minutes (response_url), so the slow half yields: it starts when no request is
being acknowledged, or after ``max_wait`` seconds at the latest, so a steady stream of requests
cannot starve it. After a burst the slow halves start one per loop turn, not all at once, so a
request that arrives then is read before the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def freeze_startup_heap() -> None:
    """Move what startup built (modules, Bolt, clients: it lives as long as the process) out of
    the garbage collector's sight. With 50 requests in flight, a full collection that walked it
    stalled every ack for 40-100 ms, ack p99 1.2-5.6 times a bare Bolt app's; with the collector
    off the same run was at the floor. For a process that is the bot alone (``serve``)."""
    gc.collect()
    gc.freeze()


class AckFirst:
    """``acking()`` around each Slack request; ``after_acks(work)`` around each slow half."""

    def __init__(self, *, max_wait: float = 1.0) -> None:
        self.max_wait = max_wait
        self._acking = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._gate = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._acking > 0

    @contextlib.contextmanager
    def acking(self) -> Iterator[None]:
        """Held while one Slack request is read, verified, dispatched and acknowledged."""
        self._acking += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._acking -= 1
            if not self._acking:
                self._idle.set()

    async def turn(self, deadline: float | None = None) -> None:
        """Return when no request is being acknowledged, or at ``deadline`` (loop time;
        default ``max_wait`` from now)."""
        if not self._acking:
            return
        loop = asyncio.get_running_loop()
        wait = (loop.time() + self.max_wait if deadline is None else deadline) - loop.time()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._idle.wait()

    async def after_acks(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` once the acks in flight are answered (see the module docstring).

        Slow halves pass one at a time, each a loop turn after the previous one started, so a
        request that arrives after a burst is read before the next slow half begins. Each has
        its own deadline, ``max_wait`` after it was handed in: under a steady stream they
        queue, but none waits longer than that for the ones before it."""
        deadline = asyncio.get_running_loop().time() + self.max_wait
        try:
            async with self._gate:
                await self.turn(deadline)
                await asyncio.sleep(0)
                await self.turn(deadline)
        except BaseException:
            work.close()
            raise
        return await work
