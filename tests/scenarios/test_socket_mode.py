"""Socket Mode: the same app answers a slash command that arrives over Slack's WebSocket.

A small stand-in for Slack's Socket Mode endpoints (``apps.connections.open`` and the
WebSocket) runs on port 0; slack_sdk's own aiohttp SocketModeClient connects to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from bot.runtime import BotRuntime
from bot.settings import BotSettings
from core.sandbox.runner import ThreadedSandbox


class SocketModeSlack:
    """Answers auth.test and apps.connections.open; pushes envelopes over the WebSocket."""

    def __init__(self) -> None:
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self._outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self.root = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/ws", self._socket)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def send(self, envelope: dict[str, Any]) -> None:
        self._outgoing.put_nowait(envelope)

    async def _auth_test(self, _: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "user_id": "UBOT", "bot_id": "B0BOT", "team_id": "T0001", "user": "krayne"}
        )

    async def _open(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer xapp-test"
        return web.json_response({"ok": True, "url": self.root.replace("http", "ws") + "/ws"})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        self.connected.set()

        async def push() -> None:
            while True:
                await ws.send_json(await self._outgoing.get())

        pusher = asyncio.create_task(push())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.answers.put_nowait(json.loads(message.data))
        finally:
            pusher.cancel()
            await asyncio.gather(pusher, return_exceptions=True)
        return ws


@pytest.fixture
async def fake_slack() -> AsyncIterator[SocketModeSlack]:
    slack = SocketModeSlack()
    await slack.start()
    yield slack
    await slack.stop()



def socket_mode_settings(
    fake_slack: SocketModeSlack, sandbox: ThreadedSandbox, namespace: str, **extra: object
) -> BotSettings:
    """A Socket Mode bot talking to ``fake_slack`` and the sandbox."""
    return BotSettings.load(
        {
            "slack_bot_token": "xoxb-test",
            "slack_app_token": "xapp-test",
            "slack_api_url": fake_slack.root + "/api/",
            "socket_mode": True,
            "host": "127.0.0.1",
            "port": 0,
            "drain_timeout": 1.0,
            "kubeconfig": str(sandbox.kubeconfig_path),
            "namespace": namespace,
            **extra,
        }
    )

async def test_a_slash_command_over_socket_mode_is_acknowledged_with_the_help(
    fake_slack: SocketModeSlack, sandbox: ThreadedSandbox, namespace: str
) -> None:
    settings = socket_mode_settings(fake_slack, sandbox, namespace)
    runtime = BotRuntime(settings)
    task = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(30):
            await fake_slack.connected.wait()
        fake_slack.send(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0001",
                    "channel_id": "C0001",
                    "user_id": "U0001",
                    "command": "/krayne",
                    "text": "help",
                    "response_url": fake_slack.root + "/response",
                    "trigger_id": "1.2.3",
                },
            }
        )
        async with asyncio.timeout(30):
            answer = await fake_slack.answers.get()
        assert answer["envelope_id"] == "env-1"
        assert "/krayne create" in answer["payload"]["text"]
    finally:
        runtime.stop()
        async with asyncio.timeout(30):
            await task
