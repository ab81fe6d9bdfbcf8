"""Was it posted? The outbox's look before it sends a message again (``bot.outbox.Recheck``).

chat.postMessage is not idempotent (https://docs.slack.dev/reference/methods/chat.postMessage):
when its answer is lost (no answer within the timeout, a 5xx, a dropped connection) Slack may
have posted the message all the same, and sending it again would post it twice. So every
message the outbox posts carries message metadata it can be found by
(https://docs.slack.dev/messaging/message-metadata): the notifier's status replies their
transition (``krayne_transition``: cluster uid, phase, seq), every other one a random id given
here (``krayne_message``). After an ambiguous failure its thread (conversations.replies) or,
for a top-level message such as a card, the channel's latest messages (conversations.history)
are read back with ``include_all_metadata``
(https://docs.slack.dev/reference/methods/conversations.replies), and a message carrying the
same metadata is taken as Slack's answer. Reading needs ``channels:history``; where it is
refused (a private channel, say) the message is sent again, as before.

chat.update and the other methods the outbox sends set a state: doing one twice is harmless,
so they are sent again without a look.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import web_call
from bot.outbox import Result

log = logging.getLogger(__name__)

POSTED = "krayne_message"
"""The metadata event type of a message known only by the id the outbox gave it."""
THREAD_DEPTH = 200
"""Replies read back from a thread; krayne's threads are much shorter."""
CHANNEL_DEPTH = 100
"""Latest top-level messages read back from a channel: the lost one is among the newest."""


class ReadBack:
    """``bot.outbox.Recheck`` over the Web API (``client`` should retry nothing blindly)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    def identify(self, method: str, args: dict[str, Any]) -> None:
        if method == "chat.postMessage" and not args.get("metadata"):
            args["metadata"] = {"event_type": POSTED,
                                "event_payload": {"id": secrets.token_hex(8)}}  # fmt: skip

    async def find(self, method: str, args: dict[str, Any]) -> Result | None:
        wanted = args.get("metadata")
        if method != "chat.postMessage" or not isinstance(wanted, dict):
            return None
        channel, thread_ts = str(args.get("channel")), args.get("thread_ts")
        try:
            if thread_ts:
                read = "conversations.replies"
                answer = await web_call(read, self._client.conversations_replies(
                    channel=channel, ts=str(thread_ts), include_all_metadata=True,
                    limit=THREAD_DEPTH,
                ))  # fmt: skip
            else:
                read = "conversations.history"
                answer = await web_call(read, self._client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=CHANNEL_DEPTH,
                ))  # fmt: skip
        except SlackApiError as err:  # refused (no scope, not a member): cannot tell
            log.info("readback: %s of %s refused (%s); sending again", read, channel,
                     err.response.get("error"))  # fmt: skip
            return None
        for message in answer.get("messages") or []:
            if same_metadata(message.get("metadata"), wanted):
                log.info("readback: %s in %s was posted after all (ts %s)", wanted["event_type"],
                         channel, message.get("ts"))  # fmt: skip
                return {"ok": True, "channel": channel, "ts": message.get("ts"),
                        "message": message}  # fmt: skip
        return None


def same_metadata(found: Any, wanted: dict[str, Any]) -> bool:
    """Pure: ``found`` (a message's metadata as read back) is the one ``wanted`` was posted with."""
    return (
        isinstance(found, dict)
        and found.get("event_type") == wanted.get("event_type")
        and found.get("event_payload") == wanted.get("event_payload")
    )
