"""Requests built by bot.shell.signing are accepted by slack_sdk's verifier and parsed by a
real Bolt app exactly like Slack's, so the shell and the tests exercise the production request
pipeline."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.shell.signing import (
    JSON,
    app_home_opened_event,
    block_actions_body,
    event_body,
    signed_headers,
    slash_command_body,
)
from bot.slack_double.server import SlackDouble

from .conftest import TOKEN

SECRET = "s3cr3t"


def command(double: SlackDouble, text: str) -> bytes:
    return slash_command_body(
        text=text,
        user_id="U0001",
        user_name="alice",
        channel_id="C0001",
        channel_name="general",
        team_id="T0001",
        response_url=double.new_response_url(channel="C0001", user="U0001"),
        trigger_id=double.new_trigger_id("U0001"),
    )


def bolt_request(body: bytes, headers: dict[str, str]) -> AsyncBoltRequest:
    """What Bolt's HTTP adapters build from a request Slack sent."""
    return AsyncBoltRequest(body=body.decode(), headers={k: [v] for k, v in headers.items()})


def test_signature_verifies_and_a_tampered_body_does_not() -> None:
    body = b"text=hello"
    headers = signed_headers(SECRET, body, timestamp=1_700_000_000)
    verifier = SignatureVerifier(SECRET, clock=_FixedClock(1_700_000_010))
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not verifier.is_valid(
        b"text=hellO", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_slash_command_body_has_slacks_fields_in_order(double: SlackDouble) -> None:
    fields = parse_qsl(command(double, "create demo --gpus 1").decode())
    assert [k for k, _ in fields] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert dict(fields)["command"] == "/krayne"
    assert b"command=%2Fkrayne" in command(double, "x")


def test_block_actions_on_an_ephemeral_omit_the_message() -> None:
    body = block_actions_body(
        user_id="U0001",
        user_name="alice",
        team_id="T0001",
        channel_id="C0001",
        channel_name="general",
        action={
            "action_id": "confirm_delete",
            "value": "default/big",
            "text": {"type": "plain_text", "text": "Delete"},
        },
        block_id="b1",
        message_ts="1.000001",
        message={"text": "x"},
        is_ephemeral=True,
        response_url="http://x/response/y",
    )
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.000001",
        "channel_id": "C0001",
        "is_ephemeral": True,
    }
    assert "message" not in payload
    assert payload["actions"][0]["value"] == "default/big"


async def test_a_bolt_app_handles_signed_commands_clicks_and_events(double: SlackDouble) -> None:
    app = AsyncApp(
        signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=double.base_url)
    )
    seen: dict[str, Any] = {}

    @app.command("/krayne")
    async def on_command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        seen["text"] = command["text"]
        await respond(
            text="Delete big?",
            blocks=[
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "confirm_delete",
                            "value": "default/big",
                            "text": {"type": "plain_text", "text": "Delete"},
                        }
                    ],
                }
            ],
        )

    @app.action("confirm_delete")
    async def on_click(ack: AsyncAck, respond: AsyncRespond, action: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"deleting {action['value']}", replace_original=True)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "home"}}],
            },
        )

    body = command(double, "delete big")
    reply = await app.async_dispatch(bolt_request(body, signed_headers(SECRET, body)))
    assert reply.status == 200
    assert seen["text"] == "delete big"
    (prompt,) = await double.wait_for(lambda: double.ephemerals("U0001"))
    button = prompt.blocks[0]["elements"][0]

    click = block_actions_body(
        user_id="U0001",
        user_name="alice",
        team_id="T0001",
        channel_id="C0001",
        channel_name="general",
        action=button,
        block_id=prompt.blocks[0]["block_id"],
        message_ts=prompt.ts,
        is_ephemeral=True,
        response_url=double.new_response_url(
            channel="C0001", user="U0001", message_ts=prompt.ts, is_ephemeral=True
        ),
    )
    reply = await app.async_dispatch(bolt_request(click, signed_headers(SECRET, click)))
    assert reply.status == 200
    await double.wait_for(
        lambda: [e for e in double.ephemerals("U0001") if e.text == "deleting default/big"]
    )

    event = event_body(app_home_opened_event("U0001"), team_id="T0001", bot_user_id="UBOT")
    reply = await app.async_dispatch(
        bolt_request(event, signed_headers(SECRET, event, content_type=JSON))
    )
    assert reply.status == 200
    await double.wait_for(lambda: double.published_views("U0001"))

    forged = signed_headers("wrong-secret", body)
    reply = await app.async_dispatch(bolt_request(body, forged))
    assert reply.status == 401


class _FixedClock(Clock):
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)
