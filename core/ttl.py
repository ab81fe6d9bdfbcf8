"""Cluster time-to-live, pure: durations, the policy's bounds, and what is due when.

Idle GPU clusters are the most expensive failure of a shared platform. A cluster created with
``--ttl 8h`` carries its expiry in an annotation (``core.state``), so the deadline survives
restarts. ``remind_before`` the expiry the owner is asked to extend or delete it; at the expiry it
is suspended (KubeRay ``spec.suspend: true``: the pods go, the definition stays); a cluster that
stays suspended ``delete_after_suspend`` is deleted. ``due`` says which of these is next and
when, from the annotations alone, so a restarted bot neither repeats nor skips a step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

_DURATION = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?")
_UNITS = ("d", "h", "m", "s")
DURATION_RULE = "use a duration such as 45s, 30m, 8h, 2d or 1h30m"


def parse_duration(text: str) -> timedelta:
    """``30m``, ``8h``, ``2d``, ``45s``, ``1h30m`` -> timedelta; ValueError saying the form."""
    cleaned = text.strip().lower()
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groups()):
        shown = text if len(text) <= 40 else text[:39] + "…"
        raise ValueError(f"{shown!r} is not a duration: {DURATION_RULE}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The shortest honest reading: ``2d 3h``, ``45m``, ``30s`` (never negative)."""
    seconds = max(int(span.total_seconds()), 0)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            amount, seconds = divmod(seconds, size)
            parts.append(f"{amount}{unit}")
        if len(parts) == 2:
            break
    return " ".join(parts)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"{value!r} is not a duration: {DURATION_RULE}")


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class TtlPolicy(BaseModel):
    """``ttl:`` in the policy file. Without it clusters never expire unless ``--ttl`` is given,
    and then within these defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Duration | None = None  # None: no expiry unless --ttl
    min: Duration = timedelta(minutes=10)
    max: Duration = timedelta(days=7)
    remind_before: Duration = timedelta(minutes=30)
    delete_after_suspend: Duration = timedelta(days=1)

    @model_validator(mode="after")
    def _ordered(self) -> TtlPolicy:
        if self.min > self.max:
            raise ValueError(f"ttl.min ({format_duration(self.min)}) is more than ttl.max")
        if self.default is not None and not self.min <= self.default <= self.max:
            raise ValueError("ttl.default must lie between ttl.min and ttl.max")
        return self

    def checked(self, asked: timedelta | None) -> timedelta | None:
        """The TTL a create gets: the one asked for (within min..max, else ValueError naming
        the bound) or the default."""
        if asked is None:
            return self.default
        if asked < self.min:
            raise ValueError(
                f"--ttl {format_duration(asked)} is shorter than the policy's minimum "
                f"(ttl.min: {format_duration(self.min)})"
            )
        if asked > self.max:
            raise ValueError(
                f"--ttl {format_duration(asked)} is longer than the policy's maximum "
                f"(ttl.max: {format_duration(self.max)})"
            )
        return asked

    def extended(self, expires: datetime, now: datetime) -> datetime:
        """Extend by the default TTL (or min), never past ``now + max``."""
        step = self.default or self.min
        return min(max(expires, now) + step, now + self.max)


class Step(StrEnum):
    REMIND = "remind"
    SUSPEND = "suspend"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Due:
    step: Step
    at: datetime


def due(
    *,
    expires: datetime | None,
    reminded_for: datetime | None,
    suspended_at: datetime | None,
    suspended: bool,
    policy: TtlPolicy,
) -> Due | None:
    """The next hygiene step of one cluster and when it is due (it may be in the past).

    ``reminded_for`` is the expiry the owner was last reminded of (a new expiry after an
    extension earns a new reminder); ``suspended_at`` is when the bot suspended it for its TTL
    (a cluster a person suspended is never deleted by the bot)."""
    if expires is None:
        return None
    if suspended:
        if suspended_at is None:
            return None
        return Due(Step.DELETE, suspended_at + policy.delete_after_suspend)
    if reminded_for != expires:
        return Due(Step.REMIND, expires - policy.remind_before)
    return Due(Step.SUSPEND, expires)
