"""Ack latency under load, beside a bare Bolt app measured in the same run (issue 15, #1).

Run: .venv/bin/python -m tests.benchmarks.bench_ack_latency [--quick] [--profile COMMAND]

A sandbox (its own process, like a real API server) holds a namespace with ten clusters; the bot
serves HTTP on the main loop, beside the bare Bolt app; the Slack double runs on a thread of its
own; the load generator is a child process. Kubernetes requests are counted by the bot's client.
For each command, N signed `/krayne` requests go out 50 at a time, and the same number goes to a
slack-bolt app that only acks. Between rows the bot's slow halves are left to finish, so a row
measures its own command. ``--profile list`` prints where the main thread spent its time while
the `list` row ran (cProfile, cumulative). Target: p99 of `list` ≤ 1.5 × the bare app's p99.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
from types import SimpleNamespace

from bot.priority import freeze_startup_heap
from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.shell import signing
from bot.slack_double.server import SlackDouble, running_slack_double
from core.api import create_cluster
from core.config import build_config
from core.kube_asyncio import connect
from core.status import Phase
from tests.benchmarks.common import (
    BareBolt,
    CountingKube,
    LoadGenerator,
    machine,
    pct,
    sandbox_process,
    signed,
    table,
)
from tests.scenarios.conftest import RunningBot, bot_settings
from tests.scenarios.harness import SECRET

NAMESPACE = "bench-acks"
CONCURRENCY = 50
NO_SERVICES = {"notebook": False, "code_server": False, "ssh": False}
COMMANDS = {
    "help": lambda i: "help",
    "list": lambda i: "list",
    "describe": lambda i: f"describe c{i % 10}",
    "describe missing": lambda i: f"describe nope{i}",
    "create": lambda i: f"create n{i % 10} --workers 1",
}


def bodies(double: SlackDouble, texts: list[str]) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for text in texts:
        body = signing.slash_command_body(
            text=text, user_id="U0001", user_name="alice", channel_id="C0001",
            channel_name="general", team_id=double.team_id,
            response_url=double.new_response_url(channel="C0001", user="U0001"),
        )  # fmt: skip
        out.append((body, signed(SECRET, body)))
    return out


class CountedBot(RunningBot):
    """The scenario tests' running bot, on a Kubernetes client that counts its requests."""

    def __init__(self, settings: BotSettings, kube: CountingKube) -> None:
        self.kube = kube
        super().__init__(settings)

    def _new_runtime(self) -> BotRuntime:
        return BotRuntime(self.settings, kube=self.kube, readiness=self._readiness,
                          home_debounce=self._home_debounce)  # type: ignore[arg-type]


async def provisioned(bot: RunningBot) -> None:
    """Wait until the ten clusters are ready, so their provisioning is not in any row."""
    watcher = bot.runtime.watcher
    assert watcher is not None
    async with watcher.subscribe(replay=True) as changes, asyncio.timeout(300):
        async for _change in changes:
            ready = [c for c in watcher.snapshot() if c.status.phase is Phase.READY]
            if len(ready) == 10:
                return


async def quiet(bot: RunningBot) -> None:
    """Wait until every slow half the bot started has finished (deadline 120 s)."""
    async with asyncio.timeout(120):
        while bot.runtime._work:  # noqa: SLF001 - the runtime's own task set
            await asyncio.wait(set(bot.runtime._work))  # noqa: SLF001


async def measure(count: int, profile: str | None) -> list[list[object]]:
    rows: list[list[object]] = []
    with sandbox_process([NAMESPACE], speed=40.0) as kubeconfig, running_slack_double() as double:
        kube = CountingKube(await connect(kubeconfig))
        configs = [
            build_config({"name": f"c{i}", "namespace": NAMESPACE, "services": NO_SERVICES})
            for i in range(10)
        ]
        await asyncio.gather(*(create_cluster(c, client=kube) for c in configs))  # type: ignore[arg-type]
        load = LoadGenerator()
        where = SimpleNamespace(kubeconfig_path=kubeconfig)
        bot = CountedBot(bot_settings(where, double, NAMESPACE, card_interval=1.0), kube)  # type: ignore[arg-type]
        await bot.start()
        await provisioned(bot)
        freeze_startup_heap()  # as `krayne-bot serve` does (the bare app profits from it too)
        try:
            async with BareBolt(secret=SECRET, token=double.bot_token,
                                api_url=double.base_url) as bare:  # fmt: skip
                for _warm_up in range(2):  # the second run counts: sockets, caches warm
                    floor, _ = await load.run(
                        bare.url, bodies(double, ["list"] * count), CONCURRENCY
                    )
                floor_p99 = pct(floor, 0.99)
                rows.append(_row("bare Bolt (floor)", floor, count, floor_p99, 0.0))
                # The bot gets the same warm-up as the floor: one untimed round of `help`.
                await load.run(f"{bot.url}/slack/events", bodies(double, ["help"] * count),
                               CONCURRENCY)  # fmt: skip
                for name, text in COMMANDS.items():
                    requests = bodies(double, [text(i) for i in range(count)])
                    profiler = cProfile.Profile() if profile == name else None
                    before = kube.requests
                    if profiler:
                        profiler.enable()
                    acks, wall = await load.run(f"{bot.url}/slack/events", requests, CONCURRENCY)
                    settled = time.perf_counter()
                    await quiet(bot)
                    if profiler:
                        profiler.disable()
                        _print_profile(profiler)
                    tail = time.perf_counter() - settled
                    api = kube.requests - before
                    rows.append(_row(name, acks, count, floor_p99, api / count, wall, tail))
        finally:
            await bot.stop()
            load.close()
            await kube.inner.close()
    return rows


def _row(
    name: str, acks: list[float], count: int, floor_p99: float, api_per: float,
    wall: float = 0.0, tail: float = 0.0,
) -> list[object]:  # fmt: skip
    p99 = pct(acks, 0.99)
    ratio = f"{p99 / floor_p99:.2f}x" if floor_p99 and wall else "1.00x"
    return [
        name, count, pct(acks, 0.5) * 1000, p99 * 1000, max(acks) * 1000, ratio,
        f"{api_per:.2f}", f"{tail:.2f}",
    ]  # fmt: skip


def _print_profile(profiler: cProfile.Profile) -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 requests per row, not 2000")
    parser.add_argument("--profile", choices=sorted(COMMANDS), help="cProfile one row")
    args = parser.parse_args()
    count = 500 if args.quick else 2000
    rows = asyncio.run(measure(count, args.profile))
    print(f"machine: {machine()}; {CONCURRENCY} concurrent signed requests per row")
    print(table(["command", "N", "p50 ms", "p99 ms", "max ms", "p99/floor", "API req/cmd",
                 "tail s"], rows))  # fmt: skip
    worst = max(float(str(r[5]).rstrip("x")) for r in rows[1:])
    list_ratio = next(str(r[5]) for r in rows if r[0] == "list")
    verdict = "meets" if float(list_ratio.rstrip("x")) <= 1.5 else "misses"
    print(f"SUMMARY ack p99 of list is {list_ratio} the bare Bolt floor ({verdict} ≤ 1.5x); "
          f"worst command {worst:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
