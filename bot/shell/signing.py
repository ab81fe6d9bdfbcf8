"""Build Slack's inbound requests — slash commands, button clicks, events — signed like Slack.

The shell and the tests feed these to the bot's HTTP pipeline, so they must match what Slack sends
byte for byte in shape: a slash command is a form body in Slack's field order, an interaction is a
form body with one ``payload=<json>`` field, an event is a JSON ``event_callback``; each is signed
with ``v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")`` (slack_sdk ``SignatureVerifier``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
VERIFICATION_TOKEN = "krayne-verification-token"
"""The deprecated ``token`` field Slack still includes; Bolt ignores it when a secret is set."""
TEAM_DOMAIN = "krayne-test"
API_APP_ID = "A0KRAYNE"


def signed_headers(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    content_type: str = FORM,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: content type, request timestamp and signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
    }


def new_trigger_id() -> str:
    """A trigger_id in Slack's format (not registered with any double: views.open refuses it)."""
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def slash_command_body(
    *,
    command: str = "/krayne",
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    team_id: str,
    response_url: str,
    trigger_id: str | None = None,
) -> bytes:
    """The form body of a slash command invocation, fields in Slack's order."""
    fields = [
        ("token", VERIFICATION_TOKEN),
        ("team_id", team_id),
        ("team_domain", TEAM_DOMAIN),
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", API_APP_ID),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id or new_trigger_id()),
    ]
    return urlencode(fields).encode()


def block_actions_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    channel_id: str,
    channel_name: str,
    action: Mapping[str, Any],
    block_id: str,
    message_ts: str,
    message: Mapping[str, Any] | None = None,
    is_ephemeral: bool = False,
    response_url: str,
    trigger_id: str | None = None,
    thread_ts: str | None = None,
) -> bytes:
    """The ``payload=<json>`` form body of a click on ``action`` (a button element dict).

    Slack includes the whole ``message`` for in-channel messages and omits it for ephemeral
    ones (``container.is_ephemeral``)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": is_ephemeral,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    clicked = _clicked(action, block_id)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [clicked],
    }
    if message is not None and not is_ephemeral:
        payload["message"] = dict(message)
    return urlencode([("payload", json.dumps(payload, separators=(",", ":")))]).encode()


def _clicked(action: Mapping[str, Any], block_id: str) -> dict[str, Any]:
    """The ``actions[0]`` entry Slack sends for a click on a button element."""
    clicked: dict[str, Any] = {
        "action_id": action.get("action_id", ""),
        "block_id": block_id,
        "type": action.get("type", "button"),
        "action_ts": f"{time.time():.6f}",
    }
    for key in ("text", "value", "style"):
        if key in action:
            clicked[key] = action[key]
    return clicked


def home_actions_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    action: Mapping[str, Any],
    block_id: str,
    view: Mapping[str, Any],
    trigger_id: str | None = None,
) -> bytes:
    """A click on ``action`` in the App Home: the container is the ``view``, and Slack sends
    neither a channel nor a ``response_url`` (the answer must go elsewhere)."""
    clicked = _clicked(action, block_id)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view.get("id", "")},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": dict(view),
        "actions": [clicked],
    }
    return urlencode([("payload", json.dumps(payload, separators=(",", ":")))]).encode()


def event_body(
    event: Mapping[str, Any],
    *,
    team_id: str,
    bot_user_id: str,
    event_id: str | None = None,
    event_time: int | None = None,
) -> bytes:
    """A JSON ``event_callback`` envelope around ``event`` (e.g. ``app_home_opened``)."""
    now = int(time.time()) if event_time is None else event_time
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": secrets.token_hex(16),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def app_home_opened_event(user_id: str, *, tab: str = "home") -> dict[str, Any]:
    """The ``app_home_opened`` event Slack sends when ``user_id`` opens the bot's App Home."""
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": f"D{user_id}",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def view_submission_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    view: Mapping[str, Any],
    values: Mapping[str, str | list[str]],
) -> bytes:
    """The ``payload=<json>`` body of a submitted modal, as Slack sends it
    (https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload): the
    opened ``view`` with ``state.values[block_id][action_id]`` filled from ``values`` (text for
    a text input, the chosen option values for checkboxes)."""
    state: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        block_id, action_id = block.get("block_id"), element.get("action_id")
        if block.get("type") != "input" or not block_id or not action_id:
            continue
        given = values.get(block_id)
        if element.get("type") == "checkboxes":
            chosen = given if isinstance(given, list) else [
                o["value"] for o in element.get("initial_options", [])
            ]
            options = [o for o in element.get("options", []) if o["value"] in chosen]
            state[block_id] = {action_id: {"type": "checkboxes", "selected_options": options}}
        else:
            text = given if isinstance(given, str) and given else None
            state[block_id] = {action_id: {"type": element.get("type"), "value": text}}
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {**view, "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode([("payload", json.dumps(payload, separators=(",", ":")))]).encode()
