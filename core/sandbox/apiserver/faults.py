"""Fault injection: make the sandbox misbehave on purpose so tests can prove resilience.

``fail_next`` answers the next N matching requests with an error Status (500 InternalError,
429 TooManyRequests with Retry-After, 403 Forbidden, ...); ``set_latency`` delays every
request; ``drop_watches`` ends every open watch; ``expire_resource_versions`` compacts the
history so resuming a watch from any earlier resourceVersion gets 410 Expired. All of it runs
on the sandbox's loop; ``runner`` offers thread-safe wrappers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.sandbox.apiserver.apierror import ApiError

if TYPE_CHECKING:
    from core.sandbox.apiserver.store import Store

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class _Failure:
    remaining: int
    status: int
    reason: str
    message: str
    path_contains: str | None
    retry_after: int | None


class Faults:
    """The sandbox's fault switches (one instance per API server)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._failures: list[_Failure] = []
        self.latency = 0.0
        self.dropped_watches = 0

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        reason: str | None = None,
        *,
        message: str | None = None,
        path_contains: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``n`` requests (optionally only paths containing ``path_contains``)."""
        reason = reason or _REASONS.get(status, "InternalError")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.append(
            _Failure(
                n,
                status,
                reason,
                message or f"injected fault: {reason}",
                path_contains,
                retry_after,
            )
        )

    def set_latency(self, seconds: float) -> None:
        self.latency = max(0.0, seconds)

    def drop_watches(self) -> int:
        count = self._store.close_watches()
        self.dropped_watches += count
        return count

    def expire_resource_versions(self) -> None:
        self._store.expire_history()

    def clear(self) -> None:
        self._failures.clear()
        self.latency = 0.0

    def take(self, path: str) -> ApiError | None:
        """The injected error for this request, if any (consumes one count)."""
        for failure in self._failures:
            if failure.path_contains and failure.path_contains not in path:
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            details = {"retryAfterSeconds": failure.retry_after} if failure.retry_after else None
            return ApiError(
                failure.status, failure.reason, failure.message, details, headers=headers
            )
        return None

    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        """The admin endpoint's JSON body: any of fail_next, latency, drop_watches, expire."""
        result: dict[str, Any] = {}
        if "fail_next" in command:
            spec = dict(command["fail_next"])
            self.fail_next(
                int(spec.get("n", 1)),
                int(spec.get("status", 500)),
                spec.get("reason"),
                message=spec.get("message"),
                path_contains=spec.get("path_contains"),
                retry_after=spec.get("retry_after"),
            )
        if "latency" in command:
            self.set_latency(float(command["latency"]))
        if command.get("drop_watches"):
            result["dropped_watches"] = self.drop_watches()
        if command.get("expire_resource_versions"):
            self.expire_resource_versions()
        if command.get("clear"):
            self.clear()
        result["pending_failures"] = sum(f.remaining for f in self._failures)
        result["latency"] = self.latency
        return result
