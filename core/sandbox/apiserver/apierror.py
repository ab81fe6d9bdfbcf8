"""API errors shaped like the Kubernetes API server's ``Status`` objects.

Every failure the sandbox reports, whether from the store or the HTTP layer, is an ``ApiError``
carrying the HTTP code and the machine-readable ``reason`` a real server uses, so clients
(kubectl, kubernetes-asyncio, krayne-bot's own error mapping) see exactly what production sends.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Kubernetes API failure: ``code`` (HTTP), ``reason`` (e.g. "NotFound"), ``message``."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource} | ({"group": group} if group else {})
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', details)


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource} | ({"group": group} if group else {})
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists', details)


def conflict(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource} | ({"group": group} if group else {})
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details,
    )


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]], group: str = "") -> ApiError:
    """422 Invalid; ``causes`` are (reason e.g. "FieldValueInvalid", field, message)."""
    qualified = f"{kind}.{group}" if group else kind
    summary = ", ".join(f"{field}: {msg}" if field else msg for _, field, msg in causes)
    if len(causes) > 1:
        summary = f"[{summary}]"
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes],
    }
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details)


def gone(requested: int, oldest: int) -> ApiError:
    """The watch cache no longer holds ``requested``: the client must re-list (410 Expired)."""
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")
