"""Does the sandbox's simulation starve its own API server? The latency of a simple GET while a
1000-worker cluster is being created, as a client outside the sandbox sees it.

The sandbox runs in a process of its own, started as the shell starts it (`SandboxProcess`). A
second process watches RayClusters, pods and events as the bot does (so the server streams every
change); this one creates a RayCluster like `/krayne create demo3 --workers 1000 --gpus 128` and
sends `GET /api/v1/namespaces/default` every 50 ms, one at a time, until the cluster has all its
pods and the simulation has had ``--seconds`` to work on them.

    .venv/bin/python -m tests.benchmarks.bench_sandbox_latency [--workers 1000] [--gpus 128]
        [--speed 10] [--seconds 30]

Prints one row per 5-second window (plus the idle baseline before the create) and a SUMMARY line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from core.config import ClusterConfig
from core.sandbox.process import SandboxProcess
from manifests.raycluster import build_raycluster
from tests.benchmarks.common import machine, pct, table

PROBE = "/api/v1/namespaces/default"
PROBE_EVERY = 0.05
PROBE_TIMEOUT = 30.0
DEADLINE = 5.0  # the bot's Kubernetes request timeout: what "missed a deadline" means
WINDOW = 5.0


@contextlib.asynccontextmanager
async def sandbox(args: argparse.Namespace) -> AsyncIterator[tuple[str, str, int | None]]:
    """The sandbox in a child process, as the shell starts it, or the one ``--kubeconfig``
    points at (e.g. one run under a profiler): (url, token, pid)."""
    if args.kubeconfig:
        yield (*read_kubeconfig(args.kubeconfig), None)
        return
    async with SandboxProcess(speed=args.speed) as child:
        yield (*read_kubeconfig(child.kubeconfig_path), child.pid)


def read_kubeconfig(path: str | Path) -> tuple[str, str]:
    """(server URL, bearer token) of a sandbox kubeconfig."""
    config = yaml.safe_load(Path(path).read_text())
    return config["clusters"][0]["cluster"]["server"], config["users"][0]["user"]["token"]


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of ``pid`` (Linux /proc; NaN elsewhere)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WATCHED = (
    "/apis/ray.io/v1/namespaces/default/rayclusters",
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/events",
)


async def watch(
    session: aiohttp.ClientSession, url: str, counts: dict[str, int], pods: Any
) -> None:
    """Stream a watch and count its events, as the bot's informer would consume them."""
    name = url.split("/")[-1].split("?")[0]
    while True:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
            async with session.get(url, timeout=timeout) as response:
                async for line in response.content:
                    counts[name] = counts.get(name, 0) + 1
                    if name == "pods" and line.startswith(b'{"type":"ADDED"'):
                        pods.value += 1


def watchers_main(url: str, token: str, pods: Any, conn: Any) -> None:
    """The watches, in a process of their own (like the bot): reading 2 MB of pod changes must
    not delay the probe's own requests. Sends the line counts when told to stop."""

    async def main() -> dict[str, int]:
        counts: dict[str, int] = {}
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            tasks = [
                asyncio.create_task(watch(session, f"{url}{path}?watch=true", counts, pods))
                for path in WATCHED
            ]
            conn.send("watching")
            await asyncio.to_thread(conn.recv)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return counts

    conn.send(asyncio.run(main()))


async def probe(
    session: aiohttp.ClientSession,
    url: str,
    samples: list[tuple[float, float]],
    stop: asyncio.Event,
) -> None:
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
    while not stop.is_set():
        started = loop.time()
        try:
            async with session.get(url + PROBE, timeout=timeout) as response:
                await response.read()
            latency = loop.time() - started
        except (aiohttp.ClientError, TimeoutError):
            latency = PROBE_TIMEOUT
        samples.append((started, latency))
        await asyncio.sleep(PROBE_EVERY)


def row(label: str, latencies: list[float]) -> list[object]:
    ms = [x * 1000 for x in latencies]
    over = sum(1 for x in latencies if x > DEADLINE)
    return [label, len(ms), pct(ms, 0.5), pct(ms, 0.99), max(ms, default=float("nan")), over]


async def run(args: argparse.Namespace) -> None:
    config = ClusterConfig.model_validate(
        {"name": "demo3", "worker_groups": [{"replicas": args.workers, "gpus": args.gpus}]}
    )
    manifest = build_raycluster(config, owner="U0001")
    async with sandbox(args) as (url, token, pid):
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            loop = asyncio.get_running_loop()
            base = f"{url}/apis/ray.io/v1/namespaces/default/rayclusters"
            spawn = multiprocessing.get_context("spawn")
            pods, (ours, theirs) = spawn.Value("i", 0), spawn.Pipe()
            watchers = spawn.Process(target=watchers_main, args=(url, token, pods, theirs))
            watchers.start()
            await asyncio.to_thread(ours.recv)
            samples: list[tuple[float, float]] = []
            stop = asyncio.Event()
            prober = asyncio.create_task(probe(session, url, samples, stop))
            await asyncio.sleep(2.0)
            cpu_before = cpu_seconds(pid)
            created_at = loop.time()
            async with session.post(base, data=json.dumps(manifest)) as response:
                if response.status != 201:
                    raise SystemExit(f"create failed: {response.status} {await response.text()}")
            create_ms = (loop.time() - created_at) * 1000
            deadline = created_at + args.seconds
            all_pods_at = None
            while loop.time() < deadline or all_pods_at is None:
                await asyncio.sleep(0.5)
                if all_pods_at is None and pods.value >= args.workers + 1:
                    all_pods_at = loop.time() - created_at
                if loop.time() > created_at + 300:
                    break
            stop.set()
            await prober
            busy = cpu_seconds(pid) - cpu_before
            elapsed = loop.time() - created_at
            ours.send("stop")
            counts = await asyncio.to_thread(ours.recv)
            watchers.join(10)

    idle = [lat for t, lat in samples if t < created_at]
    during = [(t - created_at, lat) for t, lat in samples if t >= created_at]
    rows = [row("idle, before the create", idle)]
    for start in range(0, int(max((t for t, _ in during), default=0)) + 1, int(WINDOW)):
        window = [lat for t, lat in during if start <= t < start + WINDOW]
        if window:
            rows.append(row(f"{start:>3}-{start + int(WINDOW)} s after", window))
    all_during = [lat for _, lat in during]
    rows.append(row("all, after the create", all_during))
    print(f"machine: {machine()}")
    print(
        f"create {args.workers} workers x {args.gpus} GPUs at --speed {args.speed:g}: POST took "
        f"{create_ms:.0f} ms; all pods existed after "
        f"{all_pods_at if all_pods_at is None else round(all_pods_at, 1)} s; watch lines "
        f"{counts}; sandbox CPU {busy:.1f} s over {elapsed:.1f} s"
    )
    print(table(["GET " + PROBE, "n", "p50 ms", "p99 ms", "max ms", f"> {DEADLINE:g} s"], rows))
    summary = row("", all_during)
    print(
        f"SUMMARY sandbox GET while creating {args.workers} workers: p50 {summary[2]:.1f} ms, "
        f"p99 {summary[3]:.1f} ms, max {summary[4]:.1f} ms, {summary[5]} over {DEADLINE:g} s "
        f"(idle p99 {pct([x * 1000 for x in idle], 0.99):.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--gpus", type=int, default=128)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kubeconfig", help="measure this running sandbox instead of starting one")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
