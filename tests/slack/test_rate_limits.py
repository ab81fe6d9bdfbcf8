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


async def test_by_default_chat_update_is_tier_3_for_the_whole_workspace() -> None:
    """https://docs.slack.dev/reference/methods/chat.update: Tier 3 (50+ per minute), per
    app per workspace, whatever the channel — unlike chat.postMessage's per-channel limit."""
    async with SlackDouble(bot_token=TOKEN, channels=CHANNELS) as double:
        client = AsyncWebClient(token=TOKEN, base_url=double.base_url)
        posted = [
            await client.chat_postMessage(channel=channel, text="card")
            for channel in ("C0001", "C0003")
        ]
        burst = double.rate_limits.tiers["chat.update"].burst  # type: ignore[union-attr]
        for i in range(burst):
            card = posted[i % 2]
            await client.chat_update(channel=card["channel"], ts=card["ts"], text=str(i))
        with pytest.raises(SlackApiError) as caught:
            await client.chat_update(channel="C0003", ts=posted[1]["ts"], text="one too many")
        assert caught.value.response.status_code == 429
        assert int(caught.value.response.headers["Retry-After"]) >= 1  # Tier 3: 1.2 s a call


async def test_users_info_is_tier_4_and_a_test_may_ask_for_no_limits() -> None:
    async with (
        SlackDouble(bot_token=TOKEN) as strict,
        SlackDouble(bot_token=TOKEN, rate_limits=False) as lenient,
    ):
        for double, limited in ((strict, True), (lenient, False)):
            client = AsyncWebClient(token=TOKEN, base_url=double.base_url)
            answers = []
            for _ in range(15):
                try:
                    await client.users_info(user="U0001")
                    answers.append(200)
                except SlackApiError as err:
                    answers.append(err.response.status_code)
            assert (429 in answers) is limited, answers


async def test_a_faster_double_scales_its_windows_and_says_so_in_retry_after() -> None:
    async with SlackDouble(bot_token=TOKEN, channels=CHANNELS, time_scale=40) as double:
        client = AsyncWebClient(token=TOKEN, base_url=double.base_url)
        with pytest.raises(SlackApiError) as caught:
            for i in range(10):
                await client.chat_postMessage(channel="C0001", text=str(i))
        assert float(caught.value.response.headers["Retry-After"]) < 1.0
