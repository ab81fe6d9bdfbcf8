"""Shared pieces of the benchmark scripts: tables, percentiles, the machine, a load generator in
its own process and a bare Bolt app (the floor acks are measured against).

The load generator runs in a child process so that signing and sending 50 requests at once does
not compete with the bot for the event loop or the GIL; the numbers it returns are what a
client outside the bot sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import platform
import re
import resource
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.shell import signing

# --- the sandbox in a process of its own -------------------------------------------------


def _sandbox_main(conn: Any, namespaces: list[str], kwargs: dict[str, Any]) -> None:
    from core.sandbox.runner import running_sandbox

    with running_sandbox(**kwargs) as sandbox:
        for namespace in namespaces:
            sandbox.store.create("namespaces", {"metadata": {"name": namespace}})
        conn.send(str(sandbox.kubeconfig_path))
        conn.recv()  # until the benchmark is done


@contextlib.contextmanager
def sandbox_process(namespaces: list[str], **kwargs: Any) -> Iterator[str]:
    """A sandbox (API server + simulation) in a spawned process, like a real API server that
    is not in the bot's process; yields its kubeconfig path."""
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    child = spawn.Process(target=_sandbox_main, args=(theirs, namespaces, kwargs), daemon=True)
    child.start()
    try:
        if not ours.poll(60):
            raise TimeoutError("the sandbox process did not start within 60 s")
        yield str(ours.recv())
    finally:
        ours.send("stop")
        child.join(30)


class CountingKube:
    """A ``KubeClient`` that counts the requests it sends (watches aside) and delegates."""

    VERBS = ("get_", "list_", "create_", "replace_", "patch_", "delete_", "read_")

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not name.startswith(self.VERBS) or not callable(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return await attr(*args, **kwargs)

        return counted


def machine() -> str:
    """``nproc`` and the CPU model, for the README next to the numbers."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else model
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}"


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    """CPU time of this process (all threads), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the load generator (child process) ---------------------------------------------------


def signed(secret: str, body: bytes) -> dict[str, str]:
    return signing.signed_headers(secret, body, None, content_type=signing.FORM)


async def _fire(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> list[float]:
    latencies: list[float] = []
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while queue:
                body, headers = queue.pop()
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status} from {url}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _fire_sync(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[list[float], float]:
    started = time.perf_counter()
    latencies = asyncio.run(_fire(url, requests, concurrency))
    return latencies, time.perf_counter() - started


class LoadGenerator:
    """Sends pre-signed requests from a child process; returns (latencies, wall seconds)."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1)

    async def run(
        self, url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
    ) -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _fire_sync, url, requests, concurrency)

    def close(self) -> None:
        self._pool.shutdown()


# --- the floor: a Bolt app that only acknowledges -----------------------------------------


class BareBolt:
    """slack-bolt's AsyncApp with one listener that acks, behind the same aiohttp adapter."""

    def __init__(self, *, secret: str, token: str, api_url: str) -> None:
        self.app = AsyncApp(
            signing_secret=secret,
            client=AsyncWebClient(token=token, base_url=api_url),
            process_before_response=False,
        )

        async def only_ack(ack: Any) -> None:
            await ack(text="ok", response_type="ephemeral")

        self.app.command(re.compile(r"^/.+"))(only_ack)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> BareBolt:
        web_app = web.Application()

        async def events(request: web.Request) -> web.StreamResponse:
            return await to_aiohttp_response(await self.app.async_dispatch(
                await to_bolt_request(request)))  # fmt: skip

        web_app.router.add_post("/slack/events", events)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack/events"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
