"""Cluster hygiene from Slack, end to end: TTLs that remind, extend, suspend and delete, and
suspend/resume by command and button, surviving a restart of the bot.

The policy gives seconds where production gives hours, so a whole TTL runs in a few seconds of
wall time; the bot's hygiene loop sleeps until each step is due (no polling, no test sleeps).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack_double.records import Message
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.conftest import RunningBot
from tests.scenarios.harness import (
    CHANNEL,
    WAIT,
    SlackClient,
    all_text,
    rayclusters,
    wait_card,
    wait_reply,
)

POLICY = """
ttl: {default: 4s, min: 1s, max: 1h, remind_before: 2s, delete_after_suspend: 2s}
"""


@pytest.fixture
def bot_extra(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return {"policy_file": str(path)}


def reminders(double: SlackDouble, card: Message) -> list[Message]:
    return [r for r in double.thread(CHANNEL, card.ts) if "then it is suspended" in all_text(r)]


async def test_a_short_ttl_reminds_extends_then_suspends_and_finally_deletes(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create brief --ttl 3s")
    card = await wait_card(double, "brief")
    reminder = await wait_reply(double, card, "expires in")
    assert "<@U0001>" in reminder.text  # the owner is mentioned, with Extend and Delete now
    await slack.click(reminder, "krayne_ttl_extend")
    await wait_reply(double, card, "extended `brief`")
    # The extension moved the expiry: one more reminder for the new one, then the suspension.
    await double.wait_for(lambda: len(reminders(double, card)) == 2, WAIT)
    await wait_reply(double, card, "reached its TTL and was suspended")
    [rc] = [c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "brief"]
    assert rc["spec"]["suspend"] is True
    await wait_reply(double, card, "Deleted by its TTL")

    async def gone() -> bool:
        return all(c["metadata"]["name"] != "brief" for c in await rayclusters(sandbox, namespace))

    assert await gone()
    assert len(reminders(double, card)) == 2  # one per expiry, never repeated


async def test_suspend_and_resume_by_command_and_by_button(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create napper")
    card = await wait_card(double, "napper")
    await wait_reply(double, card, "is ready")
    await slack.slash("suspend napper")
    note = await wait_reply(double, card, "suspended `napper`")
    await wait_reply(double, card, "is suspended")
    await slack.click(note, "krayne_resume")
    await wait_reply(double, card, "resumed `napper`")
    [rc] = [c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "napper"]
    assert rc["spec"]["suspend"] is False
    await slack.slash("suspend napper")
    await double.wait_for(
        lambda: sum("suspended `napper`" in all_text(r)
                    for r in double.thread(CHANNEL, card.ts)) == 2, WAIT,
    )  # fmt: skip
    await slack.slash("resume napper")
    await double.wait_for(
        lambda: sum("resumed `napper`" in all_text(r)
                    for r in double.thread(CHANNEL, card.ts)) == 2, WAIT,
    )  # fmt: skip


async def test_a_restart_keeps_the_expiry_and_never_repeats_a_reminder(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create steady --ttl 3s")
    card = await wait_card(double, "steady")
    await wait_reply(double, card, "expires in")
    await bot.stop()
    await bot.start()
    slack.url = f"{bot.url}/slack/events"
    await wait_reply(double, card, "reached its TTL and was suspended")
    assert len(reminders(double, card)) == 1
