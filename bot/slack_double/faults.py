"""Failures the Slack double can be told to produce: injected errors and Slack's posting rate.

Slack answers an over-eager client with HTTP 429, ``{"ok": false, "error": "ratelimited"}`` and a
``Retry-After`` header (seconds). chat.postMessage has a "special" tier of about one message per
second per channel, with short bursts allowed; ``PostRateLimit`` models that as a token bucket so
the notifier's coalescing and Retry-After handling are tested against the real shape.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from bot.slack_double.records import SlackError


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int
    times: int


class InjectedFailures:
    """Queued failures per Web API method (or ``"response_url"``), consumed in order."""

    def __init__(self) -> None:
        self._queues: dict[str, list[_Failure]] = {}

    def add(self, method: str, error: str, *, status: int, retry_after: int, times: int) -> None:
        self._queues.setdefault(method, []).append(_Failure(error, status, retry_after, times))

    def take(self, method: str) -> SlackError | None:
        """The error to answer this call of ``method`` with, if one is queued."""
        queue = self._queues.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return SlackError(
            failure.error,
            status=failure.status,
            retry_after=failure.retry_after if failure.status == 429 else None,
        )


class PostRateLimit:
    """Token bucket per channel: ``rate`` posts per second, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, channel_id: str) -> SlackError | None:
        """Spend one token for ``channel_id`` or return the 429 Slack would answer."""
        now = time.monotonic()
        tokens, last = self._buckets.get(channel_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[channel_id] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / self.rate)
            return SlackError("ratelimited", status=429, retry_after=max(1, wait))
        self._buckets[channel_id] = (tokens - 1.0, now)
        return None
