"""The list table, describe, the delete confirmation and the App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import messages as msg
from bot.blocks.kit import (
    DELETE_CANCEL,
    DELETE_CONFIRM,
    MAX_HOME_BLOCKS,
    MAX_SECTION,
    MAX_TABLE_ROWS,
    Blocks,
    age,
    button,
    clip,
    cluster_buttons,
    context,
    escape,
    expires_cell,
    finish,
    header,
    preformatted,
    ref_value,
    section,
)
from bot.redact import redact
from core.api import ClusterDetails, ClusterSummary

# --- list, describe, confirm --------------------------------------------------------------------

LIST_COLUMNS = ("Name", "Namespace", "Owner", "Status", "Workers", "GPUs", "Age", "Expires")


def _owner_cell(owner: str | None, names: dict[str, str], *, managed: bool = True) -> str:
    if not managed:
        return msg.NOT_MANAGED
    if not owner:
        return "-"
    return names.get(owner, owner)


def _tag(cluster: ClusterSummary) -> str:
    return "" if cluster.managed else f" [{msg.NOT_MANAGED}]"


def _notable(text: str | None) -> str:
    return escape(text) if text else ""


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
        return finish([section(msg.no_clusters(scope))])
    names = user_names or {}
    shown = list(clusters)[:MAX_TABLE_ROWS]
    rows = [LIST_COLUMNS] + [
        (
            clip(c.name, 53),
            clip(c.namespace, 40),
            clip(_owner_cell(c.owner, names, managed=c.managed), 24),
            c.status.phase.value,
            f"{c.ready_workers}/{c.desired_workers}",
            str(c.gpus),
            age(c.created_at, now),
            expires_cell(c.expires, now),
        )
        for c in shown
    ]
    lines = [preformatted(line) for line in _table_lines(rows)]
    top, body = lines[0], lines[1:]
    sections: list[Block] = [section(f"*{len(clusters)} cluster(s) {scope}*")]
    rows_before = [0]  # rows_before[k]: clusters in the first k table sections
    budget = MAX_SECTION - 8 - len(top)
    chunk: list[str] = []
    for line in body:
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) + 1 > budget:
            sections.append(section("```" + "\n".join([top, *chunk]) + "```"))
            rows_before.append(rows_before[-1] + len(chunk))
            chunk = []
        chunk.append(line)
    sections.append(section("```" + "\n".join([top, *chunk]) + "```"))
    rows_before.append(rows_before[-1] + len(chunk))
    if len(clusters) > len(shown):
        sections.append(context(msg.more_rows(len(clusters) - len(shown))))

    def hidden(first_left_out: int) -> str:  # sections[0] is the title, sections[k] table k
        shown_rows = rows_before[max(0, min(first_left_out - 1, len(rows_before) - 1))]
        return msg.more_rows(len(clusters) - shown_rows)

    return finish(sections, note=hidden)


def cluster_table_text(clusters: Sequence[ClusterSummary], *, scope: str) -> str:
    lines = [f"{len(clusters)} cluster(s) {scope}"]
    lines += [f"{c.name} ({c.namespace}) {c.status.phase.value}{_tag(c)}" for c in clusters[:20]]
    return clip("\n".join(lines), 3000)


def describe(details: ClusterDetails, *, now: datetime) -> Blocks:
    s = details.summary
    status = s.status
    owner = msg.mention(s.owner) if s.managed else msg.NOT_MANAGED
    head = details.head
    blocks: list[Block] = [
        header(f"Ray cluster {s.name}"),
        section(
            f"*{msg.phase_label(status.phase)}* — {_notable(redact(status.reason)) or 'no details'}"
            + (f"\n:bulb: {escape(status.hint)}" if status.hint else "")
        ),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Owner*\n{owner}"),
                MarkdownTextObject(text=f"*Namespace*\n`{s.namespace}`"),
                MarkdownTextObject(text=f"*Age*\n{age(s.created_at, now)}"),
                MarkdownTextObject(text=f"*Expires*\n{expires_cell(s.expires, now)}"),
                MarkdownTextObject(text=f"*GPUs*\n{s.gpus}"),
            ]
        ),
        section(
            f"*Head* — {head.cpus} CPU, {head.memory}, "
            f"{'ready' if head.ready else 'not ready'}\n`{_notable(head.image)}`"
            + (f"\npod `{escape(head.pod_name)}`" if head.pod_name else "")
        ),
    ]
    for g in details.worker_groups[:20]:
        gpu = f", {g.gpus}×{g.gpu_type or 'GPU'}" if g.gpus else ""
        blocks.append(
            section(
                f"*Group `{g.name}`* — {g.ready}/{g.replicas} ready "
                f"(min {g.min_replicas}, max {g.max_replicas}); {g.cpus} CPU, {g.memory}{gpu}"
                f"\n`{_notable(g.image)}`"
            )
        )
    ports = ", ".join(f"{k} {v}" for k, v in sorted(details.endpoints.items()))
    extras = ", ".join(details.services) or "none"
    blocks.append(section(f"*Service* `{details.head_service}`\nports: {ports}\nextras: {extras}"))
    if details.warning_events:
        lines = [
            f"• `{_notable(e.object_name)}` *{_notable(e.reason)}*"
            + (f" (×{e.count})" if e.count > 1 else "")
            + f": {escape(clip(redact(e.message), 300))}"
            for e in details.warning_events[:10]
        ]
        blocks.append(section("*Recent warnings*\n" + "\n".join(lines)))
    else:
        blocks.append(context("No recent warning events."))
    blocks.append(cluster_buttons(s.namespace, s.name))
    return finish(blocks)


def delete_confirm(namespace: str, name: str) -> Blocks:
    ref = ref_value(namespace, name)
    buttons = [
        button("Delete", DELETE_CONFIRM, ref, style="danger"),
        button("Cancel", DELETE_CANCEL, ref),
    ]
    return finish([section(msg.delete_confirm(name, namespace)), ActionsBlock(elements=buttons)])


# --- App Home -----------------------------------------------------------------------------------


def _home_rows(clusters: Sequence[ClusterSummary], now: datetime, limit: int) -> list[Block]:
    rows: list[Block] = []
    for c in clusters[:limit]:
        rows.append(
            section(
                f"*{c.name}* (`{c.namespace}`) {msg.phase_label(c.status.phase)} · "
                f"{c.ready_workers}/{c.desired_workers} workers · {c.gpus} GPU · "
                f"{age(c.created_at, now)} · {msg.mention(c.owner)}"
                + (f" · expires {expires_cell(c.expires, now)}" if c.expires else "")
            )
        )
    if len(clusters) > limit:
        rows.append(context(msg.more_rows(len(clusters) - limit)))
    return rows


def app_home(
    user: str,
    clusters: Sequence[ClusterSummary] | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The Home tab view: the user's clusters (with buttons) and the team's."""
    blocks: list[Block] = [header(msg.HOME_TITLE)]
    if clusters is None:
        blocks.append(section(msg.HOME_UNAVAILABLE))
    else:
        mine = [c for c in clusters if c.owner == user]
        team = [c for c in clusters if c.owner != user]
        blocks.append(section(msg.HOME_MINE))
        if not mine:
            blocks.append(context(msg.HOME_NONE_MINE))
        for c in mine[:15]:
            blocks += _home_rows([c], now, 1)
            blocks.append(cluster_buttons(c.namespace, c.name, extend=c.expires is not None))
        if len(mine) > 15:
            blocks.append(context(msg.more_rows(len(mine) - 15)))
        blocks += [DividerBlock(), section(msg.HOME_TEAM)]
        blocks += _home_rows(team, now, 40) if team else [context(msg.HOME_NONE_TEAM)]
    return {"type": "home", "blocks": finish(blocks, MAX_HOME_BLOCKS)}
