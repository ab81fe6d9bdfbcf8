"""Slack messages as a person reads them in a terminal: Block Kit and mrkdwn to plain lines.

Pure functions used by ``bot/shell/cli.py``. Mentions become ``@name``, links ``label (url)``, the
emoji the bot uses become their glyphs, code fences become indented ``│`` lines, section fields
become ``Label: value`` pairs, and buttons are returned separately so the shell can number them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EMOJI = {
    "hourglass_flowing_sand": "⏳",
    "package": "📦",
    "arrows_counterclockwise": "🔄",
    "large_green_circle": "🟢",
    "red_circle": "🔴",
    "double_vertical_bar": "⏸",
    "alarm_clock": "⏰",
    "lock": "🔒",
    "arrow_forward": "▶",
    "large_yellow_circle": "🟡",
    "wastebasket": "🗑",
    "bulb": "💡",
    "warning": "⚠️",
    "wave": "👋",
    "no_entry": "⛔",
    "white_check_mark": "✅",
    "x": "❌",
    "rocket": "🚀",
    "tada": "🎉",
    "straight_ruler": "📏",
}

_ANGLE = re.compile(r"<([^<>]+)>")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
_FENCE = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)

UserName = Callable[[str], str]


@dataclass(frozen=True)
class Button:
    """A clickable element: the element dict as posted and the block it sits in."""

    label: str
    element: dict[str, Any]
    block_id: str


@dataclass
class Rendered:
    """A message as lines of text plus its buttons (in display order)."""

    lines: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    @property
    def headline(self) -> str:
        """The first non-empty line: how a thread parent or an updated card is named."""
        return next((line.strip() for line in self.lines if line.strip()), "")


def mrkdwn(text: str, user_name: UserName) -> str:
    """Slack mrkdwn to terminal text (entities, mentions, links, emoji, bold/italic)."""

    def angle(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or user_name(target[1:]))
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label and label != target else target

    def emoji(match: re.Match[str]) -> str:
        return EMOJI.get(match.group(1), match.group(0))

    text = _ANGLE.sub(angle, text)
    text = _EMOJI.sub(emoji, text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    return html.unescape(text)


def _text_lines(text: str, user_name: UserName) -> list[str]:
    """mrkdwn that may contain code fences: fences become ``│ `` prefixed lines."""
    lines: list[str] = []
    pos = 0
    for match in _FENCE.finditer(text):
        before = text[pos : match.start()].strip("\n")
        if before:
            lines += mrkdwn(before, user_name).splitlines()
        lines += [f"│ {line}" for line in html.unescape(match.group(1)).splitlines()]
        pos = match.end()
    rest = text[pos:].strip("\n")
    if rest:
        lines += mrkdwn(rest, user_name).splitlines()
    return lines


def _text_of(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, Mapping) else ""


def _field(obj: Any, user_name: UserName) -> str:
    label, _, value = mrkdwn(_text_of(obj), user_name).partition("\n")
    return f"{label}: {value.replace(chr(10), ' ')}" if value else label


def _button(element: Mapping[str, Any], block_id: str) -> Button:
    label = _text_of(element.get("text")) or str(element.get("action_id", "?"))
    return Button(label=label, element=dict(element), block_id=block_id)


def render_blocks(blocks: Sequence[Mapping[str, Any]], user_name: UserName) -> Rendered:
    """Each block as readable lines; buttons of actions blocks and accessories collected."""
    out = Rendered()
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id", ""))
        if kind == "header":
            out.lines.append(f"▌ {mrkdwn(_text_of(block.get('text')), user_name)}")
        elif kind == "section":
            if "text" in block:
                out.lines += _text_lines(_text_of(block["text"]), user_name)
            fields = [_field(f, user_name) for f in block.get("fields", [])]
            if fields:
                out.lines.append("   ".join(fields))
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping) and accessory.get("type") == "button":
                out.buttons.append(_button(accessory, block_id))
        elif kind == "context":
            parts = [
                mrkdwn(_text_of(e), user_name) if e.get("type") != "image" else ""
                for e in block.get("elements", [])
                if isinstance(e, Mapping)
            ]
            out.lines.append("  ".join(p for p in parts if p))
        elif kind == "divider":
            out.lines.append("─" * 40)
        elif kind == "actions":
            for element in block.get("elements", []):
                if isinstance(element, Mapping) and element.get("type") == "button":
                    out.buttons.append(_button(element, block_id))
        elif kind == "image":
            out.lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind in ("markdown", "rich_text"):
            out.lines += _text_lines(str(block.get("text", "")), user_name)
    return out


def render_message(text: str, blocks: Sequence[Mapping[str, Any]], user_name: UserName) -> Rendered:
    """Blocks when there are any (what Slack shows), else the text."""
    if blocks:
        rendered = render_blocks(blocks, user_name)
        if rendered.lines or rendered.buttons:
            return rendered
    return Rendered(lines=_text_lines(text, user_name))


def button_bar(buttons: Sequence[Button], prefix: str = "") -> str:
    """``[1] Delete  [2] Cancel`` (or ``[3.1] Describe ...`` with a message prefix)."""
    return "  ".join(f"[{prefix}{i}] {b.label}" for i, b in enumerate(buttons, start=1))
