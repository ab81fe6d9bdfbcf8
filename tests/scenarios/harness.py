"""A Slack user talking to the running bot over real HTTP, as Slack would.

Requests are signed with the bot's signing secret (``bot.shell.signing``), sent with aiohttp to the
bot's ``/slack/events`` (bound on port 0), and the HTTP ack is shown in the Slack double the
way Slack shows it. Everything the bot posts afterwards arrives in the double over the real
slack_sdk client, and the clusters live in the sandbox's API server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.shell import signing
from bot.slack_double.records import Message
from bot.slack_double.server import SlackDouble

SECRET = "krayne-signing-secret"
CHANNEL = "C0001"
WAIT = 60.0


def card_of(double: SlackDouble, name: str) -> Callable[[], Message | None]:
    def find() -> Message | None:
        for message in double.messages(CHANNEL):
            if message.text.startswith(f"Ray cluster {name}:"):
                return message
        return None

    return find


async def wait_card(double: SlackDouble, name: str) -> Message:
    return await double.wait_for(card_of(double, name), timeout=WAIT)


async def wait_created(double: SlackDouble, name: str) -> Message:
    """The card of ``name`` once the cluster exists (its first reply comes from the watch)."""
    card = await wait_card(double, name)
    await double.wait_for(lambda: double.thread(CHANNEL, card.ts), timeout=WAIT)
    return card


async def wait_reply(double: SlackDouble, card: Message, needle: str) -> Message:
    def find() -> Message | None:
        for reply in double.thread(CHANNEL, card.ts):
            if needle in all_text(reply):
                return reply
        return None

    return await double.wait_for(find, timeout=WAIT)


def current(double: SlackDouble, card: Message) -> Message:
    message = double.message(CHANNEL, card.ts)
    assert message is not None
    return message


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | str
    seconds: float

    @property
    def text(self) -> str:
        return self.body.get("text", "") if isinstance(self.body, dict) else self.body


@dataclass
class SlackClient:
    """Sends signed slash commands, button clicks and events to the bot."""

    double: SlackDouble
    url: str
    session: aiohttp.ClientSession
    secret: str = SECRET
    sent: list[bytes] = field(default_factory=list)

    async def post(
        self, body: bytes, *, content_type: str = signing.FORM, timestamp: int | None = None,
        secret: str | None = None, retry: int | None = None,
    ) -> Answer:  # fmt: skip
        headers = signing.signed_headers(
            secret or self.secret, body, timestamp, content_type=content_type
        )
        if retry is not None:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        started = time.perf_counter()
        async with self.session.post(self.url, data=body, headers=headers) as response:
            raw = await response.text()
            elapsed = time.perf_counter() - started
            try:
                parsed: dict[str, Any] | str = json.loads(raw) if raw else ""
            except ValueError:
                parsed = raw
            return Answer(response.status, parsed, elapsed)

    def command_body(self, text: str, *, user: str = "U0001", channel: str = "C0001") -> bytes:
        return signing.slash_command_body(
            text=text,
            user_id=user,
            user_name=self.double.user(user).name,
            channel_id=channel,
            channel_name=self.double.channel(channel).name,
            team_id=self.double.team_id,
            response_url=self.double.new_response_url(channel=channel, user=user),
            trigger_id=self.double.new_trigger_id(user),
        )

    async def slash(self, text: str, *, user: str = "U0001", channel: str = "C0001") -> Answer:
        """`/krayne <text>` typed by ``user`` in ``channel``; the ack is shown like Slack does."""
        answer = await self.post(self.command_body(text, user=user, channel=channel))
        if answer.status == 200 and isinstance(answer.body, dict) and answer.body:
            self.double.deliver_ack(channel=channel, user=user, payload=answer.body)
        return answer

    async def submit(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = "U0001"
    ) -> Answer:
        """Fill ``values`` (block id -> text, or chosen checkbox values) into the open modal
        ``view`` and press its submit button."""
        body = signing.view_submission_body(
            user_id=user, user_name=self.double.user(user).name, team_id=self.double.team_id,
            view=view, values=values,
        )  # fmt: skip
        return await self.post(body)

    async def click(
        self, message: Message, action_id: str, *, user: str = "U0001",
        is_ephemeral: bool = False,
    ) -> Answer:  # fmt: skip
        """Press the button ``action_id`` on ``message`` (an in-channel or ephemeral one, at
        the top of the channel or in a thread)."""
        body = self.click_body(message, action_id, user=user, is_ephemeral=is_ephemeral)
        return await self.post(body)

    def click_body(
        self, message: Message, action_id: str, *, user: str = "U0001",
        is_ephemeral: bool = False,
    ) -> bytes:  # fmt: skip
        """The block_actions request Slack sends for a click (its retries send it again)."""
        thread_ts = message.thread_ts if message.thread_ts != message.ts else None
        for block in message.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("action_id") == action_id:
                    body = signing.block_actions_body(
                        user_id=user,
                        user_name=self.double.user(user).name,
                        team_id=self.double.team_id,
                        channel_id=message.channel,
                        channel_name=self.double.channel(message.channel).name,
                        action=element,
                        block_id=block.get("block_id", "b"),
                        message_ts=message.ts,
                        message={"ts": message.ts, "text": message.text,
                                 "blocks": list(message.blocks),
                                 **({"thread_ts": thread_ts} if thread_ts else {})},
                        is_ephemeral=is_ephemeral,
                        thread_ts=thread_ts,
                        trigger_id=self.double.new_trigger_id(user),
                        response_url=self.double.new_response_url(
                            channel=message.channel, user=user, message_ts=message.ts,
                            is_ephemeral=is_ephemeral,
                        ),
                    )  # fmt: skip
                    return body
        raise AssertionError(f"no button {action_id} on message {message.ts}")

    async def click_view(
        self, view: dict[str, Any], action_id: str, *, user: str = "U0001"
    ) -> Answer:
        """Press ``action_id`` in a view: the App Home or a modal (no channel, no response_url;
        a fresh trigger_id as Slack mints one per click)."""
        for block in view.get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("action_id") == action_id:
                    body = signing.home_actions_body(
                        user_id=user,
                        user_name=self.double.user(user).name,
                        team_id=self.double.team_id,
                        action=element,
                        block_id=block.get("block_id", "b"),
                        view=view,
                        trigger_id=self.double.new_trigger_id(user),
                    )
                    return await self.post(body)
        raise AssertionError(f"no button {action_id} in view {view.get('id')}")

    async def event(self, event: dict[str, Any]) -> Answer:
        body = signing.event_body(
            event, team_id=self.double.team_id, bot_user_id=self.double.bot_user_id
        )
        return await self.post(body, content_type=signing.JSON)


def texts(messages: list[Any]) -> list[str]:
    return [m.text for m in messages]


def all_text(message: Any) -> str:
    """The message's text plus every text inside its blocks."""
    parts = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(list(message.blocks))
    return "\n".join(parts)


async def rayclusters(sandbox: Any, namespace: str | None = None) -> list[dict[str, Any]]:
    """The RayClusters the sandbox's API server holds (read on the sandbox's own thread)."""
    import asyncio

    items, _rv = await asyncio.to_thread(sandbox.store.list, "rayclusters", namespace)
    return list(items)
