"""Acks first: a command's slow half waits while Slack requests are being acknowledged, and
Slack user names are looked up once per user however many lists ask at once."""

from __future__ import annotations

import asyncio
import gc

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import UserNames
from bot.priority import AckFirst, freeze_startup_heap
from bot.slack_double.server import SlackDouble

DEADLINE = 5.0


async def test_a_slow_half_starts_only_when_the_requests_in_flight_are_acknowledged() -> None:
    acks = AckFirst(max_wait=30)
    started = asyncio.Event()

    async def slow_half() -> str:
        started.set()
        return "done"

    with acks.acking():
        work = asyncio.create_task(acks.after_acks(slow_half()))
        for _ in range(20):  # many loop turns: the slow half still waits
            await asyncio.sleep(0)
        assert not started.is_set()
    async with asyncio.timeout(DEADLINE):
        assert await work == "done"


async def test_a_steady_stream_of_requests_delays_a_slow_half_by_at_most_max_wait() -> None:
    acks = AckFirst(max_wait=0.05)
    loop = asyncio.get_running_loop()
    with acks.acking():
        begun = loop.time()
        async with asyncio.timeout(DEADLINE):
            await acks.after_acks(asyncio.sleep(0))
        assert acks.busy
    assert loop.time() - begun >= 0.05


async def test_a_cancelled_slow_half_that_never_started_is_closed_without_a_warning() -> None:
    acks = AckFirst(max_wait=30)
    with acks.acking():
        work = asyncio.create_task(acks.after_acks(asyncio.sleep(0)))
        await asyncio.sleep(0)
        work.cancel()
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(work, return_exceptions=True)
    assert work.cancelled()


async def test_fifty_lists_at_once_look_a_user_up_once_and_then_use_the_cache() -> None:
    async with SlackDouble() as double:
        names = UserNames(AsyncWebClient(token=double.bot_token, base_url=double.base_url))
        async with asyncio.timeout(DEADLINE):
            answers = await asyncio.gather(*(names(["U0001", "U0002"]) for _ in range(50)))
            again = await names(["U0001"])
        assert {a["U0001"] for a in answers} == {"alice"} and again == {"U0001": "alice"}
        assert len(double.calls_to("users.info")) == 2


async def test_an_expired_user_name_is_looked_up_again() -> None:
    async with SlackDouble() as double:
        client = AsyncWebClient(token=double.bot_token, base_url=double.base_url)
        names = UserNames(client, ttl=0.0)
        async with asyncio.timeout(DEADLINE):
            await names(["U0002"])
            assert await names(["U0002"]) == {"U0002": "bob"}
        assert len(double.calls_to("users.info")) == 2


async def test_slow_halves_queued_behind_each_other_each_wait_at_most_max_wait() -> None:
    acks = AckFirst(max_wait=0.1)
    loop = asyncio.get_running_loop()
    with acks.acking():  # a request that is never answered: only the deadlines let them pass
        begun = loop.time()
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(*(acks.after_acks(asyncio.sleep(0)) for _ in range(20)))
        waited = loop.time() - begun
    assert 0.1 <= waited < 1.0  # twenty in a row would take 2 s if each waited its own 0.1 s


def test_the_startup_heap_is_frozen_out_of_the_collectors_sight() -> None:
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
