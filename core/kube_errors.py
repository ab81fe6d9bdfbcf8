"""HTTP answers and transport failures of the Kubernetes API -> the krayne error hierarchy.

Pure functions (no I/O) so the mapping the ``core.kube`` docstring promises is tested on its own,
and shared by every request and watch of ``core.kube_asyncio``.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.errors import (
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    KrayneError,
    KubeApiError,
    KubeConnectionError,
    NamespaceNotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    WatchExpiredError,
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


def api_error(status: int, body: dict[str, Any], *, server: str, target: Target) -> KrayneError:
    """Map one non-2xx answer (its ``Status`` body) to the krayne error hierarchy."""
    message = str(body.get("message") or "").strip()
    reason = str(body.get("reason") or "") or None
    details = body.get("details") or {}
    if status == 401:
        return PermissionDeniedError(
            f"The Kubernetes API at {server} refused the credentials (401 Unauthorized).",
            status=status,
            reason=reason,
            hint="Refresh the kubeconfig credentials or the bot's service account token.",
        )
    if status == 403:
        text = message or f"Access to {target.describe()} is forbidden."
        if "exceeded quota" in text:
            return QuotaExceededError(text, status=status, reason=reason)
        return PermissionDeniedError(text, status=status, reason=reason)
    if status == 404:
        if details.get("kind") == "namespaces":
            namespace = str(details.get("name") or target.namespace)
            return NamespaceNotFoundError(namespace, reason=reason)
        if target.kind == "raycluster" and target.name and target.namespace:
            return ClusterNotFoundError(target.name, target.namespace, reason=reason)
    if (
        status == 409
        and reason == "AlreadyExists"
        and target.kind == "raycluster"
        and (target.name and target.namespace)
    ):
        return ClusterAlreadyExistsError(target.name, target.namespace, reason=reason)
    if status == 410:
        return WatchExpiredError(
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
        return KubeApiError(
            f"Kubernetes rejected {target.describe()}: {text}",
            status=status,
            reason=reason or "Invalid",
        )
    if status >= 500:
        return KubeConnectionError(
            f"The Kubernetes API at {server} failed ({status}): {message or 'server error'}",
            status=status,
            reason=reason,
        )
    return KubeApiError(
        message or f"The Kubernetes API answered {status} for {target.describe()}.",
        status=status,
        reason=reason,
    )


def connection_error(exc: BaseException, *, server: str) -> KubeConnectionError:
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
    return KubeConnectionError(f"Cannot reach the Kubernetes API at {server}: {why}")
