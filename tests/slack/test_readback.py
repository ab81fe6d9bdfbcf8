"""The outbox's look before a re-send (``bot.readback``): a message Slack posted although its
answer never came is found by its metadata; one Slack never posted is not."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import web_call
from bot.outbox import TransientSendError
from bot.readback import POSTED, ReadBack
from bot.slack_double.server import SlackDouble

from .conftest import TOKEN


@pytest.fixture
def impatient(double: SlackDouble) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=double.base_url, timeout=1)


async def post(client: AsyncWebClient, args: dict[str, object]) -> dict[str, object]:
    return await web_call("chat.postMessage", client.api_call("chat.postMessage", json=args))


@pytest.mark.parametrize("in_thread", [False, True], ids=["card", "thread-reply"])
async def test_a_message_posted_whose_answer_came_too_late_is_found(
    double: SlackDouble, impatient: AsyncWebClient, in_thread: bool
) -> None:
    readback = ReadBack(impatient)
    parent = await post(impatient, {"channel": "C0001", "text": "card"})
    args: dict[str, object] = {"channel": "C0001", "text": "reply"}
    if in_thread:
        args["thread_ts"] = parent["ts"]
    readback.identify("chat.postMessage", args)
    assert args["metadata"]["event_type"] == POSTED  # type: ignore[index]
    double.answer_late("chat.postMessage", every=1, seconds=1.2)
    with pytest.raises(TransientSendError):
        await post(impatient, args)
    double.answer_late("chat.postMessage", every=0, seconds=0)
    [posted] = [c for c in double.calls_to("chat.postMessage") if c.late]
    found = await readback.find("chat.postMessage", args)
    assert found is not None and found["ts"] == posted.response["ts"]


async def test_a_message_refused_with_a_5xx_is_not_found_and_a_refused_read_tells_nothing(
    double: SlackDouble, client: AsyncWebClient
) -> None:
    readback = ReadBack(client)
    args: dict[str, object] = {"channel": "C0001", "text": "lost"}
    readback.identify("chat.postMessage", args)
    double.fail_next("chat.postMessage", "service_unavailable", status=503)
    with pytest.raises(TransientSendError):
        await post(client, args)
    assert await readback.find("chat.postMessage", args) is None
    elsewhere = {**args, "channel": "C0002"}  # not a member: its history cannot be read
    assert await readback.find("chat.postMessage", elsewhere) is None
    assert await readback.find("chat.update", {"channel": "C0001", "ts": "1.0"}) is None
