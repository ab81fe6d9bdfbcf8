"""How `/krayne list` scales: requests and latency of list_clusters for N clusters.

Run: .venv/bin/python -m tests.benchmarks.bench_list_clusters [N ...]
Prints one line per N; the request count must stay 2 whatever N is.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from core.api import create_cluster, list_clusters
from core.config import build_config
from core.kube_asyncio import connect
from core.sandbox.runner import running_sandbox

NO_SERVICES = {"notebook": False, "code_server": False, "ssh": False}
ROUNDS = 20


async def measure(sandbox: object, count: int) -> tuple[int, float, float]:
    client = await connect(str(sandbox.kubeconfig_path))  # type: ignore[attr-defined]
    try:
        configs = [
            build_config({"name": f"b{count}-{i}", "services": NO_SERVICES}) for i in range(count)
        ]
        await asyncio.gather(*(create_cluster(c, client=client) for c in configs))
        timings = []
        for _ in range(ROUNDS):
            sandbox.reset_requests()  # type: ignore[attr-defined]
            start = time.perf_counter()
            await list_clusters("default", client=client)
            timings.append(time.perf_counter() - start)
        requests = len(sandbox.requests)  # type: ignore[attr-defined]
    finally:
        await client.close()
    return requests, statistics.median(timings), max(timings)


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1, 25, 100]
    for count in sizes:
        with running_sandbox(simulate=False) as sandbox:
            requests, median, worst = asyncio.run(measure(sandbox, count))
        print(
            f"clusters={count:4d} requests={requests} "
            f"median={median * 1000:7.1f} ms worst={worst * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
