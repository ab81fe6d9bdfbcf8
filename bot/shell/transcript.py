"""What the shell prints: every change the Slack double sees, as the shell's user would see it.

Channel messages are printed under ``#channel``; thread replies are indented and name their
parent; card edits print one ``✎ card updated`` line; ephemerals for the user are marked
``(only visible to you)``. Buttons get numbers: those of the latest private answer to the user's
last action are ``[1] [2] ...`` (type ``1``), those on channel messages carry the message's tag,
``[3.1] [3.2] ...`` (type ``3.1``), so numbers stay valid while new messages arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.shell.render import Button, Rendered, button_bar, render_message
from bot.slack_double.records import (
    DeletedMessage,
    Ephemeral,
    EphemeralDeleted,
    EphemeralMessage,
    Message,
    PostedMessage,
    SlackEvent,
    UpdatedMessage,
    ViewOpened,
    ViewPublished,
)
from bot.slack_double.server import SlackDouble

INDENT = "    "


@dataclass
class ButtonTarget:
    """A message whose buttons can be clicked: where it is and what a click must carry."""

    channel: str
    message_ts: str
    is_ephemeral: bool
    thread_ts: str | None
    buttons: list[Button] = field(default_factory=list)


class Transcript:
    """Subscribes to a ``SlackDouble`` and writes a readable transcript through ``write``."""

    def __init__(self, double: SlackDouble, *, user_id: str, write: Callable[[str], None]) -> None:
        self._double = double
        self._user = user_id
        self._write = write
        self._tags: dict[tuple[str, str], int] = {}
        self._targets: dict[int, ButtonTarget] = {}
        self._reply: ButtonTarget | None = None
        self._held: list[SlackEvent] | None = None
        self._last_thread: tuple[str, str] | None = None

    # --- names ------------------------------------------------------------------------------

    def user_name(self, user_id: str) -> str:
        try:
            return self._double.user(user_id).name
        except Exception:  # an id the workspace does not know is shown as is
            return user_id

    def _channel_name(self, channel_id: str) -> str:
        try:
            channel = self._double.channel(channel_id)
        except Exception:
            return channel_id
        return f"@{channel.name}" if channel.is_im else f"#{channel.name}"

    def _render(self, text: str, blocks: Any) -> Rendered:
        return render_message(text, blocks, self.user_name)

    def _bot(self) -> str:
        return self.user_name(self._double.bot_user_id)

    # --- buttons ----------------------------------------------------------------------------

    def new_action(self) -> None:
        """The user acted: bare numbers now wait for the answer to this action."""
        self._reply = None

    @property
    def reply_target(self) -> ButtonTarget | None:
        return self._reply

    def find(self, spec: str) -> tuple[ButtonTarget, Button] | str:
        """The button ``spec`` (``2`` or ``3.1``) names, or why there is none."""
        tag, dot, index = spec.partition(".")
        try:
            number = int(index if dot else tag)
            target = self._targets.get(int(tag)) if dot else self._reply
        except ValueError:
            return f"not a button number: {spec}"
        if target is None or not target.buttons:
            where = f"message {tag}" if dot else "the last answer to you"
            return f"no buttons on {where}"
        if not 1 <= number <= len(target.buttons):
            return f"no button {spec}: choose 1 to {len(target.buttons)}"
        return target, target.buttons[number - 1]

    def _tag(self, message: Message, rendered: Rendered) -> str:
        key = (message.channel, message.ts)
        if not rendered.buttons and key not in self._tags:
            return ""
        tag = self._tags.setdefault(key, len(self._tags) + 1)
        self._targets[tag] = ButtonTarget(
            message.channel, message.ts, False, message.thread_ts, list(rendered.buttons)
        )
        return f"{tag}."

    # --- events -----------------------------------------------------------------------------

    def hold(self) -> None:
        """Buffer events while a request is dispatched (see ``release``)."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Print what was buffered, the HTTP ack first: Slack shows it before anything the
        command posts later, though the double may have received those first."""
        held, self._held = self._held or [], None
        acks = [e for e in held if getattr(e, "via", None) == "ack"]
        for event in acks + [e for e in held if getattr(e, "via", None) != "ack"]:
            self.handle(event)

    def handle(self, event: SlackEvent) -> None:
        """The double's listener: one event in, some lines out."""
        if self._held is not None:
            self._held.append(event)
            return
        thread = self._last_thread
        self._last_thread = None
        if isinstance(event, PostedMessage):
            self._posted(event.message, continues=thread)
        elif isinstance(event, UpdatedMessage):
            self._updated(event.message, event.previous)
        elif isinstance(event, DeletedMessage):
            headline = self._render(event.message.text, event.message.blocks).headline
            self._write(f"✗ message deleted: {headline}")
        elif isinstance(event, Ephemeral):
            self._ephemeral(event.message, replaced=event.replaced is not None)
        elif isinstance(event, EphemeralDeleted):
            if event.message.user == self._user:
                self._write("(only visible to you) the message above was dismissed")
                if self._reply and self._reply.message_ts == event.message.ts:
                    self._reply = None
        elif isinstance(event, ViewPublished) and event.user == self._user:
            self._home(event.view)
        elif isinstance(event, ViewOpened) and event.user == self._user:
            if any(b.get("type") == "input" for b in event.view.get("blocks", [])):
                return  # a form: the session asks its fields one by one (shell/forms.py)
            title = (event.view.get("title") or {}).get("text", "")
            self._write(f"(a dialog opened: {title})")

    def _posted(self, message: Message, *, continues: tuple[str, str] | None) -> None:
        rendered = self._render(message.text, message.blocks)
        prefix = self._tag(message, rendered)
        if message.is_reply and message.thread_ts:
            key = (message.channel, message.thread_ts)
            head = None  # replies in a row share one header
            if continues != key:
                parent = self._double.message(message.channel, message.thread_ts)
                name = self._render(parent.text, parent.blocks).headline if parent else "?"
                name = name.removeprefix("▌ ")
                head = f"{INDENT}↳ in the thread of “{name}” · {self._bot()}"
            if rendered.lines:  # each reply starts with a bullet
                rendered.lines = [f"· {rendered.lines[0]}"] + [f"  {x}" for x in rendered.lines[1:]]
            self._block(head, rendered, INDENT * 2, prefix)
            self._last_thread = key
        else:
            head = f"{self._channel_name(message.channel)} · {self._bot()}"
            self._block(head, rendered, INDENT, prefix)

    def _updated(self, message: Message, previous: Message) -> None:
        rendered = self._render(message.text, message.blocks)
        old = self._render(previous.text, previous.blocks)
        prefix = self._tag(message, rendered)
        lines = [line.strip() for line in rendered.lines if line.strip()]
        what = "card" if message.blocks and message.blocks[0].get("type") == "header" else "message"
        summary = " — ".join(lines[:2]).replace("▌ ", "")
        self._write(f"✎ {what} updated: {summary}")
        labels = [b.label for b in rendered.buttons]
        if rendered.buttons and labels != [b.label for b in old.buttons]:
            self._write(INDENT + button_bar(rendered.buttons, prefix))

    def _ephemeral(self, message: EphemeralMessage, *, replaced: bool) -> None:
        if message.user != self._user:
            return
        rendered = self._render(message.text, message.blocks)
        note = (
            "only visible to you, replaces the message above" if replaced else "only visible to you"
        )
        self._block(f"({note}) {self._bot()}:", rendered, INDENT, "", inline=True)
        target = ButtonTarget(
            message.channel, message.ts, True, message.thread_ts, list(rendered.buttons)
        )
        if rendered.buttons:
            self._reply = target
        elif self._reply and self._reply.message_ts == message.ts:
            self._reply = None

    def _home(self, view: dict[str, Any]) -> None:
        """The App Home tab as text; its buttons are listed (clicks from a view are not sent)."""
        rendered = self._render("", view.get("blocks", []))
        self._write(f"(your App Home tab of {self._bot()} now shows:)")
        for line in rendered.lines:
            self._write(INDENT + line)
        labels = sorted({b.label for b in rendered.buttons})
        if labels:
            self._write(f"{INDENT}(buttons there: {', '.join(labels)}; use /krayne in the shell)")

    def _block(
        self, head: str | None, rendered: Rendered, indent: str, prefix: str, *,
        inline: bool = False,
    ) -> None:  # fmt: skip
        lines = list(rendered.lines)
        if inline and lines:
            self._write(f"{head} {lines[0]}")
            lines = lines[1:]
        elif head is not None:
            self._write(head)
        for line in lines:
            self._write(indent + line)
        if rendered.buttons:
            self._write(indent + button_bar(rendered.buttons, prefix))
