"""The simulation shares its event loop with the sandbox's API server, so it works in slices:
steps that fall due together and a big cluster's pod creations run over many turns of the loop,
with requests answered in between, instead of holding it for a second."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from core.sandbox.sim.kuberay import CREATE_BATCH
from core.sandbox.sim.simloop import SimTimers
from core.sandbox.sim.simulation import Simulation
from tests.simulation.conftest import pods_of, raycluster, until


class Turns:
    """Counts turns of the loop (a callback that re-schedules itself for the next turn)."""

    def __init__(self) -> None:
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_steps_due_together_run_in_order_over_many_turns_and_cancelled_ones_not() -> None:
    timers = SimTimers(speed=1.0)
    timers.bind(asyncio.get_running_loop())
    turns, ran, done = Turns(), [], asyncio.Event()
    handles: list[asyncio.TimerHandle] = []

    def step(i: int) -> None:
        busy(0.0005)  # 200 steps: 100 ms of work, ten 10 ms slices at least
        ran.append((i, turns.count))
        if i == 0:
            timers.cancel(handles[150])  # already due, not run yet: it must not run
        if i == 199:
            done.set()

    handles += [timers.later(0, step, i) for i in range(200)]
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        turns.stop()
        timers.close()
    assert [i for i, _ in ran] == [i for i in range(200) if i != 150]
    assert len({turn for _, turn in ran}) >= 5


async def test_a_big_cluster_is_created_over_many_turns_and_its_status_written_once_complete(
    sim: Simulation,
) -> None:
    store, turns = sim.store, Turns()
    created_on: list[int] = []
    statuses: list[dict[str, Any]] = []

    def seen(event: str, resource: str, obj: dict[str, Any]) -> None:
        if event == "ADDED" and resource == "pods":
            created_on.append(turns.count)
        if resource == "rayclusters" and obj.get("status"):
            statuses.append(obj["status"])

    unsubscribe = store.add_listener(seen)
    try:
        store.create("rayclusters", raycluster("big", workers=200, gpus=128))
        await until(store, lambda: len(pods_of(store, "big")) == 201)
        await until(store, lambda: statuses)
    finally:
        unsubscribe()
        turns.stop()
    # CREATE_BATCH pods per reconcile, reconciles within a 10 ms slice per turn (here 1-2).
    assert len(set(created_on)) >= 3, created_on
    assert len(created_on) == 201 and CREATE_BATCH < 200
    assert statuses[0]["desiredWorkerReplicas"] == 200
