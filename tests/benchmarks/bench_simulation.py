"""How heavy the simulated cluster is: N RayClusters × M pods from create to all ready.

Run: .venv/bin/python -m tests.benchmarks.bench_simulation [CLUSTERS] [WORKERS] [SPEED]
Defaults: 1000 clusters × (1 head + 9 workers) at speed 20 on a 200-node pool. Prints the wall
and CPU seconds to reach "all ready", the store writes it took, the timers pending at the end
(0: nothing polls once every pod is ready) and the CPU used while idle afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import time

from core.sandbox.apiserver.store import Store
from core.sandbox.runner import scaled_clock
from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simulation import Simulation
from tests.simulation.conftest import raycluster


async def main(clusters: int, workers: int, speed: float) -> None:
    nodes = [{"name": f"node-{i:03d}", "cpu": "64", "memory": "512Gi", "max_pods": 110}
             for i in range(max(5, clusters * (workers + 1) // 50))]  # fmt: skip
    config = SimConfig.model_validate({"nodes": nodes})
    store = Store(clock=scaled_clock(speed))
    store.create("namespaces", {"metadata": {"name": "default"}})
    sim = Simulation(store, config, speed=speed)
    task = asyncio.create_task(sim.run(), name="bench-simulation")
    await sim.started.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    rv = int(store.resource_version)
    for i in range(clusters):
        store.create("rayclusters", raycluster(f"c{i}", workers=workers, max_workers=workers))
        if i % 50 == 0:
            await asyncio.sleep(0)
    created = time.perf_counter() - wall
    watch = store.watch("rayclusters", "default")  # like an API client: no clone per change
    ready: set[str] = set()
    async with asyncio.timeout(600):
        while len(ready) < clusters:
            change = await watch.queue.get()
            if change is not None and (change.obj.get("status") or {}).get("state") == "ready":
                ready.add(change.obj["metadata"]["name"])
    watch.close()
    writes = int(store.resource_version) - rv
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pending = sim.timers.pending
    idle_cpu = time.process_time()
    await asyncio.sleep(2)
    idle_cpu = time.process_time() - idle_cpu
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    pods = clusters * (workers + 1)
    print(
        f"{clusters} clusters × {workers + 1} pods ({pods} pods, {len(nodes)} nodes, "
        f"speed {speed}):"
        f" all ready after {wall:.1f} s wall ({created:.1f} s creating), {cpu:.1f} s CPU,"
        f" {writes} store changes ({writes / pods:.1f}/pod), {pending} timers pending,"
        f" {idle_cpu:.3f} s CPU in 2 s idle"
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0]) if args else 1000,
            int(args[1]) if len(args) > 1 else 9,
            float(args[2]) if len(args) > 2 else 20.0,
        )
    )
