"""The Slack double's workspace: channels, users, messages, threads, ephemerals, views.

Each Web API method is a function of ``(workspace, args) -> response`` that raises ``SlackError``
with Slack's error code. The HTTP layer (``bot/slack_double/server.py``) parses requests, checks
tokens and rate limits, and serialises calls under a lock; this module only knows Slack's semantics.
Events describing what changed are queued in ``pending`` for the double to hand to listeners.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bot.slack_double.limits import (
    BLOCKS_TEXT_LIMIT,
    MESSAGE_TEXT_LIMIT,
    validate_blocks,
)
from bot.slack_double.records import (
    Channel,
    DeletedMessage,
    Edit,
    Ephemeral,
    EphemeralDeleted,
    EphemeralMessage,
    Message,
    PostedMessage,
    ReactionAdded,
    ResponseTarget,
    ResponseUrlPost,
    SlackError,
    SlackEvent,
    UpdatedMessage,
    User,
    Via,
)

RESPONSE_URL_TTL = 30 * 60.0
"""A response_url works up to five times within 30 minutes:
https://docs.slack.dev/interactivity/handling-user-interaction"""


def decode_json(value: Any, error: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(error) from exc
    return value


def required_arg(args: dict[str, Any], key: str) -> Any:
    value = args.get(key)
    if value in (None, ""):
        raise SlackError("invalid_arguments", messages=[f"[ERROR] missing required field: {key}"])
    return value


class Workspace:
    """All state of one fake Slack workspace with one installed bot."""

    def __init__(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        bot_id: str,
        channels: Iterable[Channel],
        users: Iterable[User],
        trigger_ttl: float,
        messages_tab_enabled: bool = False,
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.trigger_ttl = trigger_ttl
        self.messages_tab_enabled = messages_tab_enabled
        self.channels: dict[str, Channel] = {c.id: c for c in channels}
        self.users: dict[str, User] = {u.id: u for u in users}
        self.users.setdefault(bot_user_id, User(bot_user_id, "krayne", "Krayne", is_bot=True))
        self.messages: dict[str, dict[str, Message]] = {cid: {} for cid in self.channels}
        self.ephemerals: list[EphemeralMessage] = []
        self.views: dict[str, list[dict[str, Any]]] = {}
        self.modals: dict[str, tuple[str, dict[str, Any]]] = {}
        """Open modals: view id -> (user, the view as last opened or updated)."""
        self.response_targets: dict[str, ResponseTarget] = {}
        self.triggers: dict[str, tuple[float, str]] = {}
        self.pending: list[SlackEvent] = []
        self._last_us = 0
        self._block_ids = 0

    def take_events(self, *, keep: bool) -> list[SlackEvent]:
        """What the last call changed (``keep=False``: it failed, so it changed nothing)."""
        events, self.pending = self.pending, []
        return events if keep else []

    # --- identity ---------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A Slack ``ts``: wall-clock microseconds, strictly increasing."""
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def new_trigger_id(self, user_id: str) -> str:
        """A trigger_id for an interaction by ``user_id``; views.open accepts it once, briefly."""
        trigger = f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        self.triggers[trigger] = (time.monotonic() + self.trigger_ttl, user_id)
        return trigger

    def new_response_target(self, target: ResponseTarget) -> str:
        token = secrets.token_urlsafe(12)
        self.response_targets[token] = replace(
            target, expires_at=time.monotonic() + RESPONSE_URL_TTL
        )
        return token

    def channel(self, ref: Any) -> Channel:
        """Resolve an ID, a ``#name``/``name`` or a user ID (a DM, opened on first use)."""
        if not isinstance(ref, str) or not ref:
            raise SlackError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        if ref in self.users:
            dm = Channel(f"D{ref}", ref, is_im=True, members=frozenset({ref, self.bot_user_id}))
            self.channels[dm.id] = dm
            self.messages[dm.id] = {}
            return dm
        raise SlackError("channel_not_found")

    def user(self, ref: Any) -> User:
        if not isinstance(ref, str) or ref not in self.users:
            raise SlackError("user_not_found")
        return self.users[ref]

    def member_channel(self, ref: Any) -> Channel:
        channel = self.channel(ref)
        if not channel.is_member:
            # A DM between people, or a private channel the bot is not in, does not exist as
            # far as the bot can tell: https://docs.slack.dev/reference/methods/chat.postMessage
            # ("channel_not_found: Value passed for channel was invalid").
            if channel.is_im or channel.is_private:
                raise SlackError("channel_not_found")
            raise SlackError("not_in_channel")
        return channel

    def postable_channel(self, ref: Any, args: dict[str, Any]) -> Channel:
        """The channel of a chat.postMessage, refused the way Slack refuses it.

        https://docs.slack.dev/reference/methods/chat.postMessage lists the errors:
        ``messages_tab_disabled`` (a DM to a user while the app's Messages tab is off, see
        https://docs.slack.dev/surfaces/app-home), ``restricted_action_read_only_channel``,
        ``restricted_action_thread_only_channel`` (only replies in threads may be posted) and
        ``restricted_action`` (a workspace preference prevents posting)."""
        channel = self.member_channel(ref)
        if channel.is_im and not self.messages_tab_enabled:
            raise SlackError("messages_tab_disabled")
        if channel.posting == "read_only":
            raise SlackError("restricted_action_read_only_channel")
        if channel.posting == "threads_only" and not args.get("thread_ts"):
            raise SlackError("restricted_action_thread_only_channel")
        if channel.posting == "restricted":
            raise SlackError("restricted_action")
        return channel

    def find(self, channel_id: str, ts: Any) -> Message:
        message = self.messages.get(channel_id, {}).get(ts) if isinstance(ts, str) else None
        if message is None:
            raise SlackError("message_not_found")
        return message

    # --- content checks ---------------------------------------------------------------------

    def content(
        self, args: dict[str, Any], *, retain: Message | None = None
    ) -> tuple[str, tuple[dict[str, Any], ...]]:
        """Validated (text, blocks) of a post or edit; ``retain`` keeps what an edit omits."""
        text = args.get("text")
        blocks = decode_json(args.get("blocks"), "invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if retain is None and not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        if retain is not None and text is None and blocks is None:
            raise SlackError("no_text")
        if text is not None and not isinstance(text, str):
            raise SlackError("invalid_arguments", messages=["[ERROR] text must be a string"])
        if text and len(text) > MESSAGE_TEXT_LIMIT:
            raise SlackError("msg_too_long")
        if blocks:
            problems, chars = validate_blocks(blocks)
            if problems:
                raise SlackError("invalid_blocks", messages=problems)
            if chars > BLOCKS_TEXT_LIMIT:
                raise SlackError("msg_blocks_too_long")
        final_text = text if text is not None else (retain.text if retain else "")
        if blocks is None:
            return final_text, retain.blocks if retain else ()
        return final_text, tuple(self.with_block_ids(blocks))

    def with_block_ids(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for block in blocks:
            if "block_id" not in block:
                self._block_ids += 1
                block = {**block, "block_id": f"b{self._block_ids:05d}"}
            out.append(block)
        return out

    # --- messages ---------------------------------------------------------------------------

    def post(self, channel: Channel, args: dict[str, Any], *, via: Via = "api") -> Message:
        text, blocks = self.content(args)
        metadata = decode_json(args.get("metadata"), "invalid_metadata_format")
        thread_ts = args.get("thread_ts") or None
        store = self.messages[channel.id]
        if thread_ts is not None:
            parent = store.get(thread_ts)
            if parent is not None and parent.is_reply:
                thread_ts = parent.thread_ts
                parent = store.get(thread_ts)  # type: ignore[arg-type]
            if parent is not None:
                store[parent.ts] = replace(
                    parent, thread_ts=parent.ts, reply_count=parent.reply_count + 1
                )
        message = Message(
            channel=channel.id,
            ts=self.next_ts(),
            user=self.bot_user_id,
            bot_id=self.bot_id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            metadata=metadata,
        )
        store[message.ts] = message
        self.pending.append(PostedMessage(message, via))
        return message

    def update(
        self, channel: Channel, ts: Any, args: dict[str, Any], *, via: Via = "api",
        whole: bool = False,
    ) -> Message:  # fmt: skip
        """chat.update keeps what the edit omits; ``whole`` (a response_url's
        ``replace_original``) replaces the whole message, blocks included."""
        previous = self.find(channel.id, ts)
        if previous.user != self.bot_user_id:
            raise SlackError("cant_update_message")
        if whole:
            text, blocks = self.content(args)
        else:
            text, blocks = self.content(args, retain=previous)
        edit = Edit(previous.text, previous.blocks, self.next_ts())
        message = replace(previous, text=text, blocks=blocks, edits=(*previous.edits, edit))
        self.messages[channel.id][message.ts] = message
        self.pending.append(UpdatedMessage(message, previous, via))
        return message

    def delete(self, channel: Channel, ts: Any, *, via: Via = "api") -> Message:
        message = self.find(channel.id, ts)
        if message.user != self.bot_user_id:
            raise SlackError("cant_delete_message")
        store = self.messages[channel.id]
        del store[message.ts]
        if message.is_reply and message.thread_ts in store:
            parent = store[message.thread_ts]
            store[parent.ts] = replace(parent, reply_count=max(0, parent.reply_count - 1))
        self.pending.append(DeletedMessage(message, via))
        return message

    def ephemeral(
        self,
        channel: Channel,
        user_id: str,
        args: dict[str, Any],
        *,
        replaces: EphemeralMessage | None = None,
        via: Via = "api",
    ) -> EphemeralMessage:
        text, blocks = self.content(args)
        message = EphemeralMessage(
            channel=channel.id,
            user=user_id,
            ts=replaces.ts if replaces else self.next_ts(),
            text=text,
            blocks=blocks,
            thread_ts=args.get("thread_ts") or None,
        )
        if replaces is not None:
            self.ephemerals = [e for e in self.ephemerals if e is not replaces]
        self.ephemerals.append(message)
        self.pending.append(Ephemeral(message, replaces, via))
        return message

    def find_ephemeral(self, user: str, ts: str | None) -> EphemeralMessage | None:
        for message in reversed(self.ephemerals):
            if message.user == user and message.ts == ts and not message.deleted:
                return message
        return None

    def delete_ephemeral(self, message: EphemeralMessage) -> None:
        gone = replace(message, deleted=True)
        self.ephemerals = [gone if e is message else e for e in self.ephemerals]
        self.pending.append(EphemeralDeleted(gone))

    def react(self, channel: Channel, ts: Any, name: Any) -> None:
        message = self.find(channel.id, ts)
        if not isinstance(name, str) or not name or ":" in name or " " in name:
            raise SlackError("invalid_name")
        if name in message.reactions:
            raise SlackError("already_reacted")
        self.messages[channel.id][message.ts] = replace(
            message, reactions=(*message.reactions, name)
        )
        self.pending.append(ReactionAdded(channel.id, message.ts, name))

    # --- response_url -----------------------------------------------------------------------

    def respond(self, token: str, payload: dict[str, Any], *, url: str) -> None:
        """Apply a POST to a response_url (errors: HTTP 404 for a bad URL, 400 for bad content)."""
        target = self.response_targets.get(token)
        if target is None or time.monotonic() > target.expires_at:
            raise SlackError("expired_url", status=404)
        if target.uses_left <= 0:
            raise SlackError("used_url", status=404)
        self.pending.append(ResponseUrlPost(url, target, dict(payload)))
        try:
            target = self.apply_response(target, payload, via="response_url")
        except SlackError as exc:
            exc.status = 400 if exc.status == 200 else exc.status
            raise
        self.response_targets[token] = replace(target, uses_left=target.uses_left - 1)

    def apply_response(
        self, target: ResponseTarget, payload: dict[str, Any], *, via: Via
    ) -> ResponseTarget:
        """What Slack does with a slash-command ack body or a response_url payload."""
        channel = self.channel(target.channel)
        if payload.get("delete_original"):
            self._delete_original(channel, target, via)
            return target
        if payload.get("replace_original") and target.message_ts and not target.is_ephemeral:
            # "replace_original: true" replaces the whole message, blocks included:
            # https://docs.slack.dev/interactivity/handling-user-interaction
            self.update(channel, target.message_ts, payload, via=via, whole=True)
            return target
        # A response lands in a thread only when it says so with thread_ts; Slack does not put
        # it there by itself: https://docs.slack.dev/interactivity/handling-user-interaction
        if payload.get("response_type") == "in_channel":
            self.post(channel, payload, via=via)
            return target
        previous = None
        if payload.get("replace_original"):
            ts = target.message_ts if target.is_ephemeral else target.last_ephemeral_ts
            previous = self.find_ephemeral(target.user, ts)
        message = self.ephemeral(channel, target.user, payload, replaces=previous, via=via)
        return replace(target, last_ephemeral_ts=message.ts)

    def _delete_original(self, channel: Channel, target: ResponseTarget, via: Via) -> None:
        if target.message_ts is None:
            original = self.find_ephemeral(target.user, target.last_ephemeral_ts)
        elif target.is_ephemeral:
            original = self.find_ephemeral(target.user, target.message_ts)
        else:
            self.delete(channel, target.message_ts, via=via)
            return
        if original is None:
            raise SlackError("message_not_found")
        self.delete_ephemeral(original)
