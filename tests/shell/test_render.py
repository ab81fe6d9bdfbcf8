"""Block Kit and mrkdwn as the shell prints them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.shell.render import button_bar, mrkdwn, render_blocks, render_message

NAMES = {"U0001": "alice"}


def name(user_id: str) -> str:
    return NAMES.get(user_id, user_id)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<@U0001> your cluster is ready", "@alice your cluster is ready"),
        ("<@U0002|bob> too", "@bob too"),
        ("see <http://x.io/a|the docs>", "see the docs (http://x.io/a)"),
        ("<http://x.io>", "http://x.io"),
        ("in <#C0001|general>", "in #general"),
        (":large_green_circle: *ready*", "🟢 ready"),
        (":unknown_emoji: stays", ":unknown_emoji: stays"),
        ("_hint_ and a_b_c", "hint and a_b_c"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("2*3*4 is not bold", "2*3*4 is not bold"),
    ],
)
def test_mrkdwn_becomes_terminal_text(text: str, shown: str) -> None:
    assert mrkdwn(text, name) == shown


def test_a_status_card_reads_as_lines_with_numbered_buttons() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Ray cluster demo"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": ":red_circle: *unschedulable*"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Owner*\n<@U0001>"},
                {"type": "mrkdwn", "text": "*GPUs*\n64"},
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": ":bulb: Ask for fewer"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "act",
            "elements": [
                {
                    "type": "button",
                    "action_id": "d",
                    "text": {"type": "plain_text", "text": "Describe"},
                },
                {
                    "type": "button",
                    "action_id": "x",
                    "text": {"type": "plain_text", "text": "Delete"},
                    "style": "danger",
                    "value": "default/demo",
                },
            ],
        },
    ]
    rendered = render_blocks(blocks, name)
    assert rendered.lines == [
        "▌ Ray cluster demo",
        "🔴 unschedulable",
        "Owner: @alice   GPUs: 64",
        "💡 Ask for fewer",
        "─" * 40,
    ]
    assert rendered.headline == "▌ Ray cluster demo"
    assert [b.label for b in rendered.buttons] == ["Describe", "Delete"]
    assert rendered.buttons[1].block_id == "act"
    assert rendered.buttons[1].element["value"] == "default/demo"
    assert button_bar(rendered.buttons) == "[1] Describe  [2] Delete"
    assert button_bar(rendered.buttons, "3.") == "[3.1] Describe  [3.2] Delete"


def test_code_fences_become_indented_lines() -> None:
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Last log lines:\n```a &lt; b\nline 2```"},
        }
    ]
    assert render_blocks(blocks, name).lines == ["Last log lines:", "│ a < b", "│ line 2"]


def test_a_message_without_blocks_shows_its_text() -> None:
    assert render_message("hello <@U0001>", [], name).lines == ["hello @alice"]
