"""Kubernetes API load in steady state: requests per tracked cluster per minute, the bot's
watcher beside a Krayne-style poller measured in the same run (issue 15, #3).

Run: .venv/bin/python -m tests.benchmarks.bench_api_load [--quick]

A sandbox (simulation off, so nothing changes) holds 100 ready clusters of 3 pods. The watcher
lists once and then holds its watches open; every request it sends in the window after it has
synced is counted (re-established watches included). The poller does what Krayne does to
follow a cluster: GET the RayCluster and LIST its pods, every 2 s, for every cluster. Target:
≈ 0 for the watcher against 60 for the poller.
"""

from __future__ import annotations

import argparse
import asyncio

from core.kube_asyncio import connect
from core.sandbox.runner import running_sandbox
from core.watching import ClusterWatcher
from tests.benchmarks.bench_sandbox_scale import populate_store
from tests.benchmarks.common import machine, table

NAMESPACE = "team-0"
CLUSTERS = 100
POLL_EVERY = 2.0


async def main(window: float) -> None:
    rows: list[list[object]] = []
    with running_sandbox(simulate=False) as sandbox:
        await asyncio.to_thread(populate_store, sandbox, CLUSTERS, 3, 1)
        client = await connect(str(sandbox.kubeconfig_path))
        try:
            watcher = ClusterWatcher(client, [NAMESPACE])
            watching = asyncio.create_task(watcher.run())
            await watcher.wait_synced(120)
            sandbox.reset_requests()
            await asyncio.sleep(window)
            watched = len(sandbox.requests)
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            rows.append(["krayne-bot watcher", watched, watched / CLUSTERS / (window / 60)])

            async def poll(name: str) -> None:
                while True:
                    await client.get_raycluster(name, NAMESPACE)
                    await client.list_pods(NAMESPACE, label_selector=f"ray.io/cluster={name}")
                    await asyncio.sleep(POLL_EVERY)

            sandbox.reset_requests()
            pollers = [asyncio.create_task(poll(f"rc-{i}")) for i in range(CLUSTERS)]
            await asyncio.sleep(window)
            polled = len(sandbox.requests)
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
            rows.append(["Krayne-style poller", polled, polled / CLUSTERS / (window / 60)])
        finally:
            await client.close()
    print(f"machine: {machine()}; {CLUSTERS} clusters, {window:.0f} s window each")
    print(table(["follower", "requests", "req/cluster/min"], rows))
    ok = float(str(rows[0][2])) < 1
    print(f"SUMMARY {rows[0][2]:.2f} requests per cluster per minute watching against "
          f"{rows[1][2]:.1f} polling ({'meets' if ok else 'misses'} ≈ 0 against 60)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20 s window, not 60 s")
    asyncio.run(main(20.0 if parser.parse_args().quick else 60.0))
