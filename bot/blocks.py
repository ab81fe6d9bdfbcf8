"""Pure Block Kit renderers: status card, thread replies, list table, describe, confirm, App Home.

Built with ``slack_sdk.models.blocks`` and returned as dicts (``to_dict`` validates Slack's limits).
Every renderer stays within them whatever the input: at most 50 blocks (100 in a Home tab),
sections of at most 3000 characters, headers of at most 150, tables of at most 100 rows; long
content is truncated with a note saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import messages as msg
from bot.facts import CardView
from core.api import ClusterDetails, ClusterSummary

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

Blocks = list[dict[str, Any]]


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ref_value(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def parse_ref(value: str) -> tuple[str, str]:
    namespace, _, name = value.partition("/")
    return namespace, name


def _section(text: str) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION)))


def _context(text: str) -> Block:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, MAX_CONTEXT))])


def _header(text: str) -> Block:
    return HeaderBlock(text=clip(text, MAX_HEADER))


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> ButtonElement:
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


def _finish(blocks: Sequence[Block], limit: int = MAX_BLOCKS) -> Blocks:
    """Dicts within the block count and the total-text budget, with a note when cut short."""
    all_blocks = [b.to_dict() for b in blocks]
    rendered: Blocks = []
    chars = 0
    for index, block in enumerate(all_blocks):
        size = _text_chars(block)
        room = limit if index == len(all_blocks) - 1 else limit - 1  # keep a slot for the note
        if len(rendered) >= room or chars + size > MAX_TOTAL_TEXT:
            hidden = len(all_blocks) - index
            rendered.append(_context(f"…{hidden} more blocks not shown.").to_dict())
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


# --- status card and thread replies -------------------------------------------------------------


def cluster_buttons(namespace: str, name: str, *, scale: bool = True) -> ActionsBlock:
    ref = ref_value(namespace, name)
    elements = [_button("Describe", DESCRIBE, ref)]
    if scale:
        elements += [
            _button("Add worker", SCALE_UP, ref),
            _button("Remove worker", SCALE_DOWN, ref),
        ]
    elements.append(_button("Delete", DELETE, ref, style="danger"))
    return ActionsBlock(elements=elements)


def card_text(view: CardView) -> str:
    """Notification text of the card (what Slack shows where blocks cannot be rendered)."""
    phase = "deleted" if view.gone else view.status.phase.value
    return f"Ray cluster {view.name}: {phase}"


def _images_field(images: tuple[str, ...] | None) -> str:
    if not images:
        return "*Image*\nunknown"
    label = "Image" if len(images) == 1 else "Images"
    return f"*{label}*\n" + "\n".join(f"`{image}`" for image in images)


def card(view: CardView) -> Blocks:
    status = view.status
    if view.gone:
        line = msg.deleted_by(view.deleted_by) if view.deleted_by else msg.deleted_outside()
    else:
        line = f"*{msg.phase_label(status.phase)}*"
        if status.reason:
            line += f" — {status.reason}"
    fields = [
        MarkdownTextObject(text=f"*Owner*\n{msg.mention(view.owner)}"),
        MarkdownTextObject(text=f"*Namespace*\n`{view.namespace}`"),
        MarkdownTextObject(text=f"*Workers*\n{view.ready_workers}/{view.desired_workers} ready"),
        MarkdownTextObject(text=f"*GPUs*\n{view.gpus}"),
        MarkdownTextObject(text=clip(_images_field(view.images), MAX_FIELD)),
    ]
    blocks: list[Block] = [
        _header(f"Ray cluster {view.name}"),
        _section(line),
        SectionBlock(fields=fields),
    ]
    if status.hint and status.phase.is_failure and not view.gone:
        blocks.append(_context(f":bulb: {status.hint}"))
    blocks.append(_context("Updates for this cluster are posted in the thread below."))
    if not view.gone:
        blocks.append(cluster_buttons(view.namespace, view.name))
    return _finish(blocks)


def thread_reply(
    text: str,
    *,
    details: Sequence[str] = (),
    hint: str | None = None,
    code: str | None = None,
    buttons: tuple[str, str] | None = None,
) -> Blocks:
    """A thread reply: a headline, optional detail lines, a code excerpt, a hint and buttons."""
    blocks: list[Block] = [_section(text)]
    blocks += [_section(line) for line in details if line]
    if code:
        blocks.append(_section(f"```{clip(code, MAX_SECTION - 6)}```"))
    if hint:
        blocks.append(_context(f":bulb: {hint}"))
    if buttons:
        namespace, name = buttons
        blocks.append(cluster_buttons(namespace, name, scale=False))
    return _finish(blocks)


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
    return _finish([_section(c) for c in chunks if c.strip()] or [_section(" ")])


def code_blocks(intro: str, code: str) -> Blocks:
    """An intro line and ``code`` as fenced sections, split on line boundaries."""
    budget = MAX_SECTION - 6
    parts: list[str] = []
    current = ""
    for line in code.splitlines():
        line = clip(line, budget)
        if len(current) + len(line) + 1 > budget:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return _finish([_section(intro)] + [_section(f"```{p}```") for p in parts])


# --- list, describe, confirm --------------------------------------------------------------------

LIST_COLUMNS = ("Name", "Namespace", "Owner", "Status", "Workers", "GPUs", "Age")


def _owner_cell(owner: str | None, names: dict[str, str]) -> str:
    if not owner:
        return "-"
    return names.get(owner, owner)


def _table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def cluster_table(
    clusters: Sequence[ClusterSummary],
    *,
    scope: str,
    now: datetime,
    user_names: dict[str, str] | None = None,
) -> Blocks:
    """The list as a fixed-width table (header + up to 100 clusters) split over code sections.

    Slack's native table block is not rendered everywhere Block Kit is (App Home, older
    clients, the Slack double), so the table is preformatted text, which is.
    """
    if not clusters:
        return _finish([_section(msg.no_clusters(scope))])
    names = user_names or {}
    shown = list(clusters)[:MAX_TABLE_ROWS]
    rows = [LIST_COLUMNS] + [
        (
            clip(c.name, 53),
            clip(c.namespace, 40),
            clip(_owner_cell(c.owner, names), 24),
            c.status.phase.value,
            f"{c.ready_workers}/{c.desired_workers}",
            str(c.gpus),
            age(c.created_at, now),
        )
        for c in shown
    ]
    lines = _table_lines(rows)
    header, body = lines[0], lines[1:]
    sections: list[Block] = [_section(f"*{len(clusters)} cluster(s) {scope}*")]
    budget = MAX_SECTION - 8 - len(header)
    chunk: list[str] = []
    for line in body:
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) + 1 > budget:
            sections.append(_section("```" + "\n".join([header, *chunk]) + "```"))
            chunk = []
        chunk.append(line)
    sections.append(_section("```" + "\n".join([header, *chunk]) + "```"))
    if len(clusters) > len(shown):
        sections.append(_context(msg.more_rows(len(clusters) - len(shown))))
    return _finish(sections)


def cluster_table_text(clusters: Sequence[ClusterSummary], *, scope: str) -> str:
    lines = [f"{len(clusters)} cluster(s) {scope}"]
    lines += [f"{c.name} ({c.namespace}) {c.status.phase.value}" for c in clusters[:20]]
    return clip("\n".join(lines), 3000)


def describe(details: ClusterDetails, *, now: datetime) -> Blocks:
    s = details.summary
    status = s.status
    head = details.head
    blocks: list[Block] = [
        _header(f"Ray cluster {s.name}"),
        _section(
            f"*{msg.phase_label(status.phase)}* — {status.reason or 'no details'}"
            + (f"\n:bulb: {status.hint}" if status.hint else "")
        ),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Owner*\n{msg.mention(s.owner)}"),
                MarkdownTextObject(text=f"*Namespace*\n`{s.namespace}`"),
                MarkdownTextObject(text=f"*Age*\n{age(s.created_at, now)}"),
                MarkdownTextObject(text=f"*GPUs*\n{s.gpus}"),
            ]
        ),
        _section(
            f"*Head* — {head.cpus} CPU, {head.memory}, "
            f"{'ready' if head.ready else 'not ready'}\n`{head.image}`"
            + (f"\npod `{head.pod_name}`" if head.pod_name else "")
        ),
    ]
    for g in details.worker_groups[:20]:
        gpu = f", {g.gpus}×{g.gpu_type or 'GPU'}" if g.gpus else ""
        blocks.append(
            _section(
                f"*Group `{g.name}`* — {g.ready}/{g.replicas} ready "
                f"(min {g.min_replicas}, max {g.max_replicas}); {g.cpus} CPU, {g.memory}{gpu}"
                f"\n`{g.image}`"
            )
        )
    ports = ", ".join(f"{k} {v}" for k, v in sorted(details.endpoints.items()))
    extras = ", ".join(details.services) or "none"
    blocks.append(_section(f"*Service* `{details.head_service}`\nports: {ports}\nextras: {extras}"))
    if details.warning_events:
        lines = [
            f"• `{e.object_name}` *{e.reason}*"
            + (f" (×{e.count})" if e.count > 1 else "")
            + f": {clip(e.message, 300)}"
            for e in details.warning_events[:10]
        ]
        blocks.append(_section("*Recent warnings*\n" + "\n".join(lines)))
    else:
        blocks.append(_context("No recent warning events."))
    blocks.append(cluster_buttons(s.namespace, s.name))
    return _finish(blocks)


def delete_confirm(namespace: str, name: str) -> Blocks:
    ref = ref_value(namespace, name)
    buttons = [
        _button("Delete", DELETE_CONFIRM, ref, style="danger"),
        _button("Cancel", DELETE_CANCEL, ref),
    ]
    return _finish([_section(msg.delete_confirm(name, namespace)), ActionsBlock(elements=buttons)])


def modal(content: Blocks) -> dict[str, Any]:
    """A modal showing ``content`` (the answer to an App Home click)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": msg.BOT_NAME},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": content,
    }


# --- App Home -----------------------------------------------------------------------------------


def _home_rows(clusters: Sequence[ClusterSummary], now: datetime, limit: int) -> list[Block]:
    rows: list[Block] = []
    for c in clusters[:limit]:
        rows.append(
            _section(
                f"*{c.name}* (`{c.namespace}`) {msg.phase_label(c.status.phase)} · "
                f"{c.ready_workers}/{c.desired_workers} workers · {c.gpus} GPU · "
                f"{age(c.created_at, now)} · {msg.mention(c.owner)}"
            )
        )
    if len(clusters) > limit:
        rows.append(_context(msg.more_rows(len(clusters) - limit)))
    return rows


def app_home(
    user: str,
    clusters: Sequence[ClusterSummary] | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The Home tab view: the user's clusters (with buttons) and the team's."""
    blocks: list[Block] = [_header(msg.HOME_TITLE)]
    if clusters is None:
        blocks.append(_section(msg.HOME_UNAVAILABLE))
    else:
        mine = [c for c in clusters if c.owner == user]
        team = [c for c in clusters if c.owner != user]
        blocks.append(_section(msg.HOME_MINE))
        if not mine:
            blocks.append(_context(msg.HOME_NONE_MINE))
        for c in mine[:15]:
            blocks += _home_rows([c], now, 1)
            blocks.append(cluster_buttons(c.namespace, c.name))
        if len(mine) > 15:
            blocks.append(_context(msg.more_rows(len(mine) - 15)))
        blocks += [DividerBlock(), _section(msg.HOME_TEAM)]
        blocks += _home_rows(team, now, 40) if team else [_context(msg.HOME_NONE_TEAM)]
    return {"type": "home", "blocks": _finish(blocks, MAX_HOME_BLOCKS)}
