"""The bot never accepts requests it cannot authenticate (issue 12, holes 4 and 5).

Bolt verifies signatures with whatever key it is given, ``""`` included, so an empty or blank
signing secret would let anyone sign a request. In Socket Mode Slack signs nothing and sends
nothing to ``/slack/events``, so that endpoint is not served at all.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.app import SigningSecretMissingError
from bot.runtime import BotRuntime
from bot.serve import run_serve
from bot.settings import BotSettings
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.harness import SECRET, SlackClient
from tests.scenarios.test_socket_mode import (  # noqa: F401
    SocketModeSlack,
    fake_slack,
    socket_mode_settings,
)


@pytest.mark.parametrize("secret", ["", "   "], ids=["empty", "blank"])
def test_serve_refuses_an_empty_signing_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    assert run_serve([]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("secret", [None, "", "  "], ids=["missing", "empty", "blank"])
async def test_the_app_is_not_built_without_a_signing_secret(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: ThreadedSandbox,
    double: SlackDouble,
    namespace: str,
    secret: str | None,
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    settings = BotSettings.load(
        {
            "slack_bot_token": double.bot_token,
            "slack_signing_secret": secret,
            "slack_api_url": double.base_url,
            "kubeconfig": str(sandbox.kubeconfig_path),
            "namespace": namespace,
            "drain_timeout": 1.0,
        }
    )
    runtime = BotRuntime(settings, http=False)
    with pytest.raises(SigningSecretMissingError, match="SLACK_SIGNING_SECRET") as refused:
        async with asyncio.timeout(20):
            await runtime.run()
    assert refused.value.hint and "Signing Secret" in refused.value.hint
    assert runtime.app is None


async def test_socket_mode_serves_no_events_endpoint(
    fake_slack: SocketModeSlack,  # noqa: F811
    double: SlackDouble,
    sandbox: ThreadedSandbox,
    namespace: str,
) -> None:
    settings = socket_mode_settings(
        fake_slack, sandbox, namespace, slack_signing_secret=SECRET
    )
    runtime = BotRuntime(settings)
    task = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(fake_slack.connected.wait(), runtime.started.wait())
        url = f"http://127.0.0.1:{runtime.http_port}"
        async with aiohttp.ClientSession() as session:
            # Even a correctly signed request finds nothing there: requests come over the socket.
            signed = SlackClient(double, f"{url}/slack/events", session)
            answer = await signed.post(signed.command_body("help"))
            assert answer.status == 404
            async with session.get(f"{url}/healthz") as health:
                assert health.status == 200
    finally:
        runtime.stop()
        async with asyncio.timeout(30):
            await task
