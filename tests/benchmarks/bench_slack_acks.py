"""How fast the bot acknowledges Slack, and how long a burst of creates takes to be told.

Run: .venv/bin/python -m tests.benchmarks.bench_slack_acks [N ...]
For each N, N users type `/krayne create` at once (signed HTTP requests to the running bot);
prints ack latency (p50/p99/max, Slack allows 3 s) and the time until every cluster's thread
says it is ready, with the number of Web API calls and 429s it took.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import aiohttp

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import running_sandbox
from tests.scenarios.conftest import RunningBot, bot_settings
from tests.scenarios.harness import CHANNEL, SlackClient, all_text

SPEED = 40.0


async def measure(count: int) -> str:
    with running_sandbox(speed=SPEED) as sandbox:
        namespace = f"bench-{count}"
        await asyncio.to_thread(
            sandbox.store.create, "namespaces", {"metadata": {"name": namespace}}
        )
        async with SlackDouble(post_rate=1.0, post_burst=3) as double:
            bot = RunningBot(bot_settings(sandbox, double, namespace, card_interval=1.0))
            await bot.start()
            try:
                async with aiohttp.ClientSession() as session:
                    slack = SlackClient(double, f"{bot.url}/slack/events", session)
                    started = time.perf_counter()
                    answers = await asyncio.gather(
                        *(slack.slash(f"create b{i} --workers 1") for i in range(count))
                    )
                    acks = sorted(a.seconds for a in answers)

                    def all_ready() -> bool:
                        cards = [
                            m for m in double.messages(CHANNEL) if m.text.startswith("Ray cluster")
                        ]
                        ready = [
                            c for c in cards
                            if any("is ready" in all_text(r) for r in double.thread(CHANNEL, c.ts))
                        ]  # fmt: skip
                        return len(ready) == count

                    await double.wait_for(all_ready, timeout=300)
                    told = time.perf_counter() - started
            finally:
                await bot.stop()
            calls = [c for c in double.calls if c.method.startswith("chat.")]
            limited = [c for c in calls if c.response.get("error") == "ratelimited"]
    p99 = acks[min(len(acks) - 1, int(len(acks) * 0.99))]
    return (
        f"N={count:3d}  ack p50 {statistics.median(acks) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"
        f"  max {acks[-1] * 1000:6.1f} ms  |  all ready told in {told:6.1f} s"
        f"  with {len(calls)} chat.* calls, {len(limited)} answered 429"
    )


async def main(counts: list[int]) -> None:
    for count in counts:
        print(await measure(count), flush=True)


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1, 10]))
