"""The outbox: per-channel order, one message per interval, Retry-After honoured, nothing lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.outbox import Outbox, OutboxSettings, RateLimited, TransientSendError


class VirtualClock:
    """Time that only moves when someone sleeps: tests run instantly and exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class RecordingSender:
    """Records (time, method, args); answers with scripted failures first."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, dict[str, Any]]] = []
        self.failures: list[Exception] = []
        self.attempts = 0

    async def __call__(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((self.clock(), method, args))
        return {"ok": True, "ts": f"{len(self.sent)}.000"}


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sender(clock: VirtualClock) -> RecordingSender:
    return RecordingSender(clock)


@pytest.fixture
async def outbox(clock: VirtualClock, sender: RecordingSender) -> AsyncIterator[Outbox]:
    box = Outbox(
        sender,
        settings=OutboxSettings(interval=1.0, transient_retries=2, backoff=0.5),
        metrics=Metrics(),
        clock=clock,
        sleep=clock.sleep,
    )
    task = asyncio.create_task(box.run(), name="outbox-under-test")
    yield box
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_messages_to_one_channel_go_out_in_order_one_per_interval(
    outbox: Outbox, sender: RecordingSender
) -> None:
    futures = [outbox.submit("C1", "chat.postMessage", {"text": str(i)}) for i in range(5)]
    results = await asyncio.gather(*futures)
    assert [args["text"] for _, _, args in sender.sent] == ["0", "1", "2", "3", "4"]
    times = [t for t, _, _ in sender.sent]
    assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))
    assert [r["ts"] for r in results] == ["1.000", "2.000", "3.000", "4.000", "5.000"]


async def test_channels_do_not_wait_for_each_other(
    outbox: Outbox, sender: RecordingSender, clock: VirtualClock
) -> None:
    start = clock()
    await asyncio.gather(
        outbox.submit("C1", "chat.postMessage", {"text": "a"}),
        outbox.submit("C2", "chat.postMessage", {"text": "b"}),
    )
    assert {args["text"] for _, _, args in sender.sent} == {"a", "b"}
    assert all(t == start for t, _, _ in sender.sent)


async def test_retry_after_is_waited_out_and_the_same_message_is_resent(
    outbox: Outbox, sender: RecordingSender, clock: VirtualClock
) -> None:
    sender.failures = [RateLimited(7)]
    start = clock()
    first = outbox.submit("C1", "chat.postMessage", {"text": "first"})
    second = outbox.submit("C1", "chat.postMessage", {"text": "second"})
    await asyncio.gather(first, second)
    assert [args["text"] for _, _, args in sender.sent] == ["first", "second"]
    assert sender.sent[0][0] >= start + 7
    assert sender.attempts == 3


async def test_queued_card_updates_coalesce_into_the_latest(
    outbox: Outbox, sender: RecordingSender
) -> None:
    post = outbox.submit("C1", "chat.postMessage", {"text": "reply"})
    updates = [
        outbox.submit("C1", "chat.update", {"ts": "1.0", "text": f"v{i}"}, coalesce_key="card")
        for i in range(4)
    ]
    await asyncio.gather(post, *updates)
    texts = [args["text"] for _, _, args in sender.sent]
    assert texts == ["reply", "v3"]


async def test_an_update_made_while_one_is_in_flight_is_still_sent(
    outbox: Outbox, sender: RecordingSender
) -> None:
    first = outbox.submit("C1", "chat.update", {"ts": "1.0", "text": "v1"}, coalesce_key="card")
    await asyncio.sleep(0)  # the worker picks v1 up and is now sending it
    second = outbox.submit("C1", "chat.update", {"ts": "1.0", "text": "v2"}, coalesce_key="card")
    await asyncio.gather(first, second)
    assert [args["text"] for _, _, args in sender.sent][-1] == "v2"


async def test_transient_errors_are_retried_with_backoff(
    outbox: Outbox, sender: RecordingSender
) -> None:
    sender.failures = [TransientSendError("reset"), TransientSendError("503")]
    result = await outbox.submit("C1", "chat.postMessage", {"text": "x"})
    assert result["ok"] is True
    assert sender.attempts == 3


async def test_a_final_error_fails_only_its_message(
    outbox: Outbox, sender: RecordingSender
) -> None:
    sender.failures = [ValueError("channel_not_found")]
    bad = outbox.submit("C1", "chat.postMessage", {"text": "bad"})
    good = outbox.submit("C1", "chat.postMessage", {"text": "good"})
    with pytest.raises(ValueError, match="channel_not_found"):
        await bad
    assert (await good)["ok"] is True


async def test_too_many_transient_errors_give_up(outbox: Outbox, sender: RecordingSender) -> None:
    sender.failures = [TransientSendError(str(i)) for i in range(3)]
    with pytest.raises(TransientSendError):
        await outbox.submit("C1", "chat.postMessage", {"text": "x"})


async def test_drain_waits_until_everything_was_sent(
    outbox: Outbox, sender: RecordingSender
) -> None:
    for i in range(3):
        outbox.submit("C1", "chat.postMessage", {"text": str(i)})
    assert outbox.pending == 3
    assert await outbox.drain(within=5)
    assert outbox.pending == 0
    assert len(sender.sent) == 3


async def test_nothing_queued_is_silently_lost_at_shutdown(clock: VirtualClock) -> None:
    async def never(method: str, args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    box = Outbox(never, clock=clock, sleep=clock.sleep)
    task = asyncio.create_task(box.run())
    futures = [box.submit("C1", "chat.postMessage", {"text": str(i)}) for i in range(2)]
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert all(f.cancelled() for f in futures)


async def test_card_updates_do_not_wait_behind_a_channels_posts(
    outbox: Outbox, sender: RecordingSender
) -> None:
    """chat.update has its own tier, not the channel's one-post-a-second lane; the notifier
    submits a card's update only once its thread's reply was delivered."""
    posts = [outbox.submit("C1", "chat.postMessage", {"text": f"reply {i}"}) for i in range(3)]
    card = outbox.submit("C1", "chat.update", {"ts": "1.0", "text": "card"}, coalesce_key="c")
    await asyncio.gather(*posts, card)
    texts = [args["text"] for _, _, args in sender.sent]
    assert texts.index("card") < texts.index("reply 1")


async def test_an_urgent_reply_overtakes_other_threads_but_never_its_own(
    outbox: Outbox, sender: RecordingSender
) -> None:
    def post(thread: str, text: str, *, urgent: bool = False) -> asyncio.Future[Any]:
        return outbox.submit(
            "C1", "chat.postMessage", {"thread_ts": thread, "text": text}, urgent=urgent
        )

    sent = [
        post("a", "a pending"),
        post("b", "b pending"),
        post("c", "c pending"),
        post("c", "c ready", urgent=True),
        post("d", "d failed", urgent=True),
    ]
    await asyncio.gather(*sent)
    texts = [args["text"] for _, _, args in sender.sent]
    assert texts == ["d failed", "a pending", "b pending", "c pending", "c ready"]


async def test_a_withdrawn_call_is_never_sent(outbox: Outbox, sender: RecordingSender) -> None:
    first = outbox.submit("C1", "chat.postMessage", {"text": "first"})
    superseded = outbox.submit("C1", "chat.postMessage", {"text": "pods-pending"})
    assert outbox.withdraw(superseded)
    await first
    assert superseded.cancelled()
    assert [args["text"] for _, _, args in sender.sent] == ["first"]
    assert outbox.pending == 0
    assert not outbox.withdraw(first)  # sent: too late to take back


@pytest.mark.parametrize(
    ("second", "sent"),
    [
        ({"text": "v2", "hold": 3}, [(3, "v2")]),  # replaced while held: one update, on time
        ({"text": "ready", "urgent": True}, [(0, "ready")]),  # settled: the hold ends
    ],
    ids=["newer-replaces-held", "urgent-ends-hold"],
)
async def test_a_held_card_update_is_sent_once_with_the_newest_state(
    outbox: Outbox, sender: RecordingSender, clock: VirtualClock, second: dict[str, Any],
    sent: list[tuple[float, str]],
) -> None:  # fmt: skip
    start = clock()
    held = outbox.submit("C1", "chat.update", {"ts": "1", "text": "v1"}, coalesce_key="c",
                         hold=3)  # fmt: skip
    await asyncio.sleep(0)
    text = second.pop("text")
    newer = outbox.submit("C1", "chat.update", {"ts": "1", "text": text}, coalesce_key="c",
                          **second)  # fmt: skip
    await asyncio.gather(held, newer)
    assert [(at - start, args["text"]) for at, _, args in sender.sent] == sent


async def test_drain_sends_held_calls_at_once(
    outbox: Outbox, sender: RecordingSender, clock: VirtualClock
) -> None:
    start = clock()
    outbox.submit("C1", "chat.update", {"ts": "1", "text": "card"}, hold=600)
    assert await outbox.drain(within=5)
    assert [at - start for at, _, _ in sender.sent] == [0]


async def test_card_updates_are_paced_per_workspace_by_chat_updates_tier() -> None:
    """chat.update is Tier 3 (50 a minute) for the whole workspace: cards in different
    channels do not each get their own budget (https://docs.slack.dev/apis/web-api/rate-limits).
    Real time, with Slack's windows divided by 60 (chat.update: 20 ms apart)."""
    sent: list[tuple[float, str]] = []

    async def send(method: str, args: dict[str, Any]) -> dict[str, Any]:
        sent.append((time.monotonic(), args["channel"]))
        return {"ok": True}

    box = Outbox(send, settings=OutboxSettings(interval=1.0, tier_scale=60))
    task = asyncio.create_task(box.run(), name="outbox-under-test")
    try:
        await asyncio.gather(*(
            box.submit(c, "chat.update", {"channel": c, "ts": "1.0"}) for c in ("C1", "C2", "C3")
        ))  # fmt: skip
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    times = sorted(t for t, _ in sent)
    assert len(times) == 3
    assert all(b - a >= 0.019 for a, b in zip(times, times[1:], strict=False)), times


class LostAnswers(RecordingSender):
    """Posts every message, but the answers to the texts in ``lost`` never arrive (a timeout);
    as a ``Recheck`` it finds what was posted by the id it gave it."""

    def __init__(self, clock: VirtualClock, lost: set[str]) -> None:
        super().__init__(clock)
        self.lost = lost
        self.looked = 0

    async def __call__(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await super().__call__(method, args)
        if args["text"] in self.lost:
            self.lost.discard(args["text"])
            raise TransientSendError("chat.postMessage: TimeoutError")
        return result

    def identify(self, method: str, args: dict[str, Any]) -> None:
        args["id"] = f"id-{args['text']}"

    async def find(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        self.looked += 1
        for n, (_, _, sent) in enumerate(self.sent, start=1):
            if sent["id"] == args["id"]:
                return {"ok": True, "ts": f"{n}.000"}
        return None


async def test_a_message_whose_answer_was_lost_is_looked_for_not_sent_twice(
    clock: VirtualClock,
) -> None:
    sender = LostAnswers(clock, lost={"b"})
    box = Outbox(sender, settings=OutboxSettings(interval=1.0, backoff=0.5),
                 clock=clock, sleep=clock.sleep, recheck=sender)  # fmt: skip
    task = asyncio.create_task(box.run())
    try:
        futures = [box.submit("C1", "chat.postMessage", {"text": t}) for t in "abc"]
        results = await asyncio.gather(*futures)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [args["text"] for _, _, args in sender.sent] == ["a", "b", "c"]  # "b" once, in order
    assert [r["ts"] for r in results] == ["1.000", "2.000", "3.000"]
    assert sender.looked == 1


async def test_a_message_not_found_after_a_5xx_is_sent_again(clock: VirtualClock) -> None:
    sender = LostAnswers(clock, lost=set())
    sender.failures = [TransientSendError("chat.postMessage: HTTP 503")]  # refused, not posted
    box = Outbox(sender, settings=OutboxSettings(interval=1.0, backoff=0.5),
                 clock=clock, sleep=clock.sleep, recheck=sender)  # fmt: skip
    task = asyncio.create_task(box.run())
    try:
        result = await box.submit("C1", "chat.postMessage", {"text": "a"})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [args["text"] for _, _, args in sender.sent] == ["a"] and result["ts"] == "1.000"
    assert sender.looked == 1 and sender.attempts == 2
