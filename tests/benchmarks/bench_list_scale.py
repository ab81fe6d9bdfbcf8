"""`/krayne list` for 10 / 100 / 1000 clusters: Kubernetes requests and time to the rendered
message, from the watcher's cache and from the API (issue 15, #4).

Run: .venv/bin/python -m tests.benchmarks.bench_list_scale [--quick]

For each size a fresh sandbox (simulation off) holds N ready clusters of 3 pods each. "cache"
is what the bot does in a namespace it watches (``core.cluster_cache`` + ``bot.blocks``);
"API" is its fallback elsewhere (``core.api.list_clusters``: two LISTs). Time is from the call
to the Block Kit message, median of the rounds. Targets: 0 requests from the cache, ≤ 2 without.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from bot import blocks
from bot import messages as msg
from core import api
from core.cluster_cache import cached_summaries
from core.cluster_info import ClusterSummary
from core.kube_asyncio import connect
from core.sandbox.runner import running_sandbox
from core.watching import ClusterWatcher
from tests.benchmarks.bench_sandbox_scale import populate_store
from tests.benchmarks.common import machine, table

NAMESPACE = "team-0"
PODS = 3


def render(clusters: list[ClusterSummary]) -> int:
    scope = msg.list_scope(NAMESPACE, False)
    shown = blocks.cluster_table(clusters, scope=scope, now=datetime.now(UTC), user_names={})
    return len(shown) + len(blocks.cluster_table_text(clusters, scope=scope))


async def measure(count: int, rounds: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with running_sandbox(simulate=False) as sandbox:
        await asyncio.to_thread(populate_store, sandbox, count, PODS, 1)
        client = await connect(str(sandbox.kubeconfig_path))
        watcher = ClusterWatcher(client, [NAMESPACE])
        watching = asyncio.create_task(watcher.run())
        try:
            await watcher.wait_synced(120)
            for source in ("cache", "API"):
                sandbox.reset_requests()
                timings = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    if source == "cache":
                        found = cached_summaries(
                            watcher, NAMESPACE, owner=None, now=datetime.now(UTC)
                        )
                        assert found is not None
                    else:
                        found = await api.list_clusters(NAMESPACE, client=client)
                    render(found)
                    timings.append(time.perf_counter() - started)
                assert len(found) == count, (len(found), count)
                requests = [r for r in sandbox.requests if "watch=" not in r[2]]
                rows.append([count, source, len(requests) / rounds,
                             statistics.median(timings) * 1000, max(timings) * 1000])  # fmt: skip
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await client.close()
    return rows


async def main(quick: bool) -> None:
    rows = []
    for count in (10, 100, 1000):
        rows += await measure(count, 3 if quick else 10)
    print(f"machine: {machine()}")
    print(table(["clusters", "source", "API req/list", "median ms", "max ms"], rows))
    cache = [r for r in rows if r[1] == "cache"]
    apis = [r for r in rows if r[1] == "API"]
    ok = all(r[2] == 0 for r in cache) and all(float(str(r[2])) <= 2 for r in apis)
    print(f"SUMMARY list of 1000 clusters: {cache[-1][3]:.0f} ms and "
          f"{cache[-1][2]:.0f} requests from the cache, {apis[-1][3]:.0f} ms and "
          f"{apis[-1][2]:.0f} requests from the API ({'meets' if ok else 'misses'} 0 / ≤ 2)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds per size, not 10")
    asyncio.run(main(parser.parse_args().quick))
