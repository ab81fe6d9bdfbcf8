"""HTTP answers and transport failures of the Kubernetes API -> the krayne error hierarchy.

Pure functions (no I/O) so the mapping the ``core.kube`` docstring promises is tested on its own,
and shared by every request and watch of ``core.kube_asyncio``.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from core.errors import (
    AlreadyExists,
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KrayneError,
    KubeApiError,
    NamespaceNotFoundError,
    NotFound,
    QuotaExceededError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request was about, so an HTTP status can become the right user-facing error."""

    kind: str  # "raycluster", "pod", "secret", "event", ...
    namespace: str | None = None
    name: str | None = None

    def describe(self) -> str:
        label = "RayCluster" if self.kind == "raycluster" else self.kind
        where = f" in namespace `{self.namespace}`" if self.namespace else ""
        return f"{label} `{self.name}`{where}" if self.name else f"{label}s{where}"


def status_body(raw: bytes | str | None) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode(errors="replace") if isinstance(raw, bytes) else raw}
    return body if isinstance(body, dict) else {}


def retry_after(
    headers: Mapping[str, str] | None, body: dict[str, Any], *, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a 429/503: the Retry-After header (delay-seconds or an HTTP-date,
    RFC 9110 §10.2.3), else the Status body's ``details.retryAfterSeconds`` (all a watch's ERROR
    event carries); ``None`` when neither says."""
    raw = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    if raw is not None:
        text = raw.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    seconds = (body.get("details") or {}).get("retryAfterSeconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return max(0.0, float(seconds))
    return None


def api_error(
    status: int,
    body: dict[str, Any],
    *,
    server: str,
    target: Target,
    headers: Mapping[str, str] | None = None,
) -> KrayneError:
    """Map one non-2xx answer (its ``Status`` body and headers) to the krayne error hierarchy:
    one class per answer a caller acts on (see ``core.errors``)."""
    message = str(body.get("message") or "").strip()
    reason = str(body.get("reason") or "") or None
    details = body.get("details") or {}
    if status == 401:
        return Unauthorized(
            f"The Kubernetes API at {server} refused the credentials (401 Unauthorized).",
            status=status,
            reason=reason,
            hint="Refresh the kubeconfig credentials or the bot's service account token.",
        )
    if status == 403:
        text = message or f"Access to {target.describe()} is forbidden."
        if "exceeded quota" in text:
            return QuotaExceededError(text, status=status, reason=reason)
        return Forbidden(text, status=status, reason=reason)
    if status == 404:
        if details.get("kind") == "namespaces":
            namespace = str(details.get("name") or target.namespace)
            return NamespaceNotFoundError(namespace, reason=reason)
        if target.kind == "raycluster" and target.name and target.namespace:
            return ClusterNotFoundError(target.name, target.namespace, reason=reason)
        return NotFound(
            message or f"{target.describe()} was not found.", status=status, reason=reason
        )
    if status == 409:
        if reason == "AlreadyExists":
            if target.kind == "raycluster" and target.name and target.namespace:
                return ClusterAlreadyExistsError(target.name, target.namespace, reason=reason)
            return AlreadyExists(
                message or f"{target.describe()} already exists.", status=status, reason=reason
            )
        return Conflict(
            message or f"{target.describe()} was changed meanwhile.",
            status=status,
            reason=reason or "Conflict",
        )
    if status == 410:
        return Gone(
            message or "The watch's resourceVersion is too old.",
            status=status,
            reason=reason or "Expired",
        )
    if status == 422:
        causes = [
            f"{c.get('field')}: {c.get('message')}" if c.get("field") else str(c.get("message"))
            for c in details.get("causes") or []
            if isinstance(c, dict)
        ]
        text = "; ".join(causes) or message
        return Invalid(
            f"Kubernetes rejected {target.describe()}: {text}",
            status=status,
            reason=reason or "Invalid",
        )
    if status == 429:
        return TooManyRequests(
            f"The Kubernetes API at {server} is busy (429): {message or 'too many requests'}",
            status=status,
            reason=reason or "TooManyRequests",
            retry_after=retry_after(headers, body),
        )
    if status >= 500:
        return Unavailable(
            f"The Kubernetes API at {server} failed ({status}): {message or 'server error'}",
            status=status,
            reason=reason,
        )
    return KubeApiError(
        message or f"The Kubernetes API answered {status} for {target.describe()}.",
        status=status,
        reason=reason,
    )


def connection_error(exc: BaseException, *, server: str) -> Unavailable:
    """Name the server and say in a few words why it could not be reached."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        why = "host name not found"
    elif isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        why = "TLS error"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        code = getattr(exc.os_error, "errno", None)
        why = {
            errno.ECONNREFUSED: "connection refused",
            errno.EHOSTUNREACH: "host unreachable",
            errno.ENETUNREACH: "network unreachable",
        }.get(code or -1, str(exc.os_error.strerror or exc.os_error or "cannot connect").lower())
    elif isinstance(exc, TimeoutError):
        why = "no answer in time (timed out)"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        why = "the server closed the connection"
    else:
        why = str(exc) or type(exc).__name__
    return Unavailable(f"Cannot reach the Kubernetes API at {server}: {why}")
