"""What real Slack sends besides plain slash commands: URL verification, SSL checks, App Home
events on both tabs, retries, charset-qualified content types, unicode, other command names,
and clicks from channel messages, ephemeral messages and the App Home view."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from bot import blocks
from bot.shell import signing
from bot.slack_double.records import Message
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.harness import (
    CHANNEL,
    WAIT,
    SlackClient,
    all_text,
    rayclusters,
    wait_created,
)

USER = "U0001"


def _posted(double: SlackDouble) -> list[str]:
    """Web API calls beyond the bot's start-up ``auth.test``."""
    return [c.method for c in double.calls if c.method != "auth.test"]


async def test_url_verification_answers_the_challenge(slack: SlackClient) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps(
        {"token": signing.VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    ).encode()
    answer = await slack.post(body, content_type=signing.JSON)
    assert answer.status == 200
    assert answer.body == {"challenge": challenge}


async def test_ssl_check_is_answered_and_runs_nothing(
    slack: SlackClient, double: SlackDouble
) -> None:
    body = urlencode({"ssl_check": "1", "token": signing.VERIFICATION_TOKEN}).encode()
    answer = await slack.post(body)
    assert answer.status == 200
    assert _posted(double) == []


async def test_app_home_opened_on_the_messages_tab_is_ignored(
    slack: SlackClient, double: SlackDouble
) -> None:
    answer = await slack.event(signing.app_home_opened_event(USER, tab="messages"))
    assert answer.status == 200
    home = await slack.event(signing.app_home_opened_event(USER, tab="home"))
    assert home.status == 200
    await double.wait_for(lambda: double.published_views(USER), timeout=WAIT)
    assert len(double.calls_to("views.publish")) == 1


async def test_a_retried_event_publishes_the_home_once(
    slack: SlackClient, double: SlackDouble
) -> None:
    body = signing.event_body(
        signing.app_home_opened_event(USER),
        team_id=double.team_id,
        bot_user_id=double.bot_user_id,
    )
    first = await slack.post(body, content_type=signing.JSON)
    again = await slack.post(body, content_type=signing.JSON, retry=1)
    assert first.status == again.status == 200
    await double.wait_for(lambda: double.published_views(USER), timeout=WAIT)
    # A second event (a new event_id) proves the first retry was really dropped.
    await slack.event(signing.app_home_opened_event(USER))
    await double.wait_for(lambda: len(double.published_views(USER)) >= 2, timeout=WAIT)
    assert len(double.calls_to("views.publish")) == 2


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded; charset=utf-8", "application/x-www-form-urlencoded"],
)
async def test_form_posts_with_a_charset_are_understood(
    slack: SlackClient, content_type: str
) -> None:
    answer = await slack.post(slack.command_body("help"), content_type=content_type)
    assert answer.status == 200
    assert "/krayne create" in answer.text


@pytest.mark.parametrize("text", ["", "   ", "\u00a0 "])
async def test_empty_or_blank_text_shows_the_help(slack: SlackClient, text: str) -> None:
    answer = await slack.slash(text)
    assert answer.status == 200
    assert "/krayne create" in answer.text


async def test_unicode_and_emoji_are_answered_with_a_usage_error_not_a_crash(
    slack: SlackClient, sandbox: ThreadedSandbox, namespace: str
) -> None:
    answer = await slack.slash("create démo-🚀 --gpus ２")
    assert answer.status == 200
    assert "Usage" in answer.text
    assert "Traceback" not in answer.text
    assert await rayclusters(sandbox, namespace) == []


async def test_the_command_works_under_another_configured_name(
    slack: SlackClient, double: SlackDouble
) -> None:
    body = signing.slash_command_body(
        command="/krayne-dev",
        text="help",
        user_id=USER,
        user_name=double.user(USER).name,
        channel_id=CHANNEL,
        channel_name=double.channel(CHANNEL).name,
        team_id=double.team_id,
        response_url=double.new_response_url(channel=CHANNEL, user=USER),
    )
    answer = await slack.post(body)
    assert answer.status == 200
    assert "/krayne create" in answer.text


# --- interactivity ----------------------------------------------------------------------------


def _ref_button(action_id: str, namespace: str, name: str) -> dict[str, object]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": "x"},
        "value": blocks.ref_value(namespace, name),
    }


async def _home_view(slack: SlackClient, name: str) -> dict[str, object]:
    """Open the App Home and return the view once it shows ``name`` with its buttons."""
    await slack.event(signing.app_home_opened_event(USER))

    def shown() -> dict[str, object] | None:
        views = slack.double.published_views(USER)
        return views[-1] if views and name in json.dumps(views[-1]) else None

    return await slack.double.wait_for(shown, timeout=WAIT)


def _modal_saying(double: SlackDouble, needle: str) -> dict[str, object] | None:
    for view in double.modals(USER):
        if needle in json.dumps(view):
            return view
    return None


async def test_describe_from_the_app_home_answers_in_a_modal(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create homey")
    await wait_created(double, "homey")
    home = await _home_view(slack, "homey")
    assert (await slack.click_view(home, blocks.DESCRIBE)).status == 200
    shown = await double.wait_for(lambda: _modal_saying(double, "*Head*"), timeout=WAIT)
    assert "homey" in json.dumps(shown) and "Traceback" not in json.dumps(shown)
    assert not double.messages(USER), "no DM: the Messages tab is off in the shipped manifest"


async def test_delete_and_add_worker_from_the_app_home_work_with_the_manifest_as_shipped(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create homed --workers 1")
    card = await wait_created(double, "homed")
    home = await _home_view(slack, "homed")
    assert (await slack.click_view(home, blocks.SCALE_UP)).status == 200
    await double.wait_for(
        lambda: _modal_saying(double, "Scaled `homed` group `worker` to 2 worker(s)"),
        timeout=WAIT,
    )
    await slack.click_view(home, blocks.DELETE)
    question = await double.wait_for(
        lambda: _modal_saying(double, blocks.DELETE_CONFIRM), timeout=WAIT
    )
    assert (await slack.click_view(question, blocks.DELETE_CONFIRM)).status == 200
    await double.wait_for(lambda: _modal_saying(double, "Deleting `homed`"), timeout=WAIT)
    await _wait_deleted_note(double, card)
    assert not [
        c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "homed"
    ]
    assert not double.messages(USER)
    refused = [c for c in double.calls if c.response.get("error") == "messages_tab_disabled"]
    assert not refused


async def test_a_home_click_whose_trigger_expired_posts_nothing_and_fails_nothing(
    slack: SlackClient, double: SlackDouble, namespace: str
) -> None:
    await slack.slash("create stale")
    await wait_created(double, "stale")
    body = signing.home_actions_body(
        user_id=USER, user_name="alice", team_id=double.team_id,
        action=_ref_button(blocks.DESCRIBE, namespace, "stale"), block_id="home-b",
        view={"id": "V123", "type": "home"}, trigger_id=signing.new_trigger_id(),
    )  # fmt: skip
    assert (await slack.post(body)).status == 200
    await double.wait_for(lambda: double.calls_to("views.open"), timeout=WAIT)
    assert double.calls_to("views.open")[-1].response["error"] == "invalid_trigger_id"
    assert not double.messages(USER)


async def _wait_deleted_note(double: SlackDouble, card: Message) -> None:
    def noted() -> bool:
        return any("deleted" in all_text(m).lower() for m in double.thread(CHANNEL, card.ts))

    await double.wait_for(noted, timeout=WAIT)


async def test_a_button_of_a_cluster_that_no_longer_exists_says_so_privately(
    slack: SlackClient, double: SlackDouble, namespace: str
) -> None:
    await slack.slash("create fleeting")
    card = await wait_created(double, "fleeting")
    await slack.click(card, blocks.DELETE)
    question = await double.wait_for(
        lambda: next((e for e in double.ephemerals(USER) if "delete" in e.text.lower()
                      and e.blocks), None), timeout=WAIT)  # fmt: skip
    await slack.click(question, blocks.DELETE_CONFIRM, is_ephemeral=True)  # type: ignore[arg-type]
    await _wait_deleted_note(double, card)
    for action in (blocks.DESCRIBE, blocks.SCALE_UP, blocks.DELETE):
        before = len(double.ephemerals(USER))
        answer = await slack.click(card, action)
        assert answer.status == 200
        note = await double.wait_for(
            lambda before=before: len(double.ephemerals(USER)) > before
            and double.ephemerals(USER)[-1], timeout=WAIT)  # fmt: skip
        assert "no longer exists" in note.text, (action, note.text)
        assert "Traceback" not in note.text


async def test_an_ephemeral_messages_buttons_have_no_message_and_still_work(
    slack: SlackClient, double: SlackDouble, namespace: str
) -> None:
    await slack.slash("create eph")
    await wait_created(double, "eph")
    await slack.slash("describe eph")
    shown = await double.wait_for(
        lambda: next((e for e in double.ephemerals(USER) if e.blocks and "eph" in all_text(e)
                      and any(b.get("type") == "actions" for b in e.blocks)), None),
        timeout=WAIT)  # fmt: skip
    before = len(double.ephemerals(USER))
    assert (await slack.click(shown, blocks.DESCRIBE, is_ephemeral=True)).status == 200  # type: ignore[arg-type]
    await double.wait_for(lambda: len(double.ephemerals(USER)) > before, timeout=WAIT)


@pytest.mark.parametrize(
    "payload",
    [
        {
            "type": "view_submission",
            "view": {"id": "V1", "type": "modal", "callback_id": "x", "state": {"values": {}}},
        },
        {"type": "shortcut", "callback_id": "some_shortcut", "trigger_id": "1.2.abc"},
        {
            "type": "message_action",
            "callback_id": "some_action",
            "trigger_id": "1.2.abd",
            "channel": {"id": CHANNEL},
            "message": {"ts": "1.1", "text": "x"},
        },
        {
            "type": "block_actions",
            "actions": [
                {"action_id": "not_ours", "block_id": "b", "type": "button", "action_ts": "1.3"}
            ],
            "container": {"type": "message"},
            "channel": {"id": CHANNEL},
            "response_url": "http://127.0.0.1:9/nowhere",
        },
        {"type": "view_closed", "view": {"id": "V1", "type": "modal", "callback_id": "x"}},
    ],
    ids=lambda p: p["type"],
)
async def test_interactions_the_bot_does_not_use_are_acknowledged_and_post_nothing(
    slack: SlackClient, double: SlackDouble, payload: dict[str, object]
) -> None:
    full = {"user": {"id": USER}, "team": {"id": double.team_id}, "api_app_id": signing.API_APP_ID,
            "token": signing.VERIFICATION_TOKEN, **payload}  # fmt: skip
    body = urlencode({"payload": json.dumps(full)}).encode()
    answer = await slack.post(body)
    assert answer.status == 200, answer.body
    assert _posted(double) == []


async def test_an_event_the_bot_does_not_use_is_acknowledged(
    slack: SlackClient, double: SlackDouble
) -> None:
    answer = await slack.event({"type": "member_joined_channel", "user": USER,
                                "channel": CHANNEL, "event_ts": f"{time.time():.6f}"})  # fmt: skip
    assert answer.status == 200
    assert _posted(double) == []


async def test_an_app_rate_limited_notice_is_acknowledged(
    slack: SlackClient, double: SlackDouble
) -> None:
    # Slack sends this envelope (no "event" inside) when it drops events for the app.
    body = json.dumps(
        {"token": signing.VERIFICATION_TOKEN, "type": "app_rate_limited", "team_id":
         double.team_id, "minute_rate_limited": 1518467820, "api_app_id": signing.API_APP_ID}
    ).encode()  # fmt: skip
    answer = await slack.post(body, content_type=signing.JSON)
    assert answer.status == 200
    assert _posted(double) == []
