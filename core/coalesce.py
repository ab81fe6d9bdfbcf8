"""Run ``work(key)`` soon after ``mark(key)``, once per burst of marks, and never let one key's
work take more than a fixed share of the event loop.

The watcher re-derives a cluster's status on every change to it, its pods or its events. That
costs time proportional to its pods: about 35 ms for a 1000-worker cluster, whose creation sends
thousands of pod and event changes in a few seconds. Done per change, that was minutes of
back-to-back CPU in which no Slack request was acknowledged and no Kubernetes answer was read
before its deadline. Here marks made before the work runs collapse into one run, and after a run
that took ``t`` seconds the key's next run waits ``t * (1 - share) / share``: a small cluster
(``t`` ≈ 0.1 ms) is re-derived at once, a huge one a few times a second, always with the loop's
other work in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable


class CoalescingRunner:
    """``mark(key)`` schedules ``work(key)`` on the running loop; ``close()`` cancels it all."""

    def __init__(self, work: Callable[[Hashable], None], *, share: float) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self._work = work
        self._pause = (1 - share) / share
        self._scheduled: dict[Hashable, asyncio.Handle] = {}
        self._not_before: dict[Hashable, float] = {}

    def mark(self, key: Hashable) -> None:
        """Run ``work(key)`` on a later turn of the loop, unless a run is already scheduled."""
        if key in self._scheduled:
            return
        loop = asyncio.get_running_loop()
        delay = self._not_before.get(key, 0.0) - loop.time()
        if delay > 0:
            self._scheduled[key] = loop.call_later(delay, self._run, key)
        else:
            self._scheduled[key] = loop.call_soon(self._run, key)

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` (gone for good): its scheduled run is cancelled, its pause forgotten."""
        handle = self._scheduled.pop(key, None)
        if handle is not None:
            handle.cancel()
        self._not_before.pop(key, None)

    @property
    def pending(self) -> int:
        return len(self._scheduled)

    def close(self) -> None:
        for handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()
        self._not_before.clear()

    def _run(self, key: Hashable) -> None:
        del self._scheduled[key]
        self._not_before.pop(key, None)
        started = time.perf_counter()
        try:
            self._work(key)
        finally:
            pause = (time.perf_counter() - started) * self._pause
            if pause > 0.001:  # cheap keys are not remembered
                self._not_before[key] = asyncio.get_running_loop().time() + pause
