"""Slack calls per create → ready, and the peak call rate per channel with many clusters
provisioning in one channel (issue 15, #6).

Run: .venv/bin/python -m tests.benchmarks.bench_slack_calls [--quick]

Reuses the crowded run of ``bench_notification_lag``: 20 clusters (8 with --quick) created at
once in one channel, the double pacing posts like Slack (1 per second per channel, bursts of 3).
Per cluster: its card post, its thread replies and its card updates. Transitions are the
phases its thread told from create to ready: the card's own ``creating``, one per reply, and
the phases a reply told "on the way" (a progress reply withdrawn before Slack took it, merged
into the next one). Targets: calls ≤ transitions + 1 per cluster; the peak rate in any 1-second
window never above Slack's limit (no call answered 429).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from tests.benchmarks.bench_notification_lag import Run, provision
from tests.benchmarks.common import machine, table


def peak(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def phases_told(text: str) -> int:
    """One for the reply's own phase, one per phase it lists "on the way"."""
    _, _, merged = text.partition("On the way:")
    return 1 + merged.split("\n", 1)[0].count("`") // 2


def per_cluster(run: Run) -> list[tuple[str, int, int, int, int]]:
    """(cluster, transitions, replies, card updates, Slack calls)."""
    replies = Counter(run.cards.get(thread or "") for _, _, thread, _ in run.posts if thread)
    told = Counter[str | None]()
    for _, _, thread, text in run.posts:
        if thread:
            told[run.cards.get(thread)] += phases_told(text)
    updates = Counter(run.cards.get(ts) for _, _, ts in run.updates)
    return [(name, 1 + told[name], replies[name], updates[name],
             1 + replies[name] + updates[name])
            for name in sorted(run.cards.values())]  # fmt: skip


async def main(quick: bool) -> None:
    run = await provision(8 if quick else 20, channels=1, paced=True)
    clusters = per_cluster(run)
    posts = [at for at, *_ in run.posts]
    updates = [at for at, *_ in run.updates]
    rows = [[name, transitions, replies, ups, calls, f"{calls / (transitions + 1):.2f}"]
            for name, transitions, replies, ups, calls in clusters]  # fmt: skip
    print(f"machine: {machine()}; {len(clusters)} clusters created at once in one channel")
    print(table(["cluster", "transitions", "replies", "card updates", "Slack calls",
                 "calls/(transitions+1)"], rows))  # fmt: skip
    ratio = max(c / (t + 1) for _, t, _, _, c in clusters)
    print(f"peak per channel in any 1 s: {peak(posts)} chat.postMessage, {peak(updates)} "
          f"chat.update, {peak(posts + updates)} chat.* in all")
    ok = ratio <= 1.0 and peak(posts) <= 3
    print(f"SUMMARY at most {ratio:.2f} x (transitions + 1) Slack calls per create→ready; peak "
          f"{peak(posts)} posts/s per channel against Slack's 1/s with bursts of 3 "
          f"({'meets' if ok else 'misses'} ≤ transitions + 1, never above the limit)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 clusters, not 20")
    asyncio.run(main(parser.parse_args().quick))
