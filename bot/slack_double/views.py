"""Views in the Slack double: the App Home (views.publish) and modals (views.open, views.update).

A modal is opened with a ``trigger_id`` that expires three seconds after the click and works
once (https://docs.slack.dev/interactivity/handling-user-interaction); it is then updated by
its view id (https://docs.slack.dev/reference/methods/views.update). Payloads are checked
against Block Kit's limits for their surface (``limits.validate_view``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from bot.slack_double.limits import validate_view
from bot.slack_double.records import SlackError, ViewOpened, ViewPublished
from bot.slack_double.workspace import Workspace, decode_json, required_arg


def render_view(ws: Workspace, args: dict[str, Any], *, kind: str) -> dict[str, Any]:
    view = decode_json(required_arg(args, "view"), "invalid_arguments")
    problems = validate_view(view)
    if not problems and view.get("type") != kind:
        problems = [f"[ERROR] must be {kind} [json-pointer:/view/type]"]
    if problems:
        raise SlackError("invalid_arguments", messages=problems)
    return {
        **view,
        "id": f"V{secrets.token_hex(5).upper()}",
        "team_id": ws.team_id,
        "bot_id": ws.bot_id,
        "blocks": ws.with_block_ids(view.get("blocks", [])),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
    }


def publish_view(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = ws.user(required_arg(args, "user_id"))
    history = ws.views.setdefault(user.id, [])
    expected = args.get("hash")
    if expected and history and history[-1]["hash"] != expected:
        raise SlackError("hash_conflict")
    view = render_view(ws, args, kind="home")
    history.append(view)
    ws.pending.append(ViewPublished(user.id, view))
    return view


def open_view(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    issued = ws.triggers.pop(required_arg(args, "trigger_id"), None)
    if issued is None:
        raise SlackError("invalid_trigger_id")
    deadline, user_id = issued
    if time.monotonic() > deadline:  # "triggers expire in three seconds", used once:
        # https://docs.slack.dev/interactivity/handling-user-interaction
        raise SlackError("expired_trigger_id")
    view = render_view(ws, args, kind="modal")
    ws.modals[view["id"]] = (user_id, view)
    ws.pending.append(ViewOpened(user_id, view))
    return view


def update_view(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """views.update of an open modal, by ``view_id`` (``not_found`` for any other id;
    ``hash_conflict`` when a given ``hash`` is stale):
    https://docs.slack.dev/reference/methods/views.update"""
    view_id = required_arg(args, "view_id")
    if view_id not in ws.modals:
        raise SlackError("not_found")
    user_id, current = ws.modals[view_id]
    expected = args.get("hash")
    if expected and current["hash"] != expected:
        raise SlackError("hash_conflict")
    view = {**render_view(ws, args, kind="modal"), "id": view_id}
    ws.modals[view_id] = (user_id, view)
    ws.pending.append(ViewOpened(user_id, view))
    return view
