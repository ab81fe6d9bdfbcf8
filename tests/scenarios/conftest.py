"""Fixtures: the sandbox Kubernetes (own thread), the Slack double, and the bot serving HTTP.

Nothing is patched: the bot talks to the sandbox's API server through kubernetes-asyncio and to
the double through slack_sdk's AsyncWebClient, and the tests talk to the bot over HTTP.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.readiness import ReadinessSettings
from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.slack_double.inputs import manifest_settings
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox, running_sandbox
from tests.scenarios.harness import SECRET, SlackClient

SPEED = 40.0
#: The shortest Lease kubernetes-asyncio accepts: a killed leader's successor starts in ~2 s.
SHORTEST_LEASE = {"lease_duration": 2, "renew_deadline": 1.5, "retry_period": 1.0}
"""The sandbox runs 40× faster than real time: image pulls and probes take well under a second.
The Slack double's rate limits (on, as in Slack) run at the same speed."""

SHIPPED_MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"
"""The app manifest as shipped: the double takes its App Home settings from it."""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    with running_sandbox(speed=SPEED) as running:
        yield running


@pytest.fixture
async def namespace(sandbox: ThreadedSandbox) -> str:
    """A namespace of the test's own, so clusters of earlier tests never show up in its bot."""
    name = f"t-{secrets.token_hex(4)}"
    await asyncio.to_thread(sandbox.store.create, "namespaces", {"metadata": {"name": name}})
    return name


@pytest.fixture
async def double() -> AsyncIterator[SlackDouble]:
    async with SlackDouble(time_scale=SPEED, **manifest_settings(SHIPPED_MANIFEST)) as running:
        yield running


def bot_settings(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str, **extra: object
) -> BotSettings:
    return BotSettings.load(
        {
            "slack_bot_token": double.bot_token,
            "slack_signing_secret": SECRET,
            "slack_api_url": double.base_url,
            "kubeconfig": str(sandbox.kubeconfig_path),
            "namespace": namespace,
            "host": "127.0.0.1",
            "port": 0,
            "card_interval": 0.05,
            "slack_rate_scale": SPEED,
            "drain_timeout": 5.0,
            **extra,
        }
    ).faster(SPEED)


class RunningBot:
    """A ``BotRuntime`` running in a task; ``restart()`` simulates a new pod of the bot."""

    def __init__(
        self,
        settings: BotSettings,
        *,
        readiness: ReadinessSettings | None = None,
        home_debounce: float = 0.1,
    ) -> None:
        self.settings = settings
        self._readiness = readiness
        self._home_debounce = home_debounce
        self.runtime = self._new_runtime()
        self._task: asyncio.Task[None] | None = None

    def _new_runtime(self) -> BotRuntime:
        return BotRuntime(
            self.settings, readiness=self._readiness, home_debounce=self._home_debounce
        )

    async def start(self) -> None:
        self.runtime = self._new_runtime()
        self._task = asyncio.create_task(self.runtime.run(), name="bot-under-test")
        started = asyncio.create_task(self.runtime.started.wait())
        done, _ = await asyncio.wait(
            {self._task, started}, timeout=30, return_when="FIRST_COMPLETED"
        )
        if started not in done:
            started.cancel()
            await asyncio.gather(started, return_exceptions=True)
            if self._task.done():
                self._task.result()
            raise TimeoutError("the bot did not start within 30 s")
        assert self.runtime.watcher is not None
        await self.runtime.watcher.wait_synced(30)

    async def crash(self) -> None:
        """Die as under SIGKILL: no drain, queued Slack messages lost with the process."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def stop(self) -> None:
        if self._task is None:
            return
        self.runtime.stop()
        try:
            async with asyncio.timeout(30):
                await self._task
        finally:
            self._task = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.runtime.http_port}"


@pytest.fixture
def bot_extra() -> dict[str, object]:
    """Settings a test module adds to every bot it starts (override the fixture)."""
    return {}


@pytest.fixture
async def bot(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str, bot_extra: dict[str, object]
) -> AsyncIterator[RunningBot]:
    running = RunningBot(bot_settings(sandbox, double, namespace, **bot_extra))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def slack(bot: RunningBot, double: SlackDouble) -> AsyncIterator[SlackClient]:
    async with aiohttp.ClientSession() as session:
        yield SlackClient(double, f"{bot.url}/slack/events", session)
