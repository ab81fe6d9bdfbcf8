"""Block Kit primitives within Slack's limits, and the one place untrusted text is escaped.

Built with ``slack_sdk.models.blocks`` and returned as dicts (``to_dict`` validates Slack's limits).
Every renderer stays within them whatever the input: at most 50 blocks (100 in a Home tab),
sections of at most 3000 characters, headers of at most 150, tables of at most 100 rows; long
content is truncated with a note saying so.

Text that does not come from krayne (Kubernetes reasons and events, log lines, image names,
display names) goes through :func:`escape` exactly once, in the renderers of this package:
``& < >`` are Slack's control characters and must be sent as ``&amp; &lt; &gt;``
(https://docs.slack.dev/messaging/formatting-message-text), or a log line ``<!channel>`` pings
the channel under the bot's name and ``<https://evil|dashboard>`` becomes a disguised link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import messages as msg
from core.ttl import format_duration

MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_TABLE_ROWS = 100
MAX_CONTEXT = 2000
MAX_TOTAL_TEXT = 12_000
"""Slack refuses a message whose blocks hold more than about 13,000 characters of text in all
(``msg_blocks_too_long``), well before 50 full sections; stay under it with room to spare."""

DESCRIBE = "krayne_describe"
DELETE = "krayne_delete"
DELETE_CONFIRM = "krayne_delete_confirm"
DELETE_CANCEL = "krayne_delete_cancel"
SCALE_UP = "krayne_scale_up"
SCALE_DOWN = "krayne_scale_down"
TTL_EXTEND = "krayne_ttl_extend"
RESUME = "krayne_resume"

Blocks = list[dict[str, Any]]


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ref_value(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def parse_ref(value: str) -> tuple[str, str]:
    namespace, _, name = value.partition("/")
    return namespace, name


def section(text: str) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION)))


def context(text: str) -> Block:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, MAX_CONTEXT))])


def header(text: str) -> Block:
    return HeaderBlock(text=clip(text, MAX_HEADER))


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=value, style=style)


def _text_chars(node: Any) -> int:
    if isinstance(node, dict):
        return sum(
            len(v) if k == "text" and isinstance(v, str) else _text_chars(v)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return sum(_text_chars(v) for v in node)
    return 0


def finish(
    blocks: Sequence[Block], limit: int = MAX_BLOCKS, *, note: Callable[[int], str] | None = None
) -> Blocks:
    """Dicts within the block count and the total-text budget, with a note when cut short;
    ``note(index of the first block left out)`` says what was left out in the reader's terms."""
    all_blocks = [b.to_dict() for b in blocks]
    rendered: Blocks = []
    chars = 0
    for index, block in enumerate(all_blocks):
        size = _text_chars(block)
        room = limit if index == len(all_blocks) - 1 else limit - 1  # keep a slot for the note
        if len(rendered) >= room or chars + size > MAX_TOTAL_TEXT:
            hidden = len(all_blocks) - index
            text = note(index) if note else f"…{hidden} more blocks not shown."
            rendered.append(context(text).to_dict())
            break
        rendered.append(block)
        chars += size
    return rendered


def age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "-"
    seconds = max(0, int((now - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def escape(text: str) -> str:
    """``text`` shown as it is: Slack's control characters ``& < >`` as HTML entities, and
    nothing else encoded (https://docs.slack.dev/messaging/formatting-message-text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BACKTICK_RUN = re.compile(r"`(?=`)")


def preformatted(text: str) -> str:
    """Untrusted ``text`` for inside a code fence: escaped, and its backtick runs broken (a
    zero-width space after each backtick another follows) so it cannot close the fence."""
    safe = _BACKTICK_RUN.sub("`\u200b", escape(text))
    if safe.startswith("`"):
        safe = "\u200b" + safe
    if safe.endswith("`"):
        safe += "\u200b"
    return safe


def fence(code: str, limit: int = 3000) -> str:
    """Untrusted ``code`` (a log tail) as one preformatted block of at most ``limit``
    characters: escaped, its backtick runs broken (a zero-width space after each backtick
    that another follows) so it cannot close the fence, and its END kept when too long —
    the last lines of a crash log say why it crashed."""
    safe = preformatted(code)
    room = limit - 6
    if len(safe) > room:
        tail = safe[-(room - 2) :]
        newline = tail.find("\n")
        tail = tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail
        tail = re.sub(r"^[^&;\s]*;", "", tail)  # no half of an entity cut in two
        safe = "…\n" + tail
    return f"```{safe}```"


def cluster_buttons(
    namespace: str, name: str, *, scale: bool = True, extend: bool = False
) -> ActionsBlock:
    ref = ref_value(namespace, name)
    elements = [button("Describe", DESCRIBE, ref)]
    if scale:
        elements += [
            button("Add worker", SCALE_UP, ref),
            button("Remove worker", SCALE_DOWN, ref),
        ]
    if extend:
        elements.append(button("Extend", TTL_EXTEND, ref))
    elements.append(button("Delete", DELETE, ref, style="danger"))
    return ActionsBlock(elements=elements)


def ttl_reminder(text: str, namespace: str, name: str) -> Blocks:
    """The reminder before a TTL runs out, with Extend and Delete now."""
    ref = ref_value(namespace, name)
    buttons = [
        button("Extend", TTL_EXTEND, ref, style="primary"),
        button("Delete now", DELETE_CONFIRM, ref, style="danger"),
    ]
    return finish([section(text), ActionsBlock(elements=buttons)])


def suspended_note(text: str, namespace: str, name: str) -> Blocks:
    """A thread note that the cluster was suspended, with Resume and Delete."""
    ref = ref_value(namespace, name)
    buttons = [
        button("Resume", RESUME, ref, style="primary"),
        button("Delete", DELETE, ref, style="danger"),
    ]
    return finish([section(text), ActionsBlock(elements=buttons)])


def expires_cell(expires: datetime | None, now: datetime) -> str:
    """Time left before the TTL runs out: ``in 2h 5m``, ``expired``, or ``-`` (no TTL)."""
    if expires is None:
        return "-"
    return f"in {format_duration(expires - now)}" if expires > now else "expired"


def text_blocks(text: str) -> Blocks:
    """Plain mrkdwn split into sections of at most 3000 characters (e.g. help, long errors)."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > MAX_SECTION:
            chunks.append(current) if current else None
            current = ""
            chunks.append(line[:MAX_SECTION])
            line = line[MAX_SECTION:]
        if len(current) + len(line) + 1 > MAX_SECTION:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return finish([section(c) for c in chunks if c.strip()] or [section(" ")])


def code_blocks(intro: str, code: str) -> Blocks:
    """An intro line and ``code`` as fenced sections, split on line boundaries; ``code``
    (which may quote what a user typed) is escaped and cannot close its fences."""
    budget = MAX_SECTION - 6
    parts: list[str] = []
    current = ""
    for line in code.splitlines():
        line = clip(preformatted(line), budget)
        if len(current) + len(line) + 1 > budget:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return finish([section(intro)] + [section(f"```{p}```") for p in parts])


def modal(content: Blocks) -> dict[str, Any]:
    """A modal showing ``content`` (the answer to an App Home click)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": msg.BOT_NAME},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": content,
    }
