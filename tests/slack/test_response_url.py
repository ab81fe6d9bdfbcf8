"""response_url semantics: ephemeral by default, in_channel, replace_original, delete_original."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack_double.records import (
    Ephemeral,
    EphemeralDeleted,
    ResponseUrlPost,
    SlackError,
    SlackEvent,
)
from bot.slack_double.server import SlackDouble

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Delete *big*?"}},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Delete"},
                "action_id": "yes",
            },
        ],
    },
]


async def send(url: str, **payload: Any) -> tuple[int, str]:
    response = await AsyncWebhookClient(url).send_dict(payload)
    return response.status_code, response.body


async def test_slash_command_reply_is_ephemeral_by_default(double: SlackDouble) -> None:
    url = double.new_response_url(channel="general", user="U0001")
    assert await send(url, text="working on it") == (200, "ok")
    assert [e.text for e in double.ephemerals("U0001")] == ["working on it"]
    assert double.messages("C0001") == []


async def test_in_channel_response_posts_a_channel_message(double: SlackDouble) -> None:
    url = double.new_response_url(channel="C0001", user="U0001")
    await send(url, text="for everyone", response_type="in_channel")
    assert [m.text for m in double.messages("C0001")] == ["for everyone"]


async def test_replace_original_on_a_clicked_channel_message_updates_it(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="card", blocks=BUTTONS)
    url = double.new_response_url(channel="C0001", user="U0001", message_ts=posted["ts"])
    await send(url, text="deleted", replace_original=True)
    message = double.message("C0001", posted["ts"])
    assert message is not None and message.text == "deleted" and message.edits
    assert message.blocks == ()  # Slack replaces the whole message: its buttons are gone


async def test_a_response_goes_into_a_thread_only_when_it_says_so(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    """https://docs.slack.dev/interactivity/handling-user-interaction: ``thread_ts`` puts a
    response in a thread; a click on a reply does not do it by itself."""
    parent = await client.chat_postMessage(channel="C0001", text="card")
    reply = await client.chat_postMessage(channel="C0001", text="r", thread_ts=parent["ts"])
    url = double.new_response_url(
        channel="C0001", user="U0001", message_ts=reply["ts"], thread_ts=parent["ts"]
    )
    await send(url, text="unthreaded")
    await send(url, text="threaded", thread_ts=parent["ts"])
    shown = {e.text: e.thread_ts for e in double.ephemerals("U0001")}
    assert shown == {"unthreaded": None, "threaded": parent["ts"]}


async def test_confirmation_on_an_ephemeral_is_replaced_then_deleted(double: SlackDouble) -> None:
    seen: list[SlackEvent] = []
    double.on_event(seen.append)
    command_url = double.new_response_url(channel="C0001", user="U0001")
    await send(command_url, text="Delete big?", blocks=BUTTONS)
    (prompt,) = double.ephemerals("U0001")

    click_url = double.new_response_url(
        channel="C0001", user="U0001", message_ts=prompt.ts, is_ephemeral=True
    )
    await send(click_url, text="Deleting big…", replace_original=True)
    (replaced,) = double.ephemerals("U0001")
    assert (replaced.ts, replaced.text) == (prompt.ts, "Deleting big…")

    await send(click_url, delete_original=True)
    assert double.ephemerals("U0001") == []
    assert [type(e) for e in seen] == [
        ResponseUrlPost,
        Ephemeral,
        ResponseUrlPost,
        Ephemeral,
        ResponseUrlPost,
        EphemeralDeleted,
    ]
    posts = [e for e in seen if isinstance(e, ResponseUrlPost)]
    assert posts[1].url == click_url and posts[1].payload["replace_original"] is True


@pytest.mark.parametrize(
    ("payload", "status", "body"),
    [
        ({"response_type": "ephemeral"}, 400, "no_text"),
        (
            {
                "text": "x",
                "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            },
            400,
            "invalid_blocks",
        ),
    ],
)
async def test_bad_response_payloads_are_refused(
    double: SlackDouble, payload: dict[str, Any], status: int, body: str
) -> None:
    url = double.new_response_url(channel="C0001", user="U0001")
    assert await send(url, **payload) == (status, body)
    assert double.ephemerals("U0001") == []


async def test_a_response_url_works_five_times_then_is_used_up(double: SlackDouble) -> None:
    url = double.new_response_url(channel="C0001", user="U0001")
    for i in range(5):
        assert await send(url, text=str(i)) == (200, "ok")
    assert await send(url, text="6th") == (404, "used_url")
    assert await send(url.rsplit("/", 1)[0] + "/unknown", text="x") == (404, "expired_url")


async def test_ack_body_is_shown_like_a_response(double: SlackDouble) -> None:
    double.deliver_ack(channel="C0001", user="U0002", payload={"text": "usage: /krayne ..."})
    assert [e.text for e in double.ephemerals("U0002")] == ["usage: /krayne ..."]


async def test_an_ack_slack_would_refuse_raises_and_shows_nothing(double: SlackDouble) -> None:
    too_long = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    with pytest.raises(SlackError) as caught:
        double.deliver_ack(
            channel="C0001", user="U0002", payload={"text": "x", "blocks": [too_long]}
        )
    assert caught.value.code == "invalid_blocks"
    assert double.ephemerals("U0002") == []
