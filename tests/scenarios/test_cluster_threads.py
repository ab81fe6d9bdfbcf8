"""`/krayne create` end to end: a card in the channel, one thread reply per phase, failures
explained with a hint, and a restarted bot that resumes its threads without repeating itself."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from bot.slack_double.records import Message
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from manifests.raycluster import DEFAULT_PYTHON_TAG, DEFAULT_RAY_VERSION, default_image
from tests.scenarios.conftest import RunningBot, bot_settings
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

ORDER = ["creating", "pods-pending", "containers-creating", "running", "ready"]
_PHASE = re.compile(r"\(`([a-z-]+)`\)")


def phases(replies: list[Message]) -> list[str]:
    """The phase each status reply announced, in thread order (other replies skipped)."""
    found = [_PHASE.search(r.text) for r in replies]
    named = ["ready" if "is ready" in r.text else None for r in replies]
    return [m.group(1) if m else n for m, n in zip(found, named, strict=True) if m or n]


async def test_create_walks_through_phases_to_ready_and_mentions_the_owner(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    answer = await slack.slash("create demo --gpus 1")
    assert answer.status == 200
    assert answer.seconds < 2.0
    assert "demo" in answer.text

    card = await wait_card(double, "demo")
    ready = await wait_reply(double, card, "is ready")

    replies = double.thread(CHANNEL, card.ts)
    assert all(r.thread_ts == card.ts for r in replies)
    walked = phases(replies)
    assert walked[-1] == "ready"
    assert len(walked) >= 3, walked  # e.g. creating/pods-pending, containers-creating, ready
    assert walked == [p for p in ORDER if p in walked], walked  # forward only, each once
    assert replies[-1].ts == ready.ts
    assert "<@U0001>" in ready.text
    body = all_text(ready)
    assert f"demo-head-svc.{namespace}.svc.cluster.local" in body
    assert ":8265" in body and ":10001" in body
    assert f"kubectl port-forward -n {namespace} svc/demo-head-svc 8265:8265 10001:10001" in body

    await double.wait_for(
        lambda: current(double, card).text.startswith("Ray cluster demo: ready — "), WAIT
    )  # the phase, the reason and the owner, for screen readers and notifications
    assert current(double, card).text.endswith("(owner: alice)")
    assert "ready" in all_text(current(double, card))

    [cluster] = [
        c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "demo"
    ]
    notes = cluster["metadata"]["annotations"]
    assert notes["krayne.io/owner"] == "U0001"
    assert notes["krayne.io/slack-channel"] == CHANNEL
    assert notes["krayne.io/slack-thread-ts"] == card.ts
    assert '"phase":"ready"' in notes["krayne.io/notified"]


async def test_too_many_gpus_end_in_unschedulable_quoting_the_scheduler(
    slack: SlackClient, double: SlackDouble
) -> None:
    # 64 GPUs on one worker: valid (core.config allows up to 128), but no node has more than 4.
    answer = await slack.slash("create huge --gpus 64")
    assert "Creating" in answer.text
    card = await wait_card(double, "huge")
    reply = await wait_reply(double, card, "(`unschedulable`)")
    text = all_text(reply)
    assert "Insufficient nvidia.com/gpu" in text
    assert "64 nvidia.com/gpu" in text  # what the pod asked for, beside the scheduler's message
    assert ":bulb:" in text
    assert {"krayne_describe", "krayne_delete"} <= {
        e["action_id"] for b in reply.blocks if b["type"] == "actions" for e in b["elements"]
    }


async def test_a_bad_image_reports_image_pull_error_with_a_hint(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create badimg --image docker.io/rayproject/ray:0.0.0-nope")
    card = await wait_card(double, "badimg")
    reply = await wait_reply(double, card, "(`image-pull-error`)")
    text = all_text(reply)
    assert "docker.io/rayproject/ray:0.0.0-nope" in text
    assert "not found" in text
    assert ":bulb:" in text


async def test_a_crashing_image_reports_crash_loop_with_its_last_log_lines(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create crashy --image example.com/krayne/crashing-ray:latest")
    card = await wait_card(double, "crashy")
    reply = await wait_reply(double, card, "(`crash-loop`)")
    text = all_text(reply)
    assert "exit code" in text
    assert "```" in text  # the previous run's log lines
    assert ":bulb:" in text


async def test_a_restarted_bot_resumes_the_thread_without_repeating_a_transition(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create again")
    card = await wait_card(double, "again")
    await wait_reply(double, card, "is ready")
    before = [all_text(r) for r in double.thread(CHANNEL, card.ts)]
    updates = len(double.calls_to("chat.update"))

    await bot.stop()
    await bot.start()
    slack.url = f"{bot.url}/slack/events"  # the new bot listens on a new port
    # The new bot refreshes every card it finds once, then has nothing new to say.
    await double.wait_for(lambda: len(double.calls_to("chat.update")) > updates, WAIT)
    assert bot.runtime.notifier is not None
    await bot.runtime.notifier.wait_idle()
    await bot.runtime.outbox.drain(10)
    assert [all_text(r) for r in double.thread(CHANNEL, card.ts)] == before

    await slack.slash("scale again --workers 2")
    await wait_reply(double, card, "scaled group")
    again = await wait_reply(double, card, "is ready again")
    assert "<@U0001>" not in again.text  # the owner was told once; no second ping
    walked = phases(double.thread(CHANNEL, card.ts))
    first_ready = walked.index("ready")
    assert walked[: first_ready + 1] == [p for p in ORDER if p in walked[: first_ready + 1]]


async def test_the_first_card_shows_the_desired_workers_and_the_images_in_use(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create firstcard --gpus 1")
    await wait_card(double, "firstcard")
    [posted] = [
        c for c in double.calls_to("chat.postMessage")
        if c.args.get("text", "").startswith("Ray cluster firstcard:")
    ]  # fmt: skip
    first = all_text(
        Message(CHANNEL, "first", "bot", posted.args["text"], tuple(posted.args["blocks"]))
    )
    assert "0/1 ready" in first  # --gpus 1 means one worker, asked for from the start
    image = default_image(DEFAULT_RAY_VERSION, DEFAULT_PYTHON_TAG, gpu=False)
    assert f"`{image}`" in first  # the head's image
    assert f"`{image}-gpu`" in first  # the GPU worker's image
    assert "default" not in first.split("*Image")[1]


def card_phase(text: str) -> str:
    """The phase a card's text announces: ``Ray cluster NAME: PHASE — reason (owner: who)``."""
    return text.partition(": ")[2].split(" ", 1)[0]


def story(double: SlackDouble, card_ts: str) -> list[str]:
    """One cluster's messages in the order Slack received them: ``reply:<phase>``,
    ``card:<phase>`` (a chat.update of its card) and ``note:<text>`` (a user action's reply)."""
    told: list[str] = []
    for call in double.calls:
        if call.response.get("ok") is not True:
            continue
        text = str(call.args.get("text", ""))
        if call.method == "chat.update" and call.args.get("ts") == card_ts:
            told.append("card:" + card_phase(text))
        elif call.method == "chat.postMessage" and call.args.get("thread_ts") == card_ts:
            message = Message(CHANNEL, "", "bot", text)
            said = phases([message])
            told.append(f"reply:{said[0]}" if said else f"note:{text}")
    return told


async def test_a_clusters_story_is_told_in_causal_order_at_a_slow_posting_rate(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    """The card never announces a phase its thread has not told yet, and a scale is
    acknowledged in the thread before the phases it causes, even when posts queue up."""
    running = RunningBot(bot_settings(sandbox, double, namespace, card_interval=0.25))
    await running.start()
    try:
        async with aiohttp.ClientSession() as session:
            slack = SlackClient(double, f"{running.url}/slack/events", session)
            await slack.slash("create causal --workers 1")
            card = await wait_card(double, "causal")
            await wait_reply(double, card, "is ready")
            await double.wait_for(lambda: card_phase(current(double, card).text) == "ready", WAIT)
            await slack.slash("scale causal --workers 2")
            await wait_reply(double, card, "is ready again")
            assert await running.runtime.outbox.drain(WAIT)  # the card update after it, too
    finally:
        await running.stop()

    told = story(double, card.ts)
    for index, entry in enumerate(told):
        if entry.startswith("card:"):
            phase = entry.removeprefix("card:")
            assert f"reply:{phase}" in told[:index], f"card said {phase} first: {told}"
    notes = [i for i, entry in enumerate(told) if entry.startswith("note:")]
    assert len(notes) == 1 and "scaled group" in told[notes[0]], told
    first_ready = told.index("reply:ready")
    between = [e for e in told[first_ready + 1 : notes[0]] if e.startswith("reply:")]
    assert between == [], f"replies caused by the scale came before its note: {told}"
    assert any(e.startswith("reply:") for e in told[notes[0] + 1 :]), told


async def test_clusters_created_at_once_in_one_channel_get_one_card_each_and_ready_first(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    """Cards queue at the channel's pace for longer than the card grace: none of them is
    taken for a crashed bot's leftover and posted twice; and once a thread has its card, its
    "ready" overtakes the cards still queued for other clusters."""
    names = [f"crowd{i}" for i in range(5)]
    running = RunningBot(
        bot_settings(sandbox, double, namespace, card_interval=0.5, card_grace_seconds=0.5)
    )
    await running.start()
    try:
        async with aiohttp.ClientSession() as session:
            slack = SlackClient(double, f"{running.url}/slack/events", session)
            await asyncio.gather(*(slack.slash(f"create {name}") for name in names))
            cards = [await wait_card(double, name) for name in names]
            for card in cards:
                await wait_reply(double, card, "is ready")
            assert await running.runtime.outbox.drain(WAIT)
    finally:
        await running.stop()
    for name in names:
        posted = [m for m in double.messages(CHANNEL) if m.text.startswith(f"Ray cluster {name}:")]
        assert len(posted) == 1, f"{name}: {len(posted)} cards"
    first_ready = next(i for i, c in enumerate(double.calls)
                       if c.method == "chat.postMessage" and "is ready" in str(c.args.get("text")))
    cards_after = [c for c in double.calls[first_ready:] if c.method == "chat.postMessage"
                   and str(c.args.get("text", "")).startswith("Ray cluster crowd")]  # fmt: skip
    assert cards_after, "every card went out before the first ready: nothing was overtaken"
