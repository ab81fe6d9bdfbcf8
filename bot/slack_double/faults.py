"""Failures the Slack double can be told to produce on purpose (its rate limits are in
``rates.py``): a queue of errors per Web API method or ``"response_url"``."""

from __future__ import annotations

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
        self._every: tuple[int, int, _Failure] | None = None  # (n, calls so far, failure)

    def every(self, n: int, error: str, *, status: int, retry_after: int) -> None:
        """Answer every ``n``-th Web API call (of any method) with ``error``: Slack's 429s
        arrive this way under load (https://docs.slack.dev/apis/web-api/rate-limits)."""
        self._every = (n, 0, _Failure(error, status, retry_after, 0)) if n > 0 else None

    def add(self, method: str, error: str, *, status: int, retry_after: int, times: int) -> None:
        self._queues.setdefault(method, []).append(_Failure(error, status, retry_after, times))

    def take(self, method: str) -> SlackError | None:
        """The error to answer this call of ``method`` with, if one is queued."""
        queue = self._queues.get(method)
        if not queue and self._every is not None and method != "response_url":
            n, calls, periodic = self._every
            self._every = (n, calls + 1, periodic)
            if (calls + 1) % n:
                return None
            return SlackError(
                periodic.error,
                status=periodic.status,
                retry_after=periodic.retry_after if periodic.status == 429 else None,
            )
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
