"""Event-loop plumbing for the simulated controllers: speed-scaled timers and coalescing queues.

The simulation must stay light with thousands of pods, so nothing polls: a pod's next step is
one ``loop.call_later`` handle, and a controller reconciles an object only when something about
it changed — many changes in a burst collapse into one reconcile. Every handle and task is owned
here and cancelled on shutdown.

It must also never starve the API server it shares a loop with. A 1000-worker cluster makes a
thousand steps fall due at once (its pods' scheduling attempts); asyncio runs every due timer in
one turn of the loop, so they once held it for half a second and no request was answered. Due
steps therefore wait in a queue that runs in slices of ``SLICE`` seconds, one slice per turn,
and the work queue yields every ``SLICE`` too: requests are read and answered in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)
#: Longest run of simulation work between two turns of the loop (the API server's chances to
#: answer). 10 ms: a request waits about that for the simulation, per turn it needs.
SLICE = 0.01


class SimTimers:
    """``later(seconds, fn)`` in simulated seconds; real delay is ``seconds / speed``. Steps
    that fall due together run in slices of ``SLICE`` seconds, one slice per turn of the loop."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._handles: set[asyncio.TimerHandle] = set()  # scheduled, or due and not run yet
        self._due: deque[tuple[asyncio.TimerHandle, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._draining: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.closed = False

    def later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        loop = self._loop
        if loop is None or self.closed:
            raise RuntimeError("the simulation is not running")
        holder: list[asyncio.TimerHandle] = []

        def due() -> None:
            self._due.append((holder[0], fn, args))
            if self._draining is None:
                self._draining = loop.call_soon(self._drain)

        handle = loop.call_later(max(0.0, seconds) / self.speed, due)
        holder.append(handle)
        self._handles.add(handle)
        return handle

    def _drain(self) -> None:
        """Run due steps for one slice; the rest on the next turn, after pending I/O."""
        self._draining = None
        end = time.perf_counter() + SLICE
        while self._due and not self.closed:
            handle, fn, args = self._due.popleft()
            self._handles.discard(handle)
            if handle.cancelled():  # cancelled after it fell due, before it ran
                continue
            try:
                fn(*args)
            except Exception:  # one bad step must not stop the simulated cluster
                log.exception("simulation step %s failed", getattr(fn, "__qualname__", fn))
            if time.perf_counter() > end:
                break
        if self._due and not self.closed and self._loop is not None:
            self._draining = self._loop.call_soon(self._drain)

    def cancel(self, handle: asyncio.TimerHandle | None) -> None:
        if handle is not None:
            handle.cancel()
            self._handles.discard(handle)

    def close(self) -> None:
        self.closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        self._due.clear()
        if self._draining is not None:
            self._draining.cancel()
            self._draining = None

    @property
    def pending(self) -> int:
        return len(self._handles)


class WorkQueue:
    """Keys marked dirty are handled once per burst, in first-marked order, off the callback.

    ``mark`` is safe to call from a synchronous store listener: it only records the key and wakes
    the worker; ``run`` (a task the simulation owns) calls ``handler(key)`` for each dirty key.
    A key marked again while it is being handled is handled again afterwards.
    """

    def __init__(self, name: str, handler: Callable[[Any], None]) -> None:
        self.name = name
        self._handler = handler
        self._dirty: dict[Hashable, None] = {}
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.handled = 0

    def mark(self, key: Hashable) -> None:
        self._dirty[key] = None
        self._drained.clear()
        self._wake.set()

    @property
    def idle(self) -> bool:
        return not self._dirty

    async def wait_idle(self) -> None:
        """Until every key marked so far has been handled."""
        await self._drained.wait()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            end = time.perf_counter() + SLICE
            while self._dirty:
                key = next(iter(self._dirty))
                del self._dirty[key]
                try:
                    self._handler(key)
                except Exception:
                    log.exception("%s: handling %r failed", self.name, key)
                self.handled += 1
                if time.perf_counter() > end:
                    await asyncio.sleep(0)  # let the API server answer requests meanwhile
                    end = time.perf_counter() + SLICE
            self._drained.set()
