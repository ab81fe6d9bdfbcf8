"""Failures the Slack double can be told to produce on purpose (its rate limits are in
``rates.py``): a queue of errors per Web API method or ``"response_url"``, errors every n-th
call (of any method, or of one), and answers held back past a client's timeout."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.slack_double.records import SlackError


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int
    times: int

    def raised(self) -> SlackError:
        return SlackError(
            self.error,
            status=self.status,
            retry_after=self.retry_after if self.status == 429 else None,
        )


@dataclass
class _Every:
    """Every ``n``-th call (of ``method``, or of any method when None) is answered so."""

    n: int
    calls: int = 0

    def due(self) -> bool:
        self.calls += 1
        return self.calls % self.n == 0


class InjectedFailures:
    """Queued failures per Web API method (or ``"response_url"``), consumed in order."""

    def __init__(self) -> None:
        self._queues: dict[str, list[_Failure]] = {}
        # method (None: any Web API method) -> (schedule, failure); the queues come first.
        self._every: dict[str | None, tuple[_Every, _Failure]] = {}
        self._late: dict[str, tuple[_Every, float]] = {}

    def every(
        self, n: int, error: str, *, status: int, retry_after: int, method: str | None = None
    ) -> None:
        """Answer every ``n``-th Web API call (of any method, or of ``method``) with ``error``:
        Slack's 429s arrive this way under load (https://docs.slack.dev/apis/web-api/rate-limits),
        and 5xx in an outage, after which "it's possible some aspect of the operation
        succeeded" (``internal_error``, https://docs.slack.dev/reference/methods/chat.postMessage).
        ``n = 0`` stops it."""
        self._every.pop(method, None)
        if n > 0:
            self._every[method] = (_Every(n), _Failure(error, status, retry_after, 0))

    def late(self, method: str, n: int, seconds: float) -> None:
        """Hold back the answer to every ``n``-th successful call of ``method`` by ``seconds``:
        what was asked is done (a message is posted) but a client with a shorter timeout never
        hears so. ``n = 0`` stops it."""
        self._late.pop(method, None)
        if n > 0:
            self._late[method] = (_Every(n), seconds)

    def add(self, method: str, error: str, *, status: int, retry_after: int, times: int) -> None:
        self._queues.setdefault(method, []).append(_Failure(error, status, retry_after, times))

    def take(self, method: str) -> SlackError | None:
        """The error to answer this call of ``method`` with, if one is queued or due."""
        queue = self._queues.get(method)
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure.raised()
        if method == "response_url":
            return None
        due = None
        for key in (method, None):  # each schedule counts the calls it covers
            if key in self._every:
                schedule, failure = self._every[key]
                if schedule.due() and due is None:
                    due = failure.raised()
        return due

    def delay(self, method: str) -> float:
        """Seconds to hold back the answer to this (successful) call of ``method``."""
        if method not in self._late:
            return 0.0
        schedule, seconds = self._late[method]
        return seconds if schedule.due() else 0.0


class FaultInjection:
    """What a test tells the double to get wrong (``SlackDouble`` mixes it in; its lock guards
    the injected failures, which its request handlers consume)."""

    _lock: threading.RLock
    _failures: InjectedFailures

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        *,
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (or ``"response_url"``) with ``error``.

        ``ratelimited`` defaults to HTTP 429 with ``Retry-After``; other errors to HTTP 200
        ``ok: false``; pass ``status=500`` (or 503) for a server error."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        with self._lock:
            self._failures.add(method, error, status=status, retry_after=retry_after, times=times)

    def fail_every(
        self, n: int, error: str = "ratelimited", *, retry_after: int = 1,
        method: str | None = None, status: int | None = None,
    ) -> None:  # fmt: skip
        """Answer every ``n``-th Web API call (or call of ``method``) with ``error``
        (``ratelimited``: HTTP 429 with ``Retry-After``; pass ``status=503`` for a server
        error); ``n = 0`` stops it."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        with self._lock:
            self._failures.every(n, error, status=status, retry_after=retry_after, method=method)

    def answer_late(self, method: str, *, every: int, seconds: float) -> None:
        """Do every ``every``-th call of ``method`` (the message is posted) but answer it only
        ``seconds`` later: past the client's timeout, the caller cannot tell whether Slack
        acted. ``every = 0`` stops it."""
        with self._lock:
            self._failures.late(method, every, seconds)
