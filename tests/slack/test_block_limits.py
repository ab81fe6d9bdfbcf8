"""Block Kit limits: the double refuses what Slack refuses, with Slack's error lines."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_double.limits import validate_blocks
from bot.slack_double.server import SlackDouble


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(text: str = "Delete", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": "a",
        **extra,
    }


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


REJECTED: list[tuple[str, list[dict[str, Any]], str]] = [
    ("51 blocks", [section("x")] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
    (
        "section text 3001",
        [section("x" * 3001)],
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
    ),
    (
        "empty section text",
        [section("")],
        "must be more than 0 characters [json-pointer:/blocks/0/text/text]",
    ),
    (
        "header 151",
        [{"type": "header", "text": plain("h" * 151)}],
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
    ),
    (
        "mrkdwn header",
        [{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}],
        "must be one of: plain_text [json-pointer:/blocks/0/text/type]",
    ),
    (
        "unknown text type",
        [{"type": "section", "text": {"type": "markdown", "text": "x"}}],
        "must be one of: plain_text, mrkdwn [json-pointer:/blocks/0/text/type]",
    ),
    (
        "button text 76",
        [{"type": "actions", "elements": [button("b" * 76)]}],
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
    ),
    (
        "button value 2001",
        [{"type": "actions", "elements": [button(value="v" * 2001)]}],
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
    ),
    (
        "action_id 256",
        [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    ),
    (
        "26 actions",
        [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}],
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    ),
    (
        "duplicate action_id",
        [{"type": "actions", "elements": [button(), button()]}],
        "duplicate action_id [json-pointer:/blocks/0/elements/1/action_id]",
    ),
    (
        "11 fields",
        [{"type": "section", "fields": [plain("f")] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ),
    (
        "field 2001",
        [{"type": "section", "fields": [plain("f" * 2001)]}],
        "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]",
    ),
    (
        "11 context elements",
        [{"type": "context", "elements": [plain("c")] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
    ),
    (
        "duplicate block_id",
        [section("a", block_id="x"), section("b", block_id="x")],
        "duplicate block_id [json-pointer:/blocks/1/block_id]",
    ),
    (
        "unknown block type",
        [{"type": "sektion"}],
        "must be a valid enum value [json-pointer:/blocks/0/type]",
    ),
    (
        "emoji on mrkdwn",
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}],
        "emoji is only allowed for plain_text [json-pointer:/blocks/0/text/emoji]",
    ),
    (
        "input in a message",
        [
            {
                "type": "input",
                "label": plain("l"),
                "element": {"type": "plain_text_input", "action_id": "i"},
            }
        ],
        "input blocks are not supported in messages [json-pointer:/blocks/0/type]",
    ),
    (
        "bad button style",
        [{"type": "actions", "elements": [button(style="red")]}],
        "must be one of: primary, danger [json-pointer:/blocks/0/elements/0/style]",
    ),
]


@pytest.mark.parametrize(
    ("blocks", "line"),
    [(b, line) for _, b, line in REJECTED],
    ids=[name for name, _, _ in REJECTED],
)
async def test_blocks_over_a_limit_are_rejected_with_a_pointer(
    client: AsyncWebClient, double: SlackDouble, blocks: list[dict[str, Any]], line: str
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0001", text="fallback", blocks=blocks)
    response = caught.value.response
    assert response["error"] == "invalid_blocks"
    assert f"[ERROR] {line}" in response["response_metadata"]["messages"]
    assert double.messages("C0001") == []


ACCEPTED: list[tuple[str, list[dict[str, Any]]]] = [
    ("50 blocks", [section("x")] * 50),
    ("section text 3000", [section("x" * 3000)]),
    ("header 150", [{"type": "header", "text": plain("h" * 150)}]),
    (
        "button text 75 with confirm",
        [
            {
                "type": "actions",
                "elements": [
                    button(
                        "b" * 75,
                        value="v" * 2000,
                        style="danger",
                        confirm={
                            "title": plain("Sure?"),
                            "text": plain("Really"),
                            "confirm": plain("Yes"),
                            "deny": plain("No"),
                        },
                    )
                ],
            }
        ],
    ),
    (
        "10 fields, one of 2000",
        [{"type": "section", "fields": [plain("f" * 2000)] + [plain("f")] * 9}],
    ),
    ("section with accessory", [section("x", accessory=button())]),
    (
        "context, divider, image",
        [
            {
                "type": "context",
                "elements": [
                    plain("c"),
                    {"type": "image", "image_url": "https://x", "alt_text": "x"},
                ],
            },
            {"type": "divider"},
            {"type": "image", "image_url": "https://x/y.png", "alt_text": "graph"},
        ],
    ),
]


@pytest.mark.parametrize("blocks", [b for _, b in ACCEPTED], ids=[n for n, _ in ACCEPTED])
async def test_blocks_at_the_limit_are_accepted(
    client: AsyncWebClient, double: SlackDouble, blocks: list[dict[str, Any]]
) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="fallback", blocks=blocks)
    stored = double.message("C0001", posted["ts"])
    assert stored is not None and len(stored.blocks) == len(blocks)
    assert all(b.get("block_id") for b in stored.blocks), "Slack assigns missing block_ids"


async def test_too_much_text_across_blocks_is_msg_blocks_too_long(
    client: AsyncWebClient,
) -> None:
    blocks = [section("x" * 2900)] * 5
    assert validate_blocks(blocks)[0] == [], "each block is within its own limit"
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0001", text="fallback", blocks=blocks)
    assert caught.value.response["error"] == "msg_blocks_too_long"


async def test_chat_update_enforces_the_same_limits(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0001", text="ok")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(
            channel="C0001", ts=posted["ts"], text="x", blocks=[section("x" * 3001)]
        )
    assert caught.value.response["error"] == "invalid_blocks"


async def test_home_views_allow_100_blocks_but_not_101(
    client: AsyncWebClient, double: SlackDouble
) -> None:
    await client.views_publish(
        user_id="U0001", view={"type": "home", "blocks": [section("x")] * 100}
    )
    with pytest.raises(SlackApiError) as caught:
        await client.views_publish(
            user_id="U0001", view={"type": "home", "blocks": [section("x")] * 101}
        )
    assert caught.value.response["error"] == "invalid_arguments"
    assert caught.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]
    assert len(double.published_views("U0001")) == 1


async def test_modal_opens_once_with_a_trigger_id_minted_by_the_double(
    client: AsyncWebClient, double: SlackDouble
) -> None:
    trigger = double.new_trigger_id("U0001")
    view = {"type": "modal", "title": plain("Create cluster"), "blocks": [section("x")]}
    opened = await client.views_open(trigger_id=trigger, view=view)
    assert opened["view"]["id"].startswith("V")
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        await client.views_open(trigger_id=trigger, view=view)
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(
            trigger_id=double.new_trigger_id("U0001"), view={**view, "title": plain("t" * 25)}
        )
    assert caught.value.response["error"] == "invalid_arguments"
