"""Pacing by Slack's tier per method: chat.postMessage per channel, the rest per workspace."""

from __future__ import annotations

import pytest

from bot.pacing import TIER_3, TIER_4, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_chat_update_is_paced_per_workspace_at_tier_3_whatever_the_channel() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    waits = [pacer.reserve("chat.update", channel) for channel in ("C1", "C2", "C3")]
    assert waits == pytest.approx([0.0, TIER_3, 2 * TIER_3])
    assert round(TIER_3, 6) == 1.2  # 50 a minute


def test_chat_post_message_is_paced_per_channel() -> None:
    clock = Clock()
    pacer = Pacer(channel_interval=1.0, clock=clock)
    assert [pacer.reserve("chat.postMessage", c) for c in ("C1", "C2", "C1")] == [0, 0, 1.0]


def test_users_info_is_tier_4_and_a_scale_shortens_every_window() -> None:
    clock = Clock()
    real, fast = Pacer(clock=clock), Pacer(clock=clock, scale=40)
    assert [real.reserve("users.info", "") for _ in range(2)] == pytest.approx([0, TIER_4])
    assert [fast.reserve("users.info", "") for _ in range(2)] == pytest.approx([0, TIER_4 / 40])
    clock.now = 10.0
    assert real.reserve("users.info", "") == 0.0  # a free slot is not saved up


def test_methods_without_a_known_tier_are_not_held_back() -> None:
    pacer = Pacer(clock=Clock())
    assert pacer.reserve("auth.test", "") == 0.0
