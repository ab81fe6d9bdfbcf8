"""How often the bot calls each Slack Web API method: Slack's rate limit tier per method.

Slack limits each method per app per workspace by tier, and chat.postMessage by about one
message per second per channel (https://docs.slack.dev/apis/web-api/rate-limits). Pacing
every method per channel (as the outbox once did) sends chat.update for many clusters far above
its Tier 3 limit, and asking users.info for every owner at once bursts Tier 4. A ``Pacer``
reserves the next free slot per method (per channel for chat.postMessage) before each call, so
concurrent callers queue instead of colliding into 429s; a 429 that still comes is waited out
by the caller (``Retry-After``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

PER_CHANNEL = frozenset({"chat.postMessage"})
"""Methods limited per channel (the special tier): paced by ``OutboxSettings.interval``."""

TIER_3 = 60 / 50
TIER_4 = 60 / 100
WORKSPACE_INTERVALS: Mapping[str, float] = MappingProxyType({
    "chat.update": TIER_3,  # https://docs.slack.dev/reference/methods/chat.update
    "chat.delete": TIER_3,  # https://docs.slack.dev/reference/methods/chat.delete
    "chat.postEphemeral": TIER_4,  # https://docs.slack.dev/reference/methods/chat.postEphemeral
    "users.info": TIER_4,  # https://docs.slack.dev/reference/methods/users.info
    "views.publish": TIER_4,  # https://docs.slack.dev/reference/methods/views.publish
})  # fmt: skip
"""Seconds between two calls of a method in the workspace: 60 / the tier's calls per minute."""


class Pacer:
    """Next free slot per (method) or (method, channel); ``wait`` reserves one and sleeps."""

    def __init__(
        self,
        *,
        channel_interval: float = 1.0,
        intervals: Mapping[str, float] = WORKSPACE_INTERVALS,
        scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``scale`` > 1 shortens the tier intervals (a test double running faster than
        real time); ``channel_interval`` is chat.postMessage's, per channel, as configured."""
        self._channel_interval = channel_interval
        self._intervals = {method: seconds / scale for method, seconds in intervals.items()}
        self._clock = clock
        self._sleep = sleep
        self._next_at: dict[tuple[str, str], float] = {}

    def interval(self, method: str) -> float:
        if method in PER_CHANNEL:
            return self._channel_interval
        return self._intervals.get(method, 0.0)

    def reserve(self, method: str, channel: str) -> float:
        """Book the next slot of ``method`` (to ``channel``); seconds to wait until it."""
        interval = self.interval(method)
        if interval <= 0:
            return 0.0
        key = (method, channel if method in PER_CHANNEL else "")
        now = self._clock()
        slot = max(now, self._next_at.get(key, 0.0))
        self._next_at[key] = slot + interval
        return slot - now

    async def wait(self, method: str, channel: str = "") -> None:
        delay = self.reserve(method, channel)
        if delay > 0:
            await self._sleep(delay)
