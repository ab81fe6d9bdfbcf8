"""Slack answering 5xx or not answering in time: per thread, nothing lost, doubled or reordered,
and no ack slowed down, end to end.

The Slack double answers every 4th chat.postMessage with 503 (nothing posted) and holds the
answer to every 5th successful one past the bot's timeout (posted, but the bot cannot know):
the dangerous case, where a blind re-send posts the message twice. Each status reply carries
its transition in its metadata (``krayne_transition``: cluster uid, phase, seq), so a thread
tells exactly what it was told, in which order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox, running_sandbox
from tests.scenarios.conftest import RunningBot
from tests.scenarios.harness import CHANNEL, SlackClient, all_text, wait_card, wait_reply

NAMES = ("o1", "o2", "o3")
TIMEOUT = 1
"""The bot's Web API timeout here (whole seconds, slack_sdk's unit); 15 s by default."""
LATE = TIMEOUT + 0.5
SLOWER = 10.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    # Slower than the other scenarios' sandbox, so threads go through several phases.
    with running_sandbox(speed=SLOWER) as running:
        yield running


@pytest.fixture
def bot_extra() -> dict[str, object]:
    return {"slack_timeout": TIMEOUT}


def transitions(double: SlackDouble, ts: str) -> list[dict[str, Any]]:
    """The status replies of a thread, in thread order, as their metadata tells them."""
    return [
        m.metadata["event_payload"]
        for m in double.thread(CHANNEL, ts)
        if m.metadata and m.metadata.get("event_type") == "krayne_transition"
    ]


async def test_slack_5xx_and_late_answers_lose_double_or_reorder_no_reply_nor_slow_an_ack(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    double.fail_every(4, "service_unavailable", method="chat.postMessage", status=503)
    double.answer_late("chat.postMessage", every=5, seconds=LATE)
    answers = [await slack.slash(f"create {name}") for name in NAMES]
    cards = [await wait_card(double, name) for name in NAMES]
    # While the outbox waits for an answer that will not come in time, commands are answered.
    await double.wait_for(lambda: [c for c in double.calls_to("chat.postMessage") if c.late])
    answers.append(await slack.slash("list"))
    assert all(a.status == 200 and a.seconds < 1.0 for a in answers), answers
    for card in cards:
        await wait_reply(double, card, "is ready")
    assert bot.runtime.notifier is not None
    await bot.runtime.notifier.wait_idle()
    await bot.runtime.outbox.drain(10)

    posts = double.calls_to("chat.postMessage")
    assert [c for c in posts if c.status == 503], "no 503 was answered"
    assert [c for c in posts if c.late], "no answer came late"
    for name, card in zip(NAMES, cards, strict=True):
        told = transitions(double, card.ts)
        # seq counts the thread's status replies: 1, 2, 3, … with none missing, doubled or
        # swapped, and the last one is "ready", said once.
        assert [t["seq"] for t in told] == list(range(1, len(told) + 1)), told
        assert [t["phase"] for t in told].count("ready") == 1 and told[-1]["phase"] == "ready"
        said = [all_text(m) for m in double.thread(CHANNEL, card.ts)]
        assert len(said) == len(set(said)), said
        tops = [m.text for m in double.messages(CHANNEL)]
        assert sum(t.startswith(f"Ray cluster {name}:") for t in tops) == 1, "a card twice"
