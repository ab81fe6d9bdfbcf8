"""Two replicas of the bot on one sandbox and one Slack double: one leads, both answer.

Only the Lease holder watches and posts thread replies; either replica answers commands. The
leader is stopped abruptly (its task cancelled: no drain, no Lease released, as a SIGKILL
leaves it) while clusters provision, and the other replica must take over within the lease
duration and finish every thread: exactly one "ready" reply each, no reply twice. Lease
timings are the shortest kubernetes-asyncio accepts (2 s lease, 1.5 s renew deadline, 1 s
retry); nothing sleeps, every wait is a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import SCALE_UP
from bot.slack_double.server import SlackDouble
from core.config import build_config
from core.kube_asyncio import connect
from core.sandbox.runner import ThreadedSandbox, running_sandbox
from core.state import SLACK_CHANNEL, SLACK_TEAM, SLACK_THREAD_TS
from manifests.raycluster import build_raycluster
from tests.sandbox_fixtures import wait_for
from tests.scenarios.conftest import SHORTEST_LEASE, RunningBot, bot_settings
from tests.scenarios.harness import (
    CHANNEL,
    SlackClient,
    all_text,
    current,
    rayclusters,
    wait_created,
    wait_reply,
)

LEASE = SHORTEST_LEASE
SLOW = 1.0
"""Real-time simulation: a cluster needs about 4 s to get ready, longer than a handover."""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    with running_sandbox(speed=SLOW) as running:
        yield running


class Replica(RunningBot):
    """A replica that may be a follower: started without waiting for a watch to sync."""

    async def start(self) -> None:
        self.runtime = self._new_runtime()
        self._task = asyncio.create_task(self.runtime.run(), name="replica")
        async with asyncio.timeout(30):
            await self.runtime.started.wait()

    async def kill(self) -> None:
        """Cancel the replica outright: nothing drained, the Lease kept until it expires."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    @property
    def leading(self) -> bool:
        leadership = self.runtime.leadership
        return leadership is not None and leadership.leading

    async def wait_leading(self, within: float) -> None:
        assert self.runtime.leadership is not None
        async with asyncio.timeout(within):
            await self.runtime.leadership.wait_leading()


@pytest.fixture
async def replicas(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> AsyncIterator[tuple[Replica, Replica]]:
    settings = bot_settings(sandbox, double, namespace, **LEASE)
    first, second = Replica(settings), Replica(settings)
    await first.start()
    await first.wait_leading(10)
    await second.start()
    try:
        yield first, second
    finally:
        for replica in (first, second):
            await replica.stop()


def ready_replies(double: SlackDouble, ts: str, name: str) -> list[str]:
    return [
        all_text(m)
        for m in double.thread(CHANNEL, ts)
        if f"your cluster `{name}` is ready" in m.text
    ]


async def settled(replica: Replica) -> None:
    """The replica's notifier has nothing queued and its outbox sent everything."""
    notifier = replica.runtime.notifier
    assert notifier is not None
    await notifier.wait_idle()
    await replica.runtime.outbox.drain(10)


async def test_one_replica_leads_and_a_follower_answers_commands(
    replicas: tuple[Replica, Replica], double: SlackDouble
) -> None:
    leader, follower = replicas
    assert leader.leading and not follower.leading
    async with aiohttp.ClientSession() as session:
        slack = SlackClient(double, f"{follower.url}/slack/events", session)
        answer = await slack.slash("create answered")
        assert answer.status == 200
        card = await wait_created(double, "answered")  # card by the follower, reply by leader
    await double.wait_for(lambda: ready_replies(double, card.ts, "answered"), timeout=30)
    await settled(leader)
    assert len(ready_replies(double, card.ts, "answered")) == 1
    assert follower.runtime.notifier is None  # the follower never watched nor posted


async def test_a_retried_create_landing_on_the_other_replica_creates_and_posts_once(
    replicas: tuple[Replica, Replica], double: SlackDouble, sandbox: ThreadedSandbox,
    namespace: str,
) -> None:
    """Slack re-sends a request whose ack it missed, maybe to another pod: the RayCluster
    records the request (``krayne.io/slack-request``), so the twin sees it done already."""
    first, second = replicas
    async with aiohttp.ClientSession() as session:
        to_first = SlackClient(double, f"{first.url}/slack/events", session)
        to_second = SlackClient(double, f"{second.url}/slack/events", session)
        body = to_first.command_body("create retried")
        assert (await to_first.post(body)).status == 200
        assert (await to_second.post(body, retry=1)).status == 200
        card = await wait_created(double, "retried")
        await double.wait_for(lambda: ready_replies(double, card.ts, "retried"), timeout=30)
        await settled(first)
        for replica in (first, second):
            await replica.runtime.outbox.drain(10)
    assert [m.ts for m in double.messages(CHANNEL) if "retried" in m.text] == [card.ts]
    assert [c["metadata"]["name"] for c in await rayclusters(sandbox, namespace)] == ["retried"]
    told = [e.text for e in double.ephemerals("U0001")]
    assert not any("already" in text for text in told), "no 'already exists' for one's retry"
    assert sum("asks for a token" in text for text in told) == 1, told  # the create's own note


def scales_handled(replica: Replica) -> float:
    value = replica.runtime.metrics.registry.get_sample_value(
        "krayne_commands_total", {"command": "scale", "outcome": "ok"}
    )
    return value or 0.0


async def test_a_retried_worker_button_landing_on_the_other_replica_adds_one_worker(
    replicas: tuple[Replica, Replica], double: SlackDouble, sandbox: ThreadedSandbox,
    namespace: str,
) -> None:
    """A +1 click is relative: applied twice it adds two workers. Slack's retry of it (the same
    body, ``X-Slack-Retry-Num: 1``) reaching the replica that never saw it finds the click's
    request written with the scale (``krayne.io/scale-requests``) and changes nothing."""
    first, second = replicas
    async with aiohttp.ClientSession() as session:
        to_first = SlackClient(double, f"{first.url}/slack/events", session)
        to_second = SlackClient(double, f"{second.url}/slack/events", session)
        await to_first.slash("create bumped --workers 1 --no-autoscaling")
        card = await wait_created(double, "bumped")
        body = to_first.click_body(current(double, card), SCALE_UP)
        assert (await to_first.post(body)).status == 200
        assert (await to_second.post(body, retry=1)).status == 200
        await wait_reply(double, card, "scaled group `worker` to 2")
        await asyncio.to_thread(
            wait_for, lambda: all(scales_handled(r) == 1 for r in replicas), timeout=30,
            what="the click and its retry handled, one on each replica",
        )  # fmt: skip
    for replica in replicas:
        await replica.runtime.outbox.drain(10)
    [cluster] = await rayclusters(sandbox, namespace)
    assert cluster["spec"]["workerGroupSpecs"][0]["replicas"] == 2
    replies = [m.text for m in double.thread(CHANNEL, card.ts)]
    assert sum("scaled group" in r for r in replies) == 1, replies


async def test_a_delete_pressed_on_the_follower_is_announced_once(
    replicas: tuple[Replica, Replica], double: SlackDouble
) -> None:
    """The follower says "@alice is deleting" itself; the leader, which watches, must not add
    its own "is being deleted" reply, and ends the thread with one "Deleted by"."""
    leader, follower = replicas
    async with aiohttp.ClientSession() as session:
        slack = SlackClient(double, f"{follower.url}/slack/events", session)
        await slack.slash("create doomed")
        card = await wait_created(double, "doomed")
        await double.wait_for(lambda: ready_replies(double, card.ts, "doomed"), timeout=30)
        await settled(leader)
        await slack.click(current(double, card), "krayne_delete")
        confirm = await double.wait_for(
            lambda: [e for e in double.ephemerals("U0001") if "Delete cluster `doomed`" in e.text],
            timeout=30,
        )
        await slack.click(confirm[-1], "krayne_delete_confirm", is_ephemeral=True)  # type: ignore[arg-type]
        await wait_reply(double, card, "Deleted by alice")  # named, not pinged
    await settled(leader)
    await follower.runtime.outbox.drain(10)
    replies = [m.text for m in double.thread(CHANNEL, card.ts)]
    assert len([r for r in replies if "deleting" in r or "deleted" in r.lower()]) == 2, replies
    assert sum("is deleting the cluster" in r for r in replies) == 1, replies
    assert sum("Deleted by" in r for r in replies) == 1, replies


async def test_the_leader_killed_while_clusters_provision_hands_over_with_nothing_lost_or_doubled(
    replicas: tuple[Replica, Replica], double: SlackDouble
) -> None:
    leader, follower = replicas
    names = ["handover-a", "handover-b", "handover-c"]
    async with aiohttp.ClientSession() as session:
        slack = SlackClient(double, f"{follower.url}/slack/events", session)
        for name in names:
            assert (await slack.slash(f"create {name}")).status == 200
        cards = {name: await wait_created(double, name) for name in names}
    assert not any(ready_replies(double, c.ts, n) for n, c in cards.items()), "too late a kill"
    loop = asyncio.get_running_loop()
    killed = loop.time()
    await leader.kill()
    await follower.wait_leading(within=LEASE["lease_duration"] + 2 * LEASE["retry_period"])
    took = loop.time() - killed
    assert took <= LEASE["lease_duration"] + 2 * LEASE["retry_period"], took
    for name, card in cards.items():
        await double.wait_for(lambda c=card, n=name: ready_replies(double, c.ts, n), timeout=30)
    await settled(follower)
    for name, card in cards.items():
        replies = [all_text(m) for m in double.thread(CHANNEL, card.ts)]
        assert len(ready_replies(double, card.ts, name)) == 1, replies
        assert len(replies) == len(set(replies)), f"a reply posted twice: {replies}"


async def test_a_leader_stopping_cleanly_hands_the_lease_over_at_once(
    replicas: tuple[Replica, Replica],
) -> None:
    leader, follower = replicas
    loop = asyncio.get_running_loop()
    stopped = loop.time()
    await leader.stop()
    # Released, the Lease is free at the follower's next retry: sooner than it could expire.
    await follower.wait_leading(within=LEASE["lease_duration"])
    assert loop.time() - stopped < LEASE["lease_duration"]


async def test_clusters_of_another_workspace_get_no_replies_from_this_bot(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    bot = Replica(bot_settings(sandbox, double, namespace, **LEASE))
    await bot.start()
    kube = await connect(str(sandbox.kubeconfig_path))
    web = AsyncWebClient(token=double.bot_token, base_url=double.base_url)
    try:
        await bot.wait_leading(10)
        threads = {}
        for name, team in (("ours", double.team_id), ("theirs", "T0OTHERWS")):
            parent = await web.chat_postMessage(channel=CHANNEL, text=f"thread of {name}")
            threads[name] = str(parent["ts"])
            await kube.create_raycluster(
                _raycluster(name, namespace, team=team, channel=CHANNEL, ts=threads[name])
            )
        await double.wait_for(lambda: ready_replies(double, threads["ours"], "ours"), timeout=30)
        await settled(bot)
        assert double.thread(CHANNEL, threads["theirs"]) == []
        assert bot.runtime.team_id == double.team_id  # learnt from auth.test
    finally:
        await kube.close()
        await bot.stop()


def _raycluster(name: str, namespace: str, *, team: str, channel: str, ts: str) -> dict[str, Any]:
    """A RayCluster as /krayne create makes it, recorded for ``team``'s thread ``ts``."""
    config = build_config(
        {
            "name": name,
            "namespace": namespace,
            "services": {"notebook": False, "code_server": False, "ssh": False},
        }
    )
    body = build_raycluster(config, owner="U0001",
                            annotations={SLACK_TEAM: team, SLACK_CHANNEL: channel,
                                         SLACK_THREAD_TS: ts})  # fmt: skip
    return body


async def test_a_scale_pressed_on_the_follower_is_followed_to_ready_again(
    replicas: tuple[Replica, Replica], double: SlackDouble
) -> None:
    """The follower's scale writes ``krayne.io/scaled-by`` with it; the leader, which alone
    tells the thread, sees that write and follows the scale to "ready again"."""
    leader, follower = replicas
    async with aiohttp.ClientSession() as session:
        slack = SlackClient(double, f"{follower.url}/slack/events", session)
        await slack.slash("create grown --workers 1")  # autoscaling: growth is quiet by default
        card = await wait_created(double, "grown")
        await double.wait_for(lambda: ready_replies(double, card.ts, "grown"), timeout=30)
        await slack.slash("scale grown --workers 2")
        await wait_reply(double, card, "scaled group `worker` to 2")
        await wait_reply(double, card, "is ready again")
    replies = [m.text for m in double.thread(CHANNEL, card.ts)]
    assert not any("outside Slack" in r for r in replies), replies
