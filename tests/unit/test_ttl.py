"""Cluster TTLs: durations, the policy's bounds, and which hygiene step is due when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ConfigValidationError
from core.policy import parse_policy
from core.state import ClusterState, state_patch
from core.ttl import Due, Step, TtlPolicy, due, format_duration, parse_duration

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30m", timedelta(minutes=30)),
        ("8h", timedelta(hours=8)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_durations_read_as_people_write_them(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize("bad", ["", "5", "1x", "-1h", "1.5h", "h", "30m8h", "x" * 10_000])
def test_a_bad_duration_says_the_form_and_clips_the_echo(bad: str) -> None:
    with pytest.raises(ValueError, match="45s, 30m, 8h, 2d") as err:
        parse_duration(bad)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize(
    ("span", "text"),
    [(timedelta(days=2, hours=3, minutes=5), "2d 3h"), (timedelta(minutes=45), "45m"),
     (timedelta(seconds=30), "30s"), (timedelta(seconds=-5), "0s")],
)  # fmt: skip
def test_time_left_is_shown_short(span: timedelta, text: str) -> None:
    assert format_duration(span) == text


def test_the_policy_bounds_a_requested_ttl_and_names_the_bound() -> None:
    policy = TtlPolicy(default="8h", min="10m", max="7d")
    assert policy.checked(None) == 8 * H
    assert policy.checked(2 * H) == 2 * H
    with pytest.raises(ValueError, match=r"ttl\.min: 10m"):
        policy.checked(timedelta(minutes=5))
    with pytest.raises(ValueError, match=r"ttl\.max: 7d"):
        policy.checked(timedelta(days=8))


def test_extending_adds_the_default_but_never_past_the_maximum() -> None:
    policy = TtlPolicy(default="8h", max="10h")
    assert policy.extended(NOW + H, NOW) == NOW + 9 * H
    assert policy.extended(NOW + 5 * H, NOW) == NOW + 10 * H  # capped at now + max


def test_a_policy_file_ttl_section_is_validated_naming_the_key() -> None:
    ttl = {"default": "8h", "min": "10m", "max": "7d", "remind_before": "30m",
           "delete_after_suspend": "1d"}  # fmt: skip
    policy = parse_policy({"ttl": ttl})
    assert policy.ttl.default == 8 * H
    with pytest.raises(ConfigValidationError, match="ttl.default"):
        parse_policy({"ttl": {"default": "forever"}})
    with pytest.raises(ConfigValidationError, match="ttl"):
        parse_policy({"ttl": {"min": "2d", "max": "1d"}})


POLICY = TtlPolicy(default="8h", remind_before="30m", delete_after_suspend="1d")
EXPIRES = NOW + 8 * H


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({}, None),  # no TTL: nothing is ever due
        ({"expires": EXPIRES}, Due(Step.REMIND, EXPIRES - timedelta(minutes=30))),
        ({"expires": EXPIRES, "reminded_for": EXPIRES}, Due(Step.SUSPEND, EXPIRES)),
        # an extension moves the expiry: a new reminder is due for it
        ({"expires": EXPIRES + H, "reminded_for": EXPIRES}, Due(Step.REMIND, EXPIRES + H / 2)),
        ({"expires": EXPIRES, "reminded_for": EXPIRES, "suspended": True,
          "suspended_at": EXPIRES}, Due(Step.DELETE, EXPIRES + 24 * H)),  # fmt: skip
        # suspended by a person, not for its TTL: the bot never deletes it
        ({"expires": EXPIRES, "suspended": True}, None),
    ],
)
def test_the_next_hygiene_step(state: dict[str, object], expected: Due | None) -> None:
    args: dict[str, object] = {"expires": None, "reminded_for": None, "suspended_at": None,
                               "suspended": False, **state}  # fmt: skip
    assert due(policy=POLICY, **args) == expected  # type: ignore[arg-type]


def test_the_expiry_and_its_steps_live_in_annotations_and_read_back() -> None:
    patch = state_patch(expires=EXPIRES, reminded_for=EXPIRES, ttl_suspended_at=None)
    raycluster = {"metadata": {"annotations": {k: v for k, v in patch.items() if v}}}
    state = ClusterState.read(raycluster)
    assert (state.expires, state.reminded_for, state.ttl_suspended_at) == (EXPIRES, EXPIRES, None)
    assert patch["krayne.io/ttl-suspended-at"] is None  # None removes the key
