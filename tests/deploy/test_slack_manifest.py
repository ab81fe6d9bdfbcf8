"""The Slack app manifests paste cleanly and ask for exactly what the bot uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.transport import EVENTS_PATH
from tests.deploy.deployfiles import DEPLOY, ROOT, load_documents

HTTP = DEPLOY / "slack-app-manifest.yaml"
SOCKET = DEPLOY / "slack-app-manifest.socket-mode.yaml"
MANIFESTS = {"http": HTTP, "socket-mode": SOCKET}

# Slack's manifest schema (the fields of @slack/web-api's Manifest type) for the parts we use:
# a misspelt key is silently dropped by some tools and refused by Slack, so refuse it here.
SCHEMA: dict[str, Any] = {
    "_metadata": {"major_version": int, "minor_version": int},
    "display_information": {
        "name": str, "description": str, "background_color": str, "long_description": str,
    },
    "features": {
        "app_home": {
            "home_tab_enabled": bool, "messages_tab_enabled": bool,
            "messages_tab_read_only_enabled": bool,
        },
        "bot_user": {"display_name": str, "always_online": bool},
        "slash_commands": [
            {"command": str, "description": str, "url": str, "usage_hint": str,
             "should_escape": bool},
        ],
    },
    "oauth_config": {"scopes": {"bot": [str]}},
    "settings": {
        "event_subscriptions": {"request_url": str, "bot_events": [str]},
        "interactivity": {"is_enabled": bool, "request_url": str},
        "org_deploy_enabled": bool,
        "socket_mode_enabled": bool,
        "token_rotation_enabled": bool,
    },
}

# Bot-token scope each Slack Web API method needs (None: no scope). A method the bot starts
# calling must be added here, and its scope to both manifests.
METHOD_SCOPES: dict[str, str | None] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "users.info": "users:read",
    "views.publish": None,
    "views.open": None,
    "views.update": None,
    "auth.test": None,
    "conversations.replies": "channels:history",
    # docs.slack.dev/reference/methods/conversations.history: the same scope as .replies
    "conversations.history": "channels:history",
}
# The Slack double and its bookkeeping implement the API; they are not the bot calling it.
DOUBLE_MODULES = re.compile(r"^slack_")
_FAMILIES = "chat|views|users|conversations|reactions|team|auth|files|bots|apps|usergroups"
_QUOTED = re.compile(rf"[\"']((?:{_FAMILIES})\.[A-Za-z]+)[\"']")
_CALLED = re.compile(rf"client\.((?:{_FAMILIES})_[a-z_]+)\(")


def _snake_to_method(name: str) -> str:
    family, _, rest = name.partition("_")
    head, *tail = rest.split("_")
    return f"{family}.{head}{''.join(t.capitalize() for t in tail)}"


def _methods_the_bot_calls() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "bot").glob("*.py")):
        if DOUBLE_MODULES.match(path.name):
            continue
        text = path.read_text()
        methods = set(_QUOTED.findall(text)) | {_snake_to_method(m) for m in _CALLED.findall(text)}
        for method in methods:
            found.setdefault(method, []).append(path.name)
    return found


def _check(value: Any, schema: Any, where: str) -> None:
    if isinstance(schema, dict):
        assert isinstance(value, dict), f"{where}: expected a mapping"
        unknown = set(value) - set(schema)
        assert not unknown, f"{where}: keys Slack does not know: {sorted(unknown)}"
        for key, item in value.items():
            _check(item, schema[key], f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            _check(item, schema[0], f"{where}[{i}]")
    else:
        assert isinstance(value, schema), f"{where}: expected {schema.__name__}"


def _manifest(path: Path) -> dict[str, Any]:
    (doc,) = load_documents(path)
    return doc


@pytest.mark.parametrize("variant", sorted(MANIFESTS))
def test_manifest_fits_slacks_schema_and_limits(variant: str) -> None:
    manifest = _manifest(MANIFESTS[variant])
    _check(manifest, SCHEMA, "manifest")
    info = manifest["display_information"]
    assert len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])


@pytest.mark.parametrize("variant", sorted(MANIFESTS))
def test_manifest_declares_the_command_interactivity_and_home_tab(variant: str) -> None:
    manifest = _manifest(MANIFESTS[variant])
    features, settings = manifest["features"], manifest["settings"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/krayne"
    for subcommand in ("create", "list", "describe", "scale", "delete", "help"):
        assert subcommand in command["usage_hint"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is (variant == "socket-mode")


def test_http_manifest_sends_everything_to_the_bots_events_endpoint() -> None:
    manifest = _manifest(HTTP)
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert len(set(urls)) == 1
    assert urls[0].startswith("https://") and urls[0].endswith(EVENTS_PATH)


def test_socket_mode_manifest_has_no_request_urls() -> None:
    assert "url" not in SOCKET.read_text().replace("usage_hint", "")


def test_subscribed_events_are_exactly_the_ones_the_bot_listens_to() -> None:
    listened = set()
    for path in (ROOT / "bot").glob("*.py"):
        listened |= set(re.findall(r"\.event\(\s*[\"']([a-z_]+)[\"']", path.read_text()))
    assert "app_home_opened" in listened
    for path in MANIFESTS.values():
        assert set(_manifest(path)["settings"]["event_subscriptions"]["bot_events"]) == listened


def test_bot_scopes_are_exactly_what_the_bots_web_api_calls_need() -> None:
    calls = _methods_the_bot_calls()
    assert "chat.postMessage" in calls, "the scan found none of the bot's Web API calls"
    unknown = {m: files for m, files in calls.items() if m not in METHOD_SCOPES}
    assert not unknown, f"add these methods' scopes to METHOD_SCOPES and the manifests: {unknown}"
    needed = {"commands"} | {s for m in calls if (s := METHOD_SCOPES[m]) is not None}
    for path in MANIFESTS.values():
        assert sorted(_manifest(path)["oauth_config"]["scopes"]["bot"]) == sorted(needed)


def test_manifests_differ_only_in_how_slack_reaches_the_bot() -> None:
    http, socket = _manifest(HTTP), _manifest(SOCKET)
    for doc in (http, socket):
        doc["features"]["slash_commands"][0].pop("url", None)
        doc["settings"]["event_subscriptions"].pop("request_url", None)
        doc["settings"]["interactivity"].pop("request_url", None)
        doc["settings"].pop("socket_mode_enabled")
    assert http == socket
