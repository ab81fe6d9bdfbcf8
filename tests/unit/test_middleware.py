"""The middleware every Slack request goes through: retries run nothing twice, no failure reaches
Slack as a 500 or a traceback, and the slow half of a command is told and counted.

A real Bolt app (signature checks on, Web API calls to the Slack double) with krayne's
middleware installed and one small listener; requests are signed like Slack's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages as msg
from bot import middleware
from bot.metrics import Metrics
from bot.shell import signing
from bot.slack_double.server import SlackDouble
from bot.transport import dispatch_http
from core.errors import ClusterNotFoundError, KubeConnectionError

SECRET = "middleware-test-secret"
USER, CHANNEL = "U0MIDDLE", "C0MIDDLE"


class Answers:
    """A ``respond`` that records what the user was told."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str = "", **_: Any) -> None:
        self.texts.append(text)


@pytest.fixture
async def double() -> AsyncIterator[SlackDouble]:
    async with SlackDouble() as running:
        yield running


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def app(double: SlackDouble, metrics: Metrics) -> AsyncApp:
    bolt = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=double.bot_token, base_url=double.base_url),
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    middleware.install(bolt, metrics=metrics)
    return bolt


async def _post(
    app: AsyncApp, body: bytes, *, retry: int | None = None
) -> tuple[int, dict[str, Any] | str]:
    """Dispatch a signed request; wait for Bolt's listener task to finish, as a test must."""
    before = asyncio.all_tasks()
    headers = signing.signed_headers(SECRET, body)
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    status, _, raw = await dispatch_http(app, body, headers)
    started = asyncio.all_tasks() - before - {asyncio.current_task()}
    if started:
        _, pending = await asyncio.wait(started, timeout=5)
        assert not pending, "Bolt's listener task did not finish"
    text = raw.decode()
    return status, (json.loads(text) if text.startswith("{") else text)


def _slash(double: SlackDouble, text: str) -> bytes:
    return signing.slash_command_body(
        text=text, user_id=USER, user_name="tester", channel_id=CHANNEL, channel_name="krayne",
        team_id=double.team_id, response_url="http://127.0.0.1:9/nowhere",
    )  # fmt: skip


async def test_a_retried_slash_command_is_acknowledged_and_runs_once(
    app: AsyncApp, double: SlackDouble, metrics: Metrics
) -> None:
    runs: list[str] = []

    @app.command("/krayne")
    async def count(ack: Any, command: dict[str, Any]) -> None:
        runs.append(command["text"])
        await ack(text="ran")

    body = _slash(double, "create once")
    first = await _post(app, body)
    again = await _post(app, body, retry=1)
    assert first[0] == again[0] == 200
    assert runs == ["create once"]
    assert metrics.registry.get_sample_value("krayne_slack_retries_ignored_total") == 1.0


async def test_an_app_rate_limited_notice_is_answered_and_reaches_no_listener(
    app: AsyncApp, double: SlackDouble
) -> None:
    seen: list[dict[str, Any]] = []

    @app.event("app_rate_limited")
    async def never(ack: Any, body: dict[str, Any]) -> None:
        seen.append(body)
        await ack()

    notice = {"token": signing.VERIFICATION_TOKEN, "type": "app_rate_limited",
              "team_id": double.team_id, "minute_rate_limited": 1518467820,
              "api_app_id": signing.API_APP_ID}  # fmt: skip
    body = json.dumps(notice).encode()
    headers = signing.signed_headers(SECRET, body, content_type=signing.JSON)
    status, _, _ = await dispatch_http(app, body, headers)
    assert status == 200
    assert seen == []


async def test_a_listener_failing_before_its_ack_answers_privately_not_with_a_500(
    app: AsyncApp, double: SlackDouble
) -> None:
    @app.command("/krayne")
    async def broken(ack: Any) -> None:
        raise RuntimeError("secret <object at 0x1>")

    status, answer = await _post(app, _slash(double, "list"))
    assert status == 200
    assert isinstance(answer, dict) and answer["response_type"] == "ephemeral"
    assert answer["text"] == msg.internal_error("/krayne")
    for leak in ("RuntimeError", "0x1", "Traceback"):
        assert leak not in answer["text"]


async def test_a_failing_slow_half_is_told_privately_with_reason_and_counted(
    metrics: Metrics,
) -> None:
    async def unreachable() -> None:
        raise KubeConnectionError("Cannot reach the Kubernetes API", hint="Is it up?")

    answers = Answers()
    await middleware.guarded(unreachable(), what="list", respond=answers, metrics=metrics)
    assert answers.texts == [
        ":warning: Kubernetes is not reachable right now; try again in a minute. "
        "(Cannot reach the Kubernetes API)\n_Is it up?_"
    ]
    outcome = {"command": "list", "outcome": "error"}
    assert metrics.registry.get_sample_value("krayne_commands_total", outcome) == 1.0


async def test_a_button_whose_cluster_is_gone_says_so_and_counts_it_as_gone(
    metrics: Metrics,
) -> None:
    async def vanished() -> None:
        raise ClusterNotFoundError("demo", "team")

    answers = Answers()
    await middleware.guarded(
        vanished(), what="delete", respond=answers, metrics=metrics, gone="demo"
    )
    assert answers.texts == [msg.no_longer_exists("demo")]
    outcome = {"command": "delete", "outcome": "gone"}
    assert metrics.registry.get_sample_value("krayne_commands_total", outcome) == 1.0


async def test_work_that_succeeds_is_counted_ok_and_tells_nothing_more(metrics: Metrics) -> None:
    async def fine() -> None:
        return None

    answers = Answers()
    await middleware.guarded(fine(), what="describe", respond=answers, metrics=metrics)
    assert answers.texts == []
    outcome = {"command": "describe", "outcome": "ok"}
    assert metrics.registry.get_sample_value("krayne_commands_total", outcome) == 1.0
