"""The Web API methods the Slack double answers, with Slack's argument handling and responses.

Each handler turns parsed arguments into the method's success body (without ``ok``) or raises
``SlackError`` with the documented error code (api.slack.com/methods/<method>).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.slack_double import views
from bot.slack_double.records import SlackError
from bot.slack_double.workspace import Workspace, required_arg

Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]


def auth_test(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    del args
    return {
        "url": "https://krayne-test.slack.com/",
        "team": "Krayne Test",
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.postable_channel(args.get("channel"), args)
    message = ws.post(channel, args)
    return {"channel": channel.id, "ts": message.ts, "message": message.to_api(ws.team_id)}


def chat_update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.member_channel(args.get("channel"))
    message = ws.update(channel, required_arg(args, "ts"), args)
    return {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(ws.team_id),
    }


def chat_delete(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.member_channel(args.get("channel"))
    message = ws.delete(channel, required_arg(args, "ts"))
    return {"channel": channel.id, "ts": message.ts}


def chat_post_ephemeral(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.member_channel(args.get("channel"))
    user = ws.user(required_arg(args, "user"))
    if not channel.has_user(user.id):
        raise SlackError("user_not_in_channel")
    return {"message_ts": ws.ephemeral(channel, user.id, args).ts}


def chat_get_permalink(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    message = ws.find(channel.id, required_arg(args, "message_ts"))
    link = f"https://krayne-test.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


def conversations_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"channel": ws.channel(args.get("channel")).to_api()}


def conversations_join(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_member:
        return {"channel": channel.to_api(), "warning": "already_in_channel"}
    joined = ws.channels[channel.id] = replace(channel, is_member=True)
    return {"channel": joined.to_api()}


def conversations_replies(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.member_channel(args.get("channel"))
    parent = ws.find(channel.id, required_arg(args, "ts"))
    root = parent.thread_ts or parent.ts
    store = ws.messages[channel.id]
    thread = [m for m in store.values() if m.ts == root or (m.is_reply and m.thread_ts == root)]
    messages = _with_metadata_if_asked([m.to_api(ws.team_id) for m in thread], args)
    return {"messages": messages, "has_more": False}


def conversations_history(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.member_channel(args.get("channel"))
    top = [m for m in ws.messages[channel.id].values() if not m.is_reply]
    limit = int(args.get("limit") or 100)
    newest_first = [m.to_api(ws.team_id) for m in reversed(top)][:limit]
    return {"messages": _with_metadata_if_asked(newest_first, args), "has_more": len(top) > limit}


def _with_metadata_if_asked(
    messages: list[dict[str, Any]], args: dict[str, Any]
) -> list[dict[str, Any]]:
    """Metadata comes back only when asked for with include_all_metadata
    (https://docs.slack.dev/reference/methods/conversations.replies, and .history)."""
    if str(args.get("include_all_metadata", "")).lower() not in ("true", "1"):
        for message in messages:
            message.pop("metadata", None)
    return messages


def users_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"user": ws.user(args.get("user")).to_api(ws.team_id)}


def views_publish(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"view": views.publish_view(ws, args)}


def views_open(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"view": views.open_view(ws, args)}


def views_update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"view": views.update_view(ws, args)}


def reactions_add(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.member_channel(args.get("channel"))
    ws.react(channel, required_arg(args, "timestamp"), args.get("name"))
    return {}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "conversations.info": conversations_info,
    "conversations.join": conversations_join,
    "conversations.replies": conversations_replies,
    "conversations.history": conversations_history,
    "users.info": users_info,
    "views.publish": views_publish,
    "views.open": views_open,
    "views.update": views_update,
    "reactions.add": reactions_add,
}
