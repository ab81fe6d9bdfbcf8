"""The Bolt ``AsyncApp`` of krayne-bot and the Slack Web API client it talks through.

One app serves every transport (HTTP, Socket Mode, the shell). ``process_before_response`` is
off: Bolt answers Slack as soon as a listener calls ``ack`` and the listener's slow work runs in
tasks the runtime owns. The Web API client's base URL is a setting, so tests and the shell point
it at the local Slack double.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import middleware
from bot.commands import Commands
from bot.home import HomeTabs
from bot.listeners import ListenerDeps, Spawn, register
from bot.metrics import Metrics
from bot.outbox import RateLimited, Result, Sender, TransientSendError
from bot.settings import BotSettings

WEB_TIMEOUT = 15
"""Seconds per Web API call; chat.* answers in well under a second when Slack is healthy."""


def build_web_client(settings: BotSettings) -> AsyncWebClient:
    """The Web API client: one in-client retry for 429/5xx/connection errors; the outbox does
    the rest (it waits out Retry-After itself and never drops a message)."""
    return AsyncWebClient(
        token=settings.secret("bot_token"),
        base_url=settings.slack_api_url,
        timeout=WEB_TIMEOUT,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def build_app(
    settings: BotSettings,
    *,
    commands: Commands,
    spawn: Spawn,
    client: AsyncWebClient,
    metrics: Metrics,
    home: HomeTabs | None = None,
) -> AsyncApp:
    """An ``AsyncApp`` that verifies signatures (401 on a bad or stale one) and runs krayne:
    its middleware (retries, error guard) around its listeners."""
    app = AsyncApp(
        signing_secret=settings.secret("signing_secret"),
        client=client,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("bot.bolt"),
    )
    middleware.install(app, metrics=metrics)
    register(app, ListenerDeps(commands=commands, spawn=spawn, metrics=metrics, home=home))
    return app


def _retry_after(err: SlackApiError) -> float:
    headers: dict[str, Any] = dict(err.response.headers or {})
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 0.0)
            except ValueError:
                break
    return 1.0


def web_sender(client: AsyncWebClient) -> Sender:
    """The outbox's sender over the Web API: maps Slack's answers to the outbox's signals."""

    async def send(method: str, args: dict[str, Any]) -> Result:
        try:
            response = await client.api_call(method, json=args)
        except SlackApiError as err:
            status = err.response.status_code
            if status == 429:
                raise RateLimited(_retry_after(err)) from err
            if status >= 500:
                raise TransientSendError(f"{method}: HTTP {status}") from err
            raise
        except (TimeoutError, aiohttp.ClientError) as err:
            raise TransientSendError(f"{method}: {type(err).__name__}") from err
        return dict(response.data) if isinstance(response.data, dict) else {}

    return send


class UserNames:
    """Slack user id → display name for list tables, cached for ``ttl`` seconds.

    A burst of `/krayne list` used to send one ``users.info`` per list for a name not cached
    yet (and again for every list after a failure): one lookup per user is in flight at a time
    and every caller shares it; a failure is remembered for ``retry_after`` seconds."""

    def __init__(
        self, client: AsyncWebClient, *, ttl: float = 3600.0, retry_after: float = 60.0
    ) -> None:
        self._client = client
        self.ttl, self.retry_after = ttl, retry_after
        self._names: dict[str, tuple[float, str | None]] = {}  # user -> (expires, name)
        self._pending: dict[str, asyncio.Future[str | None]] = {}

    async def __call__(self, users: list[str]) -> dict[str, str]:
        now = asyncio.get_running_loop().time()
        fresh = {u for u in users if u in self._names and self._names[u][0] > now}
        lookups = [self._lookup(u) for u in dict.fromkeys(users) if u not in fresh]
        await asyncio.gather(*lookups)
        found = {u: self._names[u][1] for u in users if u in self._names}
        return {u: name for u, name in found.items() if name}

    async def _lookup(self, user: str) -> None:
        pending = self._pending.get(user)
        if pending is None:
            pending = self._pending[user] = asyncio.ensure_future(self._fetch(user))
            pending.add_done_callback(lambda _: self._pending.pop(user, None))
        await asyncio.shield(pending)

    async def _fetch(self, user: str) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            result = await self._client.users_info(user=user)
        except Exception:  # names are a nicety: the last one known (or the id) until the retry
            known = self._names.get(user, (0.0, None))[1]
            self._names[user] = (loop.time() + self.retry_after, known)
            return known
        profile = (result.get("user") or {}).get("profile") or {}
        name = profile.get("display_name") or (result.get("user") or {}).get("name")
        self._names[user] = (loop.time() + self.ttl, str(name) if name else None)
        return str(name) if name else None
