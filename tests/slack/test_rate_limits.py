"""429s with Retry-After, injected failures and the per-channel posting rate, as Slack sends."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_double.server import SlackDouble, running_slack_double

from .conftest import CHANNELS, TOKEN


async def test_injected_rate_limit_is_a_429_with_retry_after(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    double.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0001", text="x")
    response = caught.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "7"
    assert double.messages("C0001") == []
    await client.chat_postMessage(channel="C0001", text="x")  # only the next call failed


async def test_slack_sdk_retry_handler_honours_the_429_and_the_post_lands_once(
    double: SlackDouble,
) -> None:
    client = AsyncWebClient(
        token=TOKEN,
        base_url=double.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    double.fail_next("chat.postMessage", retry_after=0, times=2)
    await client.chat_postMessage(channel="C0001", text="eventually")
    statuses = [c.status for c in double.calls_to("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert [m.text for m in double.messages("C0001")] == ["eventually"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, "internal_error"), (503, "service_unavailable"), (200, "fatal_error")],
)
async def test_injected_errors_use_the_given_status(
    double: SlackDouble, client: AsyncWebClient, status: int, error: str
) -> None:
    double.fail_next("chat.update", error, status=status)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="C0001", ts="1.0", text="x")
    assert caught.value.response.status_code == status
    assert caught.value.response["error"] == error


async def test_channel_post_rate_answers_429_when_exceeded_per_channel() -> None:
    async with SlackDouble(
        bot_token=TOKEN, channels=CHANNELS, post_rate=1.0, post_burst=2
    ) as double:
        client = AsyncWebClient(token=TOKEN, base_url=double.base_url)
        await client.chat_postMessage(channel="C0001", text="1")
        await client.chat_postMessage(channel="C0001", text="2")
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel="C0001", text="3")
        assert caught.value.response.status_code == 429
        assert int(caught.value.response.headers["Retry-After"]) >= 1
        # Another channel has its own budget; updates are not limited by it.
        await client.chat_postMessage(channel="C0003", text="elsewhere")
        first = double.messages("C0001")[0]
        await client.chat_update(channel="C0001", ts=first.ts, text="edited")
        assert [m.text for m in double.messages("C0001")] == ["edited", "2"]


def test_double_runs_on_its_own_thread_for_sync_clients() -> None:
    with running_slack_double(bot_token=TOKEN) as double:
        client = WebClient(token=TOKEN, base_url=double.base_url)
        client.chat_postMessage(channel="general", text="from a sync client")
        assert [m.text for m in double.messages("general")] == ["from a sync client"]
