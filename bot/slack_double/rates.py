"""Slack's Web API rate limits per method, as the Slack double applies them (on by default).

Slack limits each method "per app per workspace" by tier, and chat.postMessage by a special
tier of about one message per second per channel with short bursts allowed; an over-eager
client gets HTTP 429, ``{"ok": false, "error": "ratelimited"}`` and ``Retry-After`` in seconds
(https://docs.slack.dev/apis/web-api/rate-limits). Each limit is a token bucket: the tier's
per-minute rate, and a small burst (Slack documents "sporadic bursts" without a number, so the
bursts here are modest guesses). ``time_scale`` speeds every window up for tests whose sandbox
runs faster than real time; 1.0 (the default) is Slack's real numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.slack_double.records import SlackError


@dataclass(frozen=True, slots=True)
class Tier:
    """``per_minute`` calls, ``burst`` at once; per channel or per workspace."""

    per_minute: float
    burst: int
    per_channel: bool = False


# https://docs.slack.dev/apis/web-api/rate-limits ("Web API Tier 2: 20+ per minute", Tier 3:
# "50+ per minute", Tier 4: "100+ per minute"; "Posting messages: 1 per second, short bursts").
TIER_2 = Tier(20, 3)
TIER_3 = Tier(50, 5)
TIER_4 = Tier(100, 10)
POST_MESSAGE = Tier(60, 3, per_channel=True)

METHOD_TIERS: Mapping[str, Tier] = {
    # https://docs.slack.dev/reference/methods/chat.postMessage (Special: 1/s per channel)
    "chat.postMessage": POST_MESSAGE,
    # https://docs.slack.dev/reference/methods/chat.update (Tier 3)
    "chat.update": TIER_3,
    # https://docs.slack.dev/reference/methods/chat.delete (Tier 3)
    "chat.delete": TIER_3,
    # https://docs.slack.dev/reference/methods/chat.postEphemeral (Tier 4)
    "chat.postEphemeral": TIER_4,
    # https://docs.slack.dev/reference/methods/conversations.info (Tier 3)
    "conversations.info": TIER_3,
    # https://docs.slack.dev/reference/methods/conversations.join (Tier 3)
    "conversations.join": TIER_3,
    # https://docs.slack.dev/reference/methods/conversations.replies (Tier 3)
    "conversations.replies": TIER_3,
    # https://docs.slack.dev/reference/methods/conversations.history (Tier 3)
    "conversations.history": TIER_3,
    # https://docs.slack.dev/reference/methods/users.info (Tier 4)
    "users.info": TIER_4,
    # https://docs.slack.dev/reference/methods/views.publish (Tier 4)
    "views.publish": TIER_4,
    # https://docs.slack.dev/reference/methods/views.open (Tier 4)
    "views.open": TIER_4,
    # https://docs.slack.dev/reference/methods/views.update (Tier 4)
    "views.update": TIER_4,
    # https://docs.slack.dev/reference/methods/reactions.add (Tier 3)
    "reactions.add": TIER_3,
}


class RateLimits:
    """Token buckets per (method) or (method, channel), refilled at each tier's rate."""

    def __init__(
        self,
        tiers: Mapping[str, Tier] = METHOD_TIERS,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.tiers = dict(tiers)
        self.time_scale = time_scale
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def check(self, method: str, channel: str | None) -> SlackError | None:
        """Spend one call of ``method`` (to ``channel``) or return Slack's 429 for it."""
        tier = self.tiers.get(method)
        if tier is None:
            return None
        key = (method, (channel or "") if tier.per_channel else "")
        rate = tier.per_minute / 60.0 * self.time_scale  # tokens per second
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(tier.burst), now))
        tokens = min(float(tier.burst), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return SlackError("ratelimited", status=429, retry_after=self._retry_after(
                (1.0 - tokens) / rate))  # fmt: skip
        self._buckets[key] = (tokens - 1.0, now)
        return None

    def _retry_after(self, seconds: float) -> float:
        """Whole seconds as Slack sends them; a scaled double answers in scaled seconds."""
        if self.time_scale == 1.0:
            return float(max(1, math.ceil(seconds)))
        return max(seconds, 0.001)


def retry_after_header(value: float) -> str:
    """A Retry-After value: whole seconds as Slack sends them, or a scaled double's fraction."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
