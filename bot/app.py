"""The Bolt ``AsyncApp`` of krayne-bot and the Slack Web API client it talks through.

One app serves every transport (HTTP, Socket Mode, the shell). ``process_before_response`` is
off: Bolt answers Slack as soon as a listener calls ``ack`` and the listener's slow work runs in
tasks the runtime owns. The Web API client's base URL is a setting, so tests and the shell point
it at the local Slack double.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import middleware
from bot.commands import Commands
from bot.home import HomeTabs
from bot.listeners import ListenerDeps, Spawn, register
from bot.metrics import Metrics
from bot.outbox import RateLimited, Result, Sender, TransientSendError
from bot.pacing import Pacer
from bot.settings import BotSettings
from core.errors import KrayneError


def build_web_client(settings: BotSettings, *, for_outbox: bool = False) -> AsyncWebClient:
    """The Web API client: one in-client retry for 429/5xx/connection errors; the outbox does
    the rest (it waits out Retry-After itself and never drops a message). The outbox's own
    client retries only 429s (Slack refused, nothing was done): after a 5xx or a dropped
    connection Slack may have posted the message anyway, so the outbox looks for it first
    (``bot.readback``) and re-sends only what Slack does not have."""
    handlers: list[AsyncRetryHandler] = [AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    if not for_outbox:
        handlers = [
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            *handlers,
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ]
    return AsyncWebClient(
        token=settings.secret("bot_token"),
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout,
        retry_handlers=handlers,
    )


class SigningSecretMissingError(KrayneError):
    """No usable signing secret: Bolt would verify requests with ``""`` as the key, so anyone
    could forge a request that passes. The bot refuses to start instead."""

    default_hint = (
        "Set SLACK_SIGNING_SECRET to the Signing Secret under Basic Information in your Slack"
        " app's settings."
    )


def signing_secret(settings: BotSettings) -> str:
    """The secret Bolt verifies HTTP requests with. Empty or blank stops the bot; in Socket
    Mode (Slack signs nothing and ``/slack/events`` is not served) a missing one is replaced by
    a random key, so nothing signed with ``""`` can ever pass."""
    value = settings.secret("signing_secret") or ""
    if value.strip():
        return value
    if settings.socket_mode:
        return secrets.token_hex(32)
    raise SigningSecretMissingError(
        "SLACK_SIGNING_SECRET is empty or missing: without it anyone could send the bot requests."
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
    its middleware (retries, error guard) around its listeners. ``SigningSecretMissingError`` if
    the signing secret is empty (outside Socket Mode)."""
    app = AsyncApp(
        signing_secret=signing_secret(settings),
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


async def web_call(method: str, call: Awaitable[AsyncSlackResponse]) -> Result:
    """Await one Web API call, Slack's answers mapped to the outbox's signals: ``RateLimited``
    (429), ``TransientSendError`` (5xx, timeout, connection), ``SlackApiError`` (refused)."""
    try:
        response = await call
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


def web_sender(client: AsyncWebClient) -> Sender:
    """The outbox's sender over the Web API."""

    async def send(method: str, args: dict[str, Any]) -> Result:
        return await web_call(method, client.api_call(method, json=args))

    return send


class UserNames:
    """Slack user id → display name, cached (for list tables and for naming people without a
    ping). users.info is Tier 4 (https://docs.slack.dev/reference/methods/users.info): the
    ids not cached yet are asked one after another through ``pacer``, never all at once, and
    an id Slack does not know is remembered as unknown for ``ttl`` seconds too."""

    def __init__(
        self, client: AsyncWebClient, *, pacer: Pacer | None = None, ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._client = client
        self._pacer = pacer or Pacer()
        self._ttl = ttl
        self._clock = clock
        self._names: dict[str, tuple[str | None, float]] = {}
        self._lock = asyncio.Lock()

    def _cached(self, user: str) -> tuple[str | None, bool]:
        name, until = self._names.get(user, (None, 0.0))
        return name, until > self._clock()

    async def __call__(self, users: list[str]) -> dict[str, str]:
        async with self._lock:  # one lookup per id, even when two callers ask at once
            for user in dict.fromkeys(users):
                if self._cached(user)[1]:
                    continue
                await self._pacer.wait("users.info")
                try:
                    result = await self._client.users_info(user=user)
                except SlackApiError as err:
                    if err.response.status_code == 429:
                        break  # names are a nicety: ids are shown until the next call
                    self._names[user] = (None, self._clock() + self._ttl)
                    continue
                found = result.get("user") or {}
                profile = found.get("profile") or {}
                name = profile.get("display_name") or found.get("real_name") or found.get("name")
                self._names[user] = (str(name) if name else None, self._clock() + self._ttl)
        names = {u: self._cached(u)[0] for u in users}
        return {u: n for u, n in names.items() if n}
