"""What the Slack double reads from outside: Web API request arguments, and the settings of a
Slack app manifest that change how Slack treats the app (its App Home's Messages tab)."""

from __future__ import annotations

import os
from typing import Any

import yaml
from aiohttp import web


def manifest_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``SlackDouble`` arguments an app manifest decides (its App Home's Messages tab)."""
    with open(path, encoding="utf-8") as handle:
        manifest = yaml.safe_load(handle)
    app_home = ((manifest.get("features") or {}).get("app_home")) or {}
    return {"messages_tab_enabled": bool(app_home.get("messages_tab_enabled", False))}


async def read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Arguments from the query string plus a form or JSON body; the token from either place.

    Like Slack, a JSON body must carry the token in the Authorization header."""
    args: dict[str, Any] = dict(request.query)
    body_token = None
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            args.update(body)
            args.pop("token", None)
    elif request.can_read_body:
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
        body_token = args.pop("token", None)
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    return args, token or body_token or args.pop("token", None)
