"""The bot's HTTP face: signatures, acks within 3 s, usage errors, retries, health and metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.readiness import ReadinessSettings
from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.conftest import RunningBot, bot_settings
from tests.scenarios.harness import SlackClient, rayclusters, wait_created


async def test_health_readiness_and_metrics(bot: RunningBot, slack: SlackClient) -> None:
    session = slack.session
    async with session.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
    async with session.get(f"{bot.url}/readyz") as response:
        assert response.status == 200
    await slack.slash("help")
    async with session.get(f"{bot.url}/metrics") as response:
        body = await response.text()
        assert response.status == 200
        assert 'krayne_commands_total{command="help",outcome="ok"} 1.0' in body


@pytest.mark.parametrize(
    ("case", "timestamp_offset", "secret"),
    [("wrong signature", 0, "not-the-secret"), ("stale timestamp", -301, None)],
)
async def test_unsigned_or_stale_requests_get_401_and_run_nothing(
    slack: SlackClient,
    double: SlackDouble,
    sandbox: ThreadedSandbox,
    case: str,
    timestamp_offset: int,
    secret: str | None,
    namespace: str,
) -> None:
    body = slack.command_body("create sneaky --gpus 1")
    answer = await slack.post(body, timestamp=int(time.time()) + timestamp_offset, secret=secret)
    assert answer.status == 401, case
    assert not any(c["metadata"]["name"] == "sneaky" for c in await rayclusters(sandbox, namespace))
    assert double.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("text", ["", "help"])
async def test_krayne_alone_or_help_shows_help_with_examples(slack: SlackClient, text: str) -> None:
    answer = await slack.slash(text)
    assert answer.status == 200
    assert answer.body["response_type"] == "ephemeral"  # type: ignore[index]
    assert "/krayne create" in answer.text and "/krayne list" in answer.text


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("create Bad_Name!", "name"),
        ("create " + "a" * 54, "53"),
        ("create 1demo", "letter"),
        ("create demo --gpus -1", "gpus"),
        ("create demo --gpus 1e9", "gpus"),
        ("create demo --cpus lots", "cpus"),
        ("create demo --memory 4Zi", "memory"),
        ("create demo --min-workers 3 --workers 1", "min"),
        ("create -n ml", "name"),  # `create` alone opens the form
        ("scale demo", "workers"),
        ("frobnicate", "frobnicate"),
    ],
)
async def test_malformed_commands_get_an_ephemeral_error_with_usage_and_create_nothing(
    slack: SlackClient,
    double: SlackDouble,
    sandbox: ThreadedSandbox,
    namespace: str,
    text: str,
    complaint: str,
) -> None:
    before = len(await rayclusters(sandbox, namespace))
    answer = await slack.slash(text)
    assert answer.status == 200
    assert answer.body["response_type"] == "ephemeral"  # type: ignore[index]
    assert complaint.lower() in answer.text.lower()
    assert "Usage" in answer.text or "usage" in answer.text
    assert "Traceback" not in answer.text and "Error(" not in answer.text
    assert len(await rayclusters(sandbox, namespace)) == before
    assert double.calls_to("chat.postMessage") == []


async def test_every_command_is_acknowledged_well_within_three_seconds(
    slack: SlackClient,
) -> None:
    for text in ("help", "list", "describe nothing-here", "manifest quick", "create quick"):
        answer = await slack.slash(text)
        assert answer.status == 200
        assert answer.seconds < 2.0, (text, answer.seconds)


async def test_a_retried_request_creates_and_posts_only_once(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    body = slack.command_body("create once")
    first = await slack.post(body)
    again = await slack.post(body, retry=1)
    assert first.status == again.status == 200
    await wait_created(double, "once")
    cards = [m for m in double.messages("C0001") if "once" in m.text]
    assert len(cards) == 1
    assert [c["metadata"]["name"] for c in await rayclusters(sandbox, namespace)].count("once") == 1


async def test_readyz_is_503_while_kubernetes_is_unreachable(
    double: SlackDouble, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    settings = BotSettings.load(
        {
            "slack_bot_token": double.bot_token,
            "slack_signing_secret": "s",
            "slack_api_url": double.base_url,
            "kubeconfig": str(kubeconfig),
            "host": "127.0.0.1",
            "port": 0,
            "drain_timeout": 1.0,
        }
    )
    runtime = BotRuntime(settings)
    task = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(30):
            await runtime.started.wait()
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{runtime.http_port}"
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 503
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 200
    finally:
        runtime.stop()
        async with asyncio.timeout(30):
            await task


async def _readyz(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def _until_readyz(
    session: aiohttp.ClientSession, url: str, status: int, within: float = 30.0,
    saying: str = "",
) -> str:
    """Ask /readyz until it answers ``status`` (with a body starting ``saying``); its body then
    (a TimeoutError after ``within``)."""
    async with asyncio.timeout(within):
        while True:
            answer, body = await _readyz(session, url)
            if answer == status and body.startswith(saying):
                return body
            await asyncio.sleep(0.02)


async def test_readyz_follows_the_kubernetes_api_going_away_and_coming_back(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    fast = ReadinessSettings(interval=0.05, timeout=2.0, stale_after=10.0)
    running = RunningBot(bot_settings(sandbox, double, namespace), readiness=fast)
    await running.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{running.url}/readyz"
            assert await _readyz(session, url) == (200, "ready\n")
            # Every API request now fails as an overloaded or dying API server answers.
            await asyncio.to_thread(sandbox.faults.fail_next, 1_000_000, 503)
            try:
                # The failing watches may say "not synced" first; the probe then names the API.
                body = await _until_readyz(
                    session, url, 503, saying="not ready: Kubernetes API unreachable"
                )
            finally:
                await asyncio.to_thread(sandbox.faults.clear)
            assert "Kubernetes API unreachable" in body
            assert await _until_readyz(session, url, 200) == "ready\n"
            assert running.runtime.readiness is not None
            probes = running.runtime.readiness.probes
            for _ in range(50):  # readiness is read from memory, not asked of Kubernetes
                await _readyz(session, url)
            assert running.runtime.readiness.probes - probes < 50
    finally:
        await running.stop()
