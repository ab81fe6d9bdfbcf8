"""Value types of the Slack double: the workspace's members and what was said in it.

Everything here is frozen so that a test or the shell can hold a record while the double's server
thread keeps changing the workspace: an edit produces a new ``Message`` with one more entry in
``edits`` instead of mutating the old one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Posting = Literal["everyone", "read_only", "threads_only", "restricted"]
"""Who may post in a channel: everyone, nobody but admins (read-only, or a workspace policy
against apps: ``restricted``), or replies in threads only."""


class SlackError(Exception):
    """A Web API failure: ``{"ok": false, "error": code}``; HTTP 200 unless 429/5xx/404."""

    def __init__(
        self,
        code: str,
        *,
        messages: list[str] | None = None,
        status: int = 200,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []
        self.status = status
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.code}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


@dataclass(frozen=True)
class Channel:
    """A conversation. ``is_member``: whether the bot is in it (``not_in_channel`` otherwise;
    a DM between people or a private channel without the bot is ``channel_not_found``);
    ``members``: the users in it (``None`` means everyone in the workspace); ``posting``: who
    may post there (an admin's channel posting permissions)."""

    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_im: bool = False
    members: frozenset[str] | None = None
    posting: Posting = "everyone"

    def has_user(self, user_id: str) -> bool:
        return self.members is None or user_id in self.members

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "is_member": self.is_member,
            "is_archived": False,
        }


@dataclass(frozen=True)
class User:
    """A workspace member as users.info describes it."""

    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    tz: str = "UTC"

    def to_api(self, team_id: str) -> dict[str, Any]:
        real = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": real,
            "is_bot": self.is_bot,
            "deleted": False,
            "tz": self.tz,
            "profile": {"real_name": real, "display_name": self.name},
        }


@dataclass(frozen=True)
class Edit:
    """One version a message had before a ``chat.update`` replaced it."""

    text: str
    blocks: tuple[dict[str, Any], ...]
    edited_ts: str


@dataclass(frozen=True)
class Message:
    """A channel message or thread reply, as the channel currently shows it."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: tuple[dict[str, Any], ...] = ()
    thread_ts: str | None = None
    bot_id: str | None = None
    reply_count: int = 0
    edits: tuple[Edit, ...] = ()
    metadata: dict[str, Any] | None = None
    reactions: tuple[str, ...] = ()

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, team_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": team_id,
        }
        if self.bot_id:
            body["bot_id"] = self.bot_id
        if self.blocks:
            body["blocks"] = [dict(b) for b in self.blocks]
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.reply_count:
            body["reply_count"] = self.reply_count
        if self.edits:
            body["edited"] = {"user": self.user, "ts": self.edits[-1].edited_ts}
        if self.metadata:
            body["metadata"] = self.metadata
        if self.reactions:
            body["reactions"] = [{"name": n, "count": 1} for n in self.reactions]
        return body


@dataclass(frozen=True)
class EphemeralMessage:
    """A message only ``user`` sees. ``deleted`` once a response_url removed it."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: tuple[dict[str, Any], ...] = ()
    thread_ts: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class ResponseTarget:
    """What a ``response_url`` answers: a slash command (no message) or a clicked message."""

    channel: str
    user: str
    message_ts: str | None = None
    is_ephemeral: bool = False
    thread_ts: str | None = None
    uses_left: int = 5
    expires_at: float = 0.0
    last_ephemeral_ts: str | None = None


# --- events handed to ``SlackDouble.on_event`` listeners, in the order they happened ---

Via = Literal["api", "response_url", "ack"]
"""How a message came: a Web API call, a response_url POST, or a slash command's HTTP ack."""


@dataclass(frozen=True)
class PostedMessage:
    message: Message
    via: Via = "api"


@dataclass(frozen=True)
class UpdatedMessage:
    message: Message
    previous: Message
    via: Via = "api"


@dataclass(frozen=True)
class DeletedMessage:
    message: Message
    via: Via = "api"


@dataclass(frozen=True)
class Ephemeral:
    message: EphemeralMessage
    replaced: EphemeralMessage | None = None
    via: Via = "api"


@dataclass(frozen=True)
class EphemeralDeleted:
    message: EphemeralMessage


@dataclass(frozen=True)
class ResponseUrlPost:
    url: str
    target: ResponseTarget
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ViewPublished:
    user: str
    view: dict[str, Any]


@dataclass(frozen=True)
class ViewOpened:
    user: str
    view: dict[str, Any]


@dataclass(frozen=True)
class ReactionAdded:
    channel: str
    ts: str
    name: str


SlackEvent = (
    PostedMessage
    | UpdatedMessage
    | DeletedMessage
    | Ephemeral
    | EphemeralDeleted
    | ResponseUrlPost
    | ViewPublished
    | ViewOpened
    | ReactionAdded
)


class Call(NamedTuple):
    """One Web API request the double answered: ``(method, args, response)`` plus HTTP status."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int = 200
    late: float = 0.0  # seconds the answer was held back (``SlackDouble.answer_late``)
