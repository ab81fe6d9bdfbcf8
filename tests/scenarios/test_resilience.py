"""No lost or doubled message through crashes and Slack's 429s, end to end.

A crash is the bot's task cancelled with no drain (its queued Slack messages die with it, as
under SIGKILL), or a real `krayne-bot serve` process killed with SIGKILL; the Slack double
answers every 4th Web API call with 429 + Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_double.server import SlackDouble
from bot.transitions import card_metadata
from core.config import build_config
from core.sandbox.runner import ThreadedSandbox
from core.state import SLACK_CHANNEL
from core.thread_index import INDEX_NAME
from manifests.raycluster import build_raycluster
from tests.sandbox_fixtures import wait_for
from tests.scenarios.conftest import SHORTEST_LEASE, SPEED, RunningBot
from tests.scenarios.harness import (
    CHANNEL,
    WAIT,
    SlackClient,
    all_text,
    current,
    rayclusters,
    wait_card,
    wait_reply,
)
from tests.scenarios.test_serve import listening_url, serve_env, spawn_serve

NAMES = ("k1", "k2", "k3")


@pytest.fixture
def bot_extra() -> dict[str, object]:
    # A live command links its card within a second here, even behind 429s; past this grace a
    # threadless cluster is taken for the leftover of a bot that died mid-create.
    # A crashed bot keeps its Lease until it expires: the shortest kubernetes-asyncio accepts.
    return {"card_grace_seconds": 3.0, **SHORTEST_LEASE}


async def test_a_bot_killed_mid_provisioning_under_429s_tells_every_thread_ready_once(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    double.fail_every(4)
    for name in NAMES:
        await slack.slash(f"create {name}")
    cards = [await wait_card(double, name) for name in NAMES]
    await double.wait_for(lambda: any(double.thread(CHANNEL, c.ts) for c in cards), WAIT)
    await bot.crash()
    await bot.start()
    slack.url = f"{bot.url}/slack/events"
    for card in cards:
        await wait_reply(double, card, "is ready")
    assert bot.runtime.notifier is not None
    await bot.runtime.notifier.wait_idle()
    await bot.runtime.outbox.drain(10)
    for card in cards:
        said = [all_text(r) for r in double.thread(CHANNEL, card.ts)]
        assert sum("is ready" in s for s in said) == 1, said
        assert len(said) == len(set(said)), said  # no reply twice


FAST_PROCESS = {
    "KRAYNE_SLACK_RATE_SCALE": str(SPEED),  # the double's rate limits run SPEED times faster
    "KRAYNE_CARD_GRACE_SECONDS": "3",
    "KRAYNE_DRAIN_TIMEOUT": "5",
    # The shortest lease kubernetes-asyncio accepts: a killed leader's Lease expires in 2 s.
    "KRAYNE_LEASE_DURATION": "2",
    "KRAYNE_RENEW_DEADLINE": "1.5",
    "KRAYNE_RETRY_PERIOD": "1",
    # The waits measured against the sandbox's simulated time, as BotSettings.faster(SPEED).
    "KRAYNE_NODE_GRACE_SECONDS": str(600 / SPEED),
    "KRAYNE_NODE_GRACE_WITHOUT_AUTOSCALER_SECONDS": str(60 / SPEED),
    "KRAYNE_RETRY_BUDGET_SECONDS": str(300 / SPEED),
    "KRAYNE_INIT_STALL_SECONDS": str(300 / SPEED),
}


@dataclass
class Served:
    """A `krayne-bot serve` process; its log is read all along (a full pipe would stall it)."""

    process: asyncio.subprocess.Process
    url: str
    log: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def served(env: dict[str, str]) -> AsyncIterator[Served]:
    process = await spawn_serve(env)
    reader: asyncio.Task[None] | None = None
    try:
        running = Served(process, await listening_url(process))

        async def read_log() -> None:
            assert process.stderr is not None
            while line := await process.stderr.readline():
                running.log.append(line.decode(errors="replace"))

        reader = asyncio.create_task(read_log())
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if reader is not None:
            await reader


async def test_a_bot_process_sigkilled_mid_provisioning_under_429s_tells_every_thread_ready_once(
    double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    """The crash above, as a pod dies: a real process, SIGKILL (nothing drained, the Lease kept
    until it expires), then a new process that must finish every thread."""
    env = serve_env(sandbox, double, namespace, FAST_PROCESS)
    double.fail_every(4)
    async with aiohttp.ClientSession() as session:
        async with served(env) as first:
            slack = SlackClient(double, f"{first.url}/slack/events", session)
            for name in NAMES:
                assert (await slack.slash(f"create {name}")).status == 200
            cards = [await wait_card(double, name) for name in NAMES]
            await double.wait_for(lambda: any(double.thread(CHANNEL, c.ts) for c in cards), WAIT)
            first.process.send_signal(signal.SIGKILL)
            assert await first.process.wait() == -signal.SIGKILL
        told = [c for c in cards if any("is ready" in all_text(r)
                                        for r in double.thread(CHANNEL, c.ts))]  # fmt: skip
        assert len(told) < len(cards), "killed too late: every cluster was ready already"
        async with served(env) as second:
            for card in cards:
                await wait_reply(double, card, "is ready")
            # SIGTERM drains what is queued: once it exits, nothing more is on its way.
            second.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await second.process.wait() == 0, "".join(second.log[-20:])
    for card in cards:
        said = [all_text(r) for r in double.thread(CHANNEL, card.ts)]
        assert sum("is ready" in s for s in said) == 1, said
        assert len(said) == len(set(said)), said  # no reply twice


async def test_a_crash_between_create_and_the_thread_link_gets_its_card_at_restart(
    bot: RunningBot, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await bot.stop()
    # What a bot that died right after creating leaves behind: a RayCluster from Slack
    # (its channel recorded) without the thread of a card that was never posted.
    body = build_raycluster(
        build_config({"name": "orphan", "namespace": namespace}), owner="U0001",
        annotations={SLACK_CHANNEL: CHANNEL},
    )  # fmt: skip
    await asyncio.to_thread(sandbox.store.create, "rayclusters", body)
    await bot.start()
    card = await wait_card(double, "orphan")
    await wait_reply(double, card, "is ready")
    [rc] = [c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "orphan"]
    assert rc["metadata"]["annotations"]["krayne.io/slack-thread-ts"] == card.ts
    cards = [m for m in double.messages(CHANNEL) if m.text.startswith("Ray cluster orphan:")]
    assert len(cards) == 1


async def test_a_crash_between_the_card_post_and_the_thread_link_finds_that_card_at_restart(
    bot: RunningBot, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    """The bot died after Slack took the card but before the thread was recorded: the next
    bot finds the card in the channel by its metadata (the cluster's uid) and adopts it."""
    await bot.stop()
    body = build_raycluster(
        build_config({"name": "halfway", "namespace": namespace}), owner="U0001",
        annotations={SLACK_CHANNEL: CHANNEL},
    )  # fmt: skip
    created = await asyncio.to_thread(sandbox.store.create, "rayclusters", body)
    slack = AsyncWebClient(token=bot.runtime.settings.secret("bot_token"),
                           base_url=double.base_url)  # fmt: skip
    posted = await slack.chat_postMessage(
        channel=CHANNEL, text="Ray cluster halfway: creating", metadata=card_metadata(
            created["metadata"]["uid"]),
    )  # fmt: skip
    await bot.start()
    card = await wait_card(double, "halfway")
    assert card.ts == posted["ts"]
    await wait_reply(double, card, "is ready")
    [rc] = [c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "halfway"]
    assert rc["metadata"]["annotations"]["krayne.io/slack-thread-ts"] == card.ts
    cards = [m for m in double.messages(CHANNEL) if m.text.startswith("Ray cluster halfway:")]
    assert len(cards) == 1


async def test_a_cluster_deleted_while_the_bot_is_down_is_told_and_its_card_disarmed(
    bot: RunningBot, slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox,
    namespace: str,
) -> None:  # fmt: skip
    await slack.slash("create ghost")
    card = await wait_card(double, "ghost")
    await wait_reply(double, card, "is ready")
    def indexed() -> int:
        items, _rv = sandbox.store.list("configmaps", namespace)
        return sum(len(c.get("data") or {}) for c in items if c["metadata"]["name"] == INDEX_NAME)

    # the thread is indexed apart from the cluster (right after the card is linked)
    await asyncio.to_thread(wait_for, indexed, timeout=WAIT, what="the thread in the index")
    await bot.stop()
    await asyncio.to_thread(sandbox.store.delete, "rayclusters", namespace, "ghost")
    await bot.start()
    reply = await wait_reply(double, card, "was deleted while krayne was not running")
    assert "ghost" in all_text(reply)
    await double.wait_for(
        lambda: all(b["type"] != "actions" for b in current(double, card).blocks) or None, WAIT
    )
    await asyncio.to_thread(
        wait_for, lambda: indexed() == 0, timeout=WAIT, what="the told entry gone from the index"
    )


async def test_a_scale_made_with_kubectl_shows_in_the_thread_a_scale_from_slack_only_once(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create fixed --workers 1 --no-autoscaling")
    card = await wait_card(double, "fixed")
    await wait_reply(double, card, "is ready")
    def kubectl_scale() -> None:  # what `kubectl edit` or a GitOps tool writes
        rc = sandbox.store.get("rayclusters", namespace, "fixed")
        group = rc["spec"]["workerGroupSpecs"][0]
        group["replicas"] = group["minReplicas"] = group["maxReplicas"] = 2
        sandbox.store.replace("rayclusters", rc)

    await asyncio.to_thread(kubectl_scale)
    await wait_reply(double, card, "Scaled outside Slack: group `worker` 1 → 2 worker(s)")
    await slack.slash("scale fixed --workers 3")
    await wait_reply(double, card, "scaled group `worker` to 3")
    await wait_reply(double, card, "is ready again")
    said = [all_text(r) for r in double.thread(CHANNEL, card.ts)]
    assert sum("outside Slack" in s for s in said) == 1, said
