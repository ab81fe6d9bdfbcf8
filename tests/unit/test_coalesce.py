"""CoalescingRunner: a burst of marks is one run, and a costly key waits in proportion to its cost,
so re-deriving a 1000-pod cluster on every pod change cannot monopolise the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable

from core.coalesce import CoalescingRunner


class Recorder:
    def __init__(self, cost: float = 0.0) -> None:
        self.cost = cost
        self.runs: list[tuple[Hashable, float]] = []
        self.ran = asyncio.Event()

    def __call__(self, key: Hashable) -> None:
        started = time.perf_counter()
        while time.perf_counter() - started < self.cost:
            pass  # CPU-bound work, like deriving a big cluster's status
        self.runs.append((key, asyncio.get_running_loop().time()))
        self.ran.set()

    async def next_run(self) -> tuple[Hashable, float]:
        self.ran.clear()
        async with asyncio.timeout(5):
            await self.ran.wait()
        return self.runs[-1]


async def test_marks_made_before_the_run_collapse_into_one_run_per_key() -> None:
    work = Recorder()
    runner = CoalescingRunner(work, share=0.2)
    for _ in range(100):
        runner.mark("big")
    runner.mark("small")
    await work.next_run()
    if len(work.runs) < 2:
        await work.next_run()
    assert sorted(key for key, _ in work.runs) == ["big", "small"]
    assert runner.pending == 0


async def test_a_costly_key_waits_four_times_its_cost_before_running_again() -> None:
    work = Recorder(cost=0.03)
    runner = CoalescingRunner(work, share=0.2)
    runner.mark("big")
    _, first = await work.next_run()
    runner.mark("big")
    _, second = await work.next_run()
    assert second - first >= 4 * 0.03 * 0.9


async def test_a_cheap_key_runs_again_on_the_next_turn() -> None:
    work = Recorder()
    runner = CoalescingRunner(work, share=0.2)
    runner.mark("small")
    _, first = await work.next_run()
    runner.mark("small")
    _, second = await work.next_run()
    assert second - first < 0.05


async def test_close_cancels_scheduled_runs() -> None:
    work = Recorder()
    runner = CoalescingRunner(work, share=0.2)
    runner.mark("a")
    runner.close()
    loop = asyncio.get_running_loop()
    turned = loop.create_future()
    loop.call_soon(loop.call_soon, turned.set_result, None)  # two turns later
    await turned
    assert work.runs == [] and runner.pending == 0
