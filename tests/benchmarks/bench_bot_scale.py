"""Scale: the bot tracking 1000 clusters with 10,000 pods — its RSS and its idle CPU (issue 15, #5).

Run: .venv/bin/python -m tests.benchmarks.bench_bot_scale [--quick]

The sandbox (simulation off: nothing changes, so the bot is idle) runs in this process; the bot
— the whole ``BotRuntime``: watcher, notifier, outbox, HTTP server — runs in a child process of
its own, so its RSS and CPU are its own. The child waits until the watches have listed every
object, then measures CPU over an idle window long enough to hold the watcher's periodic
recompute of every status (every 30 s). Targets: RSS < 200 MB, idle CPU < 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from typing import Any

from tests.benchmarks.bench_sandbox_scale import populate_store
from tests.benchmarks.common import cpu_seconds, machine, rss_mib, table

NAMESPACE = "team-0"


def bot_process(kubeconfig: str, window: float, out: Any) -> None:
    asyncio.run(_bot(kubeconfig, window, out))


async def _bot(kubeconfig: str, window: float, out: Any) -> None:
    from bot.runtime import BotRuntime
    from bot.settings import BotSettings

    settings = BotSettings.load({
        "slack_bot_token": "xoxb-bench", "slack_signing_secret": "bench",
        # No Slack here: the team is given, so the watcher needs no auth.test to start.
        "slack_api_url": "http://127.0.0.1:9/api/", "slack_team_id": "T0BENCH",
        "kubeconfig": kubeconfig,
        "namespace": NAMESPACE, "host": "127.0.0.1", "port": 0,
    })  # fmt: skip
    runtime = BotRuntime(settings)
    task = asyncio.create_task(runtime.run())
    started = time.perf_counter()
    await runtime.started.wait()  # set once the watcher exists and the port is bound
    assert runtime.watcher is not None
    await runtime.watcher.wait_synced(600)
    synced = time.perf_counter() - started
    tracked = len(runtime.watcher.snapshot())
    await asyncio.sleep(5)  # the first derivations and the notifier's first pass settle
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    await asyncio.sleep(window)
    idle = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0) * 100
    out.put({"rss": rss_mib(), "idle": idle, "synced": synced, "tracked": tracked})
    runtime.stop()
    await task


def main(clusters: int, pods: int, window: float) -> None:
    from core.sandbox.runner import running_sandbox

    with running_sandbox(simulate=False) as sandbox:
        populate_store(sandbox, clusters, pods, 1)
        spawn = multiprocessing.get_context("spawn")  # a fork would share the sandbox's pages
        results: Any = spawn.Queue()
        child = spawn.Process(
            target=bot_process, args=(str(sandbox.kubeconfig_path), window, results)
        )
        child.start()
        found = results.get(timeout=900)
        child.join(60)
    print(f"machine: {machine()}")
    print(table(["clusters", "pods", "tracked", "synced in s", "bot RSS MiB", "idle CPU %"],
                [[clusters, clusters * pods, found["tracked"], found["synced"], found["rss"],
                  found["idle"]]]))  # fmt: skip
    ok = found["rss"] < 200 and found["idle"] < 2
    print(f"SUMMARY {found['tracked']} clusters tracked: bot RSS {found['rss']:.0f} MiB, idle CPU "
          f"{found['idle']:.2f} % ({'meets' if ok else 'misses'} < 200 MB, < 2 %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 35 s idle window, not 120 s")
    args = parser.parse_args()
    main(1000, 10, 35.0 if args.quick else 120.0)
