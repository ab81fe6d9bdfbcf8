"""The Slack double answers the real slack_sdk client as Slack would: messages, threads, edits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_double.inputs import manifest_settings
from bot.slack_double.records import Channel, PostedMessage, SlackEvent, UpdatedMessage
from bot.slack_double.server import SlackDouble

from .conftest import TOKEN, USERS


async def test_auth_test_reports_the_bot_identity(client: AsyncWebClient) -> None:
    reply = await client.auth_test()
    assert (reply["team_id"], reply["user_id"], reply["bot_id"]) == ("T0001", "UBOT", "B0BOT")


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), ("", "not_authed")])
async def test_bad_or_missing_token_is_refused(double: SlackDouble, token: str, error: str) -> None:
    client = AsyncWebClient(token=token or None, base_url=double.base_url)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0001", text="hi")
    assert caught.value.response["error"] == error
    assert double.messages("C0001") == []


async def test_post_message_assigns_increasing_ts_and_is_stored(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="#general", text="one")
    second = await client.chat_postMessage(channel="C0001", text="two")
    assert first["channel"] == "C0001"
    assert float(first["ts"]) < float(second["ts"])
    assert first["message"]["bot_id"] == "B0BOT"
    assert [m.text for m in double.messages("general")] == ["one", "two"]


async def test_thread_replies_count_on_the_parent_and_nest_under_the_root(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C0001", text="card")
    reply = await client.chat_postMessage(channel="C0001", text="r1", thread_ts=parent["ts"])
    # Replying to a reply lands in the same thread, as in Slack.
    await client.chat_postMessage(channel="C0001", text="r2", thread_ts=reply["ts"])

    assert [m.text for m in double.messages("C0001")] == ["card"]
    assert [m.text for m in double.thread("C0001", parent["ts"])] == ["r1", "r2"]
    stored_parent = double.message("C0001", parent["ts"])
    assert stored_parent is not None and stored_parent.reply_count == 2
    replies = await client.conversations_replies(channel="C0001", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["card", "r1", "r2"]


async def test_update_replaces_the_message_and_keeps_its_history(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(
        channel="C0001", text="creating", blocks=[{"type": "section", "text": _md("creating")}]
    )
    await client.chat_update(channel="C0001", ts=posted["ts"], text="ready")

    message = double.message("C0001", posted["ts"])
    assert message is not None
    assert message.text == "ready"
    assert message.blocks[0]["text"]["text"] == "creating", "omitted blocks are retained"
    assert [e.text for e in message.edits] == ["creating"]

    await client.chat_update(channel="C0001", ts=posted["ts"], text="ready", blocks=[])
    assert double.message("C0001", posted["ts"]).blocks == ()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("chat.update", {"channel": "C0001", "ts": "1.000001", "text": "x"}, "message_not_found"),
        ("chat.postMessage", {"channel": "C0002", "text": "x"}, "not_in_channel"),
        ("chat.postMessage", {"channel": "C9999", "text": "x"}, "channel_not_found"),
        ("chat.postMessage", {"channel": "C0001"}, "no_text"),
        ("chat.postMessage", {"channel": "C0001", "text": "x" * 40_001}, "msg_too_long"),
        ("chat.postMessage", {"channel": "C0001", "blocks": "[{"}, "invalid_blocks_format"),
        (
            "chat.postEphemeral",
            {"channel": "C0003", "user": "U0002", "text": "x"},
            "user_not_in_channel",
        ),
        ("users.info", {"user": "U4040"}, "user_not_found"),
        ("conversations.join", {"channel": "C0003"}, "method_not_supported_for_channel_type"),
        ("views.open", {"trigger_id": "1.2.abc", "view": "{}"}, "invalid_trigger_id"),
        ("chat.unknownThing", {}, "unknown_method"),
    ],
)
async def test_invalid_calls_fail_with_slacks_error_code(
    client: AsyncWebClient, method: str, args: dict[str, str], error: str
) -> None:
    for as_json in (False, True):
        with pytest.raises(SlackApiError) as caught:
            if as_json:
                await client.api_call(method, json=args)
            else:
                await client.api_call(method, data=args)
        assert caught.value.response["error"] == error


async def test_joining_a_public_channel_allows_posting_there(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    info = await client.conversations_info(channel="C0002")
    assert info["channel"]["is_member"] is False
    await client.conversations_join(channel="C0002")
    await client.chat_postMessage(channel="C0002", text="hello")
    assert [m.text for m in double.messages("random")] == ["hello"]


async def test_delete_removes_a_reply_and_decrements_the_count(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C0001", text="card")
    reply = await client.chat_postMessage(channel="C0001", text="r", thread_ts=parent["ts"])
    await client.chat_delete(channel="C0001", ts=reply["ts"])
    assert double.thread("C0001", parent["ts"]) == []
    assert double.message("C0001", parent["ts"]).reply_count == 0  # type: ignore[union-attr]


async def test_ephemeral_messages_are_kept_per_user(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    reply = await client.chat_postEphemeral(channel="C0001", user="U0002", text="only bob")
    assert reply["message_ts"]
    assert [e.text for e in double.ephemerals("U0002")] == ["only bob"]
    assert double.ephemerals("U0001") == []
    assert double.messages("C0001") == []


async def test_permalink_users_and_reactions(double: SlackDouble, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C0001", text="card")
    reply = await client.chat_postMessage(channel="C0001", text="r", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel="C0001", message_ts=reply["ts"])
    assert link["permalink"].endswith(
        f"/archives/C0001/p{reply['ts'].replace('.', '')}?thread_ts={parent['ts']}&cid=C0001"
    )
    user = await client.users_info(user="U0001")
    assert user["user"]["profile"]["display_name"] == "alice"
    await client.reactions_add(channel="C0001", timestamp=parent["ts"], name="rocket")
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel="C0001", timestamp=parent["ts"], name="rocket")


async def test_listeners_see_posts_and_updates_in_order(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    seen: list[SlackEvent] = []
    unsubscribe = double.on_event(seen.append)
    posted = await client.chat_postMessage(channel="C0001", text="a")
    await client.chat_update(channel="C0001", ts=posted["ts"], text="b")
    with pytest.raises(SlackApiError):
        await client.chat_update(
            channel="C0001", ts=posted["ts"], text="c", blocks=[{"type": "nope"}]
        )
    unsubscribe()
    await client.chat_postMessage(channel="C0001", text="unseen")

    assert [type(e) for e in seen] == [PostedMessage, UpdatedMessage]
    update = seen[1]
    assert isinstance(update, UpdatedMessage)
    assert (update.previous.text, update.message.text) == ("a", "b")


async def test_calls_record_method_arguments_and_response(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C0001", text="hello")
    method, args, response = double.calls_to("chat.postMessage")[0][:3]
    assert (method, args["text"], response["ok"]) == ("chat.postMessage", "hello", True)


async def test_wait_for_wakes_on_the_change_and_times_out_with_context(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    async def post_later() -> None:
        await client.chat_postMessage(channel="C0001", text="late")

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(post_later())
        found = await double.wait_for(lambda: double.messages("C0001"), timeout=5)
    assert found[0].text == "late"
    with pytest.raises(TimeoutError, match="chat.postMessage->ok"):
        await double.wait_for(lambda: len(double.messages("C0001")) > 1, timeout=0.2)


def _md(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


@pytest.mark.parametrize(
    ("channel", "args", "error"),
    [
        (Channel("C0009", "news", posting="read_only"), {}, "restricted_action_read_only_channel"),
        (
            Channel("C0009", "news", posting="threads_only"),
            {},
            "restricted_action_thread_only_channel",
        ),
        (Channel("C0009", "news", posting="restricted"), {}, "restricted_action"),
        (Channel("D0009", "a-b", is_im=True, is_member=False), {}, "channel_not_found"),
        (Channel("G0009", "hidden", is_private=True, is_member=False), {}, "channel_not_found"),
    ],
)
async def test_post_message_is_refused_where_slack_refuses_it(
    channel: Channel, args: dict[str, Any], error: str
) -> None:
    """https://docs.slack.dev/reference/methods/chat.postMessage ("Errors")."""
    async with SlackDouble(bot_token=TOKEN, channels=(channel,), users=USERS) as double:
        client = AsyncWebClient(token=TOKEN, base_url=double.base_url)
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel=channel.id, text="x", **args)
        assert caught.value.response["error"] == error
        assert double.messages(channel.id) == []


async def test_a_threads_only_channel_takes_replies_in_threads() -> None:
    """Posting in a thread needs a parent; an admin's message would be one."""
    channel = Channel("C0009", "news", posting="threads_only")
    async with SlackDouble(bot_token=TOKEN, channels=(channel,), users=USERS) as double:
        client = AsyncWebClient(token=TOKEN, base_url=double.base_url)
        await client.chat_postMessage(channel="C0009", text="reply", thread_ts="1.000001")
        assert double.calls_to("chat.postMessage")[-1].status == 200


async def test_a_dm_to_a_user_needs_the_messages_tab() -> None:
    """https://docs.slack.dev/surfaces/app-home: with the Messages tab off, users cannot be
    written to in the app's DM; chat.postMessage answers messages_tab_disabled."""
    async with (
        SlackDouble(bot_token=TOKEN, users=USERS) as off,
        SlackDouble(bot_token=TOKEN, users=USERS, messages_tab_enabled=True) as on,
    ):
        with pytest.raises(SlackApiError) as caught:
            await AsyncWebClient(token=TOKEN, base_url=off.base_url).chat_postMessage(
                channel="U0001", text="hello"
            )
        assert caught.value.response["error"] == "messages_tab_disabled"
        await AsyncWebClient(token=TOKEN, base_url=on.base_url).chat_postMessage(
            channel="U0001", text="hello"
        )
        assert [m.text for m in on.messages("DU0001")] == ["hello"]


def test_the_shipped_manifest_keeps_the_messages_tab_off() -> None:
    """The App Home answers in modals (docs/slack.md); the double follows the manifest."""
    shipped = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"
    assert manifest_settings(shipped) == {"messages_tab_enabled": False}
