"""Thin adapters between the outside world and the one Bolt app (bolt's own aiohttp adapter
functions translate requests; nothing else happens here).

- ``dispatch_http``: raw body + headers in, (status, headers, body) out — the shell's path.
- ``http_application``: aiohttp app with ``POST /slack/events`` (not in Socket Mode) plus
  ``/healthz``, ``/readyz`` (Kubernetes reachable lately and watches synced; a 503 says why)
  and ``/metrics`` (the runtime's own registry).
- ``serve_http`` / ``serve_socket_mode``: run until cancelled, then close what they opened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.priority import AckFirst

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


async def dispatch_http(
    app: AsyncApp, body: bytes, headers: Mapping[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """Run one Slack request through ``app`` exactly as the HTTP endpoint would."""
    request = AsyncBoltRequest(
        body=body.decode("utf-8"), headers={k.lower(): [v] for k, v in headers.items()}
    )
    response = await app.async_dispatch(request)
    return response.status, response.first_headers_without_set_cookie(), response.body.encode()


def http_application(
    app: AsyncApp, *, not_ready: Callable[[], str | None], metrics: Metrics, events: bool = True,
    acks: AckFirst | None = None,
) -> web.Application:
    """``not_ready()`` gives the reason the bot is not ready, or None when it is. ``events=False``
    (Socket Mode) leaves ``POST /slack/events`` out: Slack sends nothing there, and an endpoint
    nobody needs is one more way in. ``acks`` is told while a request is being acknowledged
    (slow halves wait for it)."""
    web_app = web.Application()
    acks = acks or AckFirst()

    async def events_endpoint(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        with acks.acking():
            bolt_request = await to_bolt_request(request)
            bolt_response = await app.async_dispatch(bolt_request)
            metrics.ack_seconds.observe(time.perf_counter() - started)
            return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        problem = not_ready()
        if problem is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {problem}\n")

    async def metrics_endpoint(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = metrics.content_type
        return response

    if events:
        web_app.router.add_post(EVENTS_PATH, events_endpoint)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics_endpoint)
    return web_app


async def serve_http(
    web_app: web.Application,
    *,
    host: str,
    port: int,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Serve ``web_app`` until cancelled; ``on_started`` receives the bound port (port 0 works)."""
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        log.info("listening on http://%s:%d%s", host, bound, EVENTS_PATH)
        if on_started:
            on_started(bound)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def serve_socket_mode(app: AsyncApp, *, app_token: str, client: AsyncWebClient) -> None:
    """Receive Slack's requests over a Socket Mode WebSocket until cancelled."""
    handler = AsyncSocketModeHandler(app, app_token, web_client=client)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
        await asyncio.Event().wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
