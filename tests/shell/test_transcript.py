"""The shell's transcript of what the Slack double receives, driven by the real slack_sdk client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.shell.transcript import Transcript
from bot.slack_double.records import Channel, User
from bot.slack_double.server import SlackDouble

TOKEN = "xoxb-shell-test"


def card(phase: str) -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Ray cluster demo"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{phase}*"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "describe",
                    "value": "default/demo",
                    "text": {"type": "plain_text", "text": "Describe"},
                },
                {
                    "type": "button",
                    "action_id": "delete",
                    "value": "default/demo",
                    "text": {"type": "plain_text", "text": "Delete"},
                },
            ],
        },
    ]


@pytest.fixture
async def setup() -> AsyncIterator[tuple[SlackDouble, AsyncWebClient, Transcript, list[str]]]:
    lines: list[str] = []
    async with SlackDouble(
        bot_token=TOKEN, channels=[Channel("C0001", "general")], users=[User("U0001", "alice")]
    ) as double:
        transcript = Transcript(double, user_id="U0001", write=lines.append)
        double.on_event(transcript.handle)
        yield double, AsyncWebClient(token=TOKEN, base_url=double.base_url), transcript, lines


async def test_card_thread_reply_and_update_read_in_order(setup: Any) -> None:
    double, client, transcript, lines = setup
    posted = await client.chat_postMessage(channel="C0001", text="card", blocks=card("creating"))
    await client.chat_postMessage(
        channel="C0001", thread_ts=posted["ts"], text="<@U0001> `demo` is ready"
    )
    await client.chat_update(channel="C0001", ts=posted["ts"], text="card", blocks=card("ready"))

    assert lines == [
        "#general · krayne",
        "    ▌ Ray cluster demo",
        "    creating",
        "    [1.1] Describe  [1.2] Delete",
        "    ↳ in the thread of “Ray cluster demo” · krayne",
        "        · @alice `demo` is ready",
        "✎ card updated: Ray cluster demo — ready",
    ]
    target, button = transcript.find("1.2")
    assert (target.message_ts, target.is_ephemeral, button.label) == (posted["ts"], False, "Delete")


async def test_private_answers_are_marked_and_their_buttons_are_bare_numbers(setup: Any) -> None:
    double, client, transcript, lines = setup
    await client.chat_postEphemeral(
        channel="C0001",
        user="U0001",
        text="Delete demo?",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "Delete *demo*?"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "yes",
                        "text": {"type": "plain_text", "text": "Delete"},
                    },
                    {
                        "type": "button",
                        "action_id": "no",
                        "text": {"type": "plain_text", "text": "Cancel"},
                    },
                ],
            },
        ],
    )
    assert lines == ["(only visible to you) krayne: Delete demo?", "    [1] Delete  [2] Cancel"]
    (prompt,) = double.ephemerals("U0001")
    target, button = transcript.find("1")
    assert (target.message_ts, target.is_ephemeral, button.label) == (prompt.ts, True, "Delete")
    assert transcript.find("3") == "no button 3: choose 1 to 2"

    url = double.new_response_url(
        channel="C0001", user="U0001", message_ts=prompt.ts, is_ephemeral=True
    )
    await AsyncWebhookClient(url).send_dict({"text": "Deleting demo…", "replace_original": True})
    assert lines[-1] == "(only visible to you, replaces the message above) krayne: Deleting demo…"
    assert transcript.find("1") == "no buttons on the last answer to you"


async def test_new_action_forgets_the_previous_answers_buttons(setup: Any) -> None:
    _double, client, transcript, _lines = setup
    await client.chat_postEphemeral(
        channel="C0001",
        user="U0001",
        text="x",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": {"type": "plain_text", "text": "A"},
                    }
                ],
            }
        ],
    )
    assert not isinstance(transcript.find("1"), str)
    transcript.new_action()
    assert transcript.find("1") == "no buttons on the last answer to you"


async def test_held_events_print_the_ack_first(setup: Any) -> None:
    double, client, transcript, lines = setup
    transcript.hold()
    await client.chat_postMessage(channel="C0001", text="posted while dispatching")
    double.deliver_ack(channel="C0001", user="U0001", payload={"text": "Working on it…"})
    assert lines == []
    transcript.release()
    assert lines == [
        "(only visible to you) krayne: Working on it…",
        "#general · krayne",
        "    posted while dispatching",
    ]


async def test_app_home_is_shown_as_text(setup: Any) -> None:
    _double, client, _transcript, lines = setup
    await client.views_publish(
        user_id="U0001",
        view={
            "type": "home",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Ray clusters"}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "*demo* :large_green_circle: ready"},
                },
                card("ready")[2],
            ],
        },
    )
    assert lines == [
        "(your App Home tab of krayne now shows:)",
        "    ▌ Ray clusters",
        "    demo 🟢 ready",
        "    (buttons there: Delete, Describe; use /krayne in the shell)",
    ]
