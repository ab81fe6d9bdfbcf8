"""Benchmark: derive_status cost and the watcher's throughput with many subscribers.

Run: ``.venv/bin/python -m tests.benchmarks.bench_watching``. Prints numbers; asserts nothing.
The API side is the in-memory fake of the unit tests, so this measures the watcher alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from core.informer import WatchSettings
from core.status import derive_status
from core.watching import ClusterWatcher
from tests.unit.fake_kube import FakeKube
from tests.unit.kube_objects import NOW, group, head, pod, raycluster


def bench_derive_status(workers: int, rounds: int = 2000) -> None:
    rc = raycluster(groups=[group("worker", workers, max_replicas=workers)])
    pods = [head()] + [
        pod(f"demo-worker-worker-{i:05d}", node_type="worker", ready=True) for i in range(workers)
    ]
    started = time.perf_counter()
    for _ in range(rounds):
        derive_status(rc, pods, [], NOW)
    per_call = (time.perf_counter() - started) / rounds
    print(f"derive_status, {workers + 1:4d} pods: {per_call * 1e6:9.1f} µs per call")


async def bench_watcher(clusters: int, subscribers: int, updates: int) -> None:
    kube = FakeKube()
    watcher = ClusterWatcher(kube, ["default"], settings=WatchSettings(), clock=lambda: NOW)
    task = asyncio.create_task(watcher.run())
    received = [0] * subscribers

    async def consume(index: int, ready: asyncio.Event) -> None:
        async with watcher.subscribe() as sub:
            ready.set()
            async for _change in sub:
                received[index] += 1

    last = f"c{(updates - 1) % clusters:04d}"
    try:
        await watcher.wait_synced(10)
        async with asyncio.TaskGroup() as tg, watcher.subscribe() as done:
            readies = [asyncio.Event() for _ in range(subscribers)]
            consumers = [tg.create_task(consume(i, readies[i])) for i in range(subscribers)]
            for ready in readies:
                await ready.wait()
            started = time.perf_counter()
            for n in range(updates):
                name = f"c{n % clusters:04d}"
                kube.apply("rayclusters", raycluster(name, annotations={"n": str(n)}))
                if n % 50 == 0:
                    await asyncio.sleep(0)  # let the watcher and the subscribers run
            async for change in done:
                if change.name == last and change.annotations.get("n") == str(updates - 1):
                    break
            elapsed = time.perf_counter() - started
            for consumer in consumers:
                consumer.cancel()
        calls = kube.calls
        print(
            f"watcher, {clusters:4d} clusters, {subscribers:4d} subscribers: "
            f"{updates / elapsed:9.0f} updates/s, {calls['list:rayclusters']} list + "
            f"{calls['watch:rayclusters']} watch of rayclusters, each subscriber got "
            f"≤{max(received)} (coalesced) changes"
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main() -> None:
    for workers in (1, 10, 100):
        bench_derive_status(workers)
    for clusters, subscribers in ((10, 1), (10, 100), (200, 100)):
        asyncio.run(bench_watcher(clusters, subscribers, updates=5000))


if __name__ == "__main__":
    main()
