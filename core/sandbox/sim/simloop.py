"""Event-loop plumbing for the simulated controllers: speed-scaled timers and coalescing queues.

The simulation must stay light with thousands of pods, so nothing polls: a pod's next step is
one ``loop.call_later`` handle, and a controller reconciles an object only when something about
it changed — many changes in a burst collapse into one reconcile. Every handle and task is owned
here and cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)


class SimTimers:
    """``later(seconds, fn)`` in simulated seconds; real delay is ``seconds / speed``."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._handles: set[asyncio.TimerHandle] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.closed = False

    def later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        if self._loop is None or self.closed:
            raise RuntimeError("the simulation is not running")
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._handles.discard(holder[0])
            try:
                fn(*args)
            except Exception:  # one bad step must not stop the simulated cluster
                log.exception("simulation step %s failed", getattr(fn, "__qualname__", fn))

        handle = self._loop.call_later(max(0.0, seconds) / self.speed, fire)
        holder.append(handle)
        self._handles.add(handle)
        return handle

    def cancel(self, handle: asyncio.TimerHandle | None) -> None:
        if handle is not None:
            handle.cancel()
            self._handles.discard(handle)

    def close(self) -> None:
        self.closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

    @property
    def pending(self) -> int:
        return len(self._handles)


class WorkQueue:
    """Keys marked dirty are handled once per burst, in first-marked order, off the callback.

    ``mark`` is safe to call from a synchronous store listener: it only records the key and wakes
    the worker; ``run`` (a task the simulation owns) calls ``handler(key)`` for each dirty key.
    A key marked again while it is being handled is handled again afterwards.
    """

    def __init__(self, name: str, handler: Callable[[Any], None], *, batch: int = 200) -> None:
        self.name = name
        self._handler = handler
        self._dirty: dict[Hashable, None] = {}
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._batch = batch
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
            done = 0
            while self._dirty:
                key = next(iter(self._dirty))
                del self._dirty[key]
                try:
                    self._handler(key)
                except Exception:
                    log.exception("%s: handling %r failed", self.name, key)
                self.handled += 1
                done += 1
                if done % self._batch == 0:
                    await asyncio.sleep(0)  # let the API server answer requests meanwhile
            self._drained.set()
