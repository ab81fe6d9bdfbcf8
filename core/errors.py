"""One exception hierarchy for everything krayne-bot can get wrong.

Each error carries a one-line ``message`` (what went wrong, in user terms), an optional ``hint``
(what to do about it) and, where it came from an HTTP API, the ``status`` code and ``reason``.
The Slack layer renders ``message`` + ``hint``; nothing else of an exception ever reaches a user.

Callers act on the class, never on ``status``: every Kubernetes answer a caller treats
differently has its own class below ``KubeApiError`` (as kopf's ``APIConflictError``,
``APITooManyRequestsError`` & co. in ``kopf/_cogs/clients/errors.py``), and a class may be refined
for users (a ``NotFound`` on a RayCluster is a ``ClusterNotFoundError``).

    KrayneError
    ├── ConfigValidationError          bad flags / YAML; one line per problem in ``problems``
    ├── ClusterTimeoutError            wait_until_ready ran out of time
    ├── ClusterFailedError             the cluster reached a failure phase (carries the status)
    ├── KubeConnectionError            the Kubernetes API cannot be used (config, no answer, 5xx)
    │   └── Unavailable                no answer (refused, TLS, timeout) or 5xx: retry later
    ├── PermissionDeniedError          refused by policy, or (below) by the API server
    │   ├── Unauthorized               401: the credentials are no longer accepted
    │   └── Forbidden                  403: RBAC (or an admission webhook) refuses the request
    ├── QuotaExceededError             a ResourceQuota (403 "exceeded quota") or a policy quota
    ├── KubeApiError                   an answer from the API server (``status``/``reason`` set)
    │   ├── Unauthorized, Forbidden    (also PermissionDeniedError, above)
    │   ├── NotFound                   404
    │   │   ├── ClusterNotFoundError   the RayCluster does not exist
    │   │   └── NamespaceNotFoundError the namespace does not exist
    │   ├── AlreadyExists              409 reason AlreadyExists: a create found the name taken
    │   │   └── ClusterAlreadyExistsError
    │   ├── Conflict                   409 reason Conflict: stale resourceVersion; re-read, retry
    │   │   └── ConflictError          an optimistic-concurrency write lost too many times
    │   ├── Gone (= WatchExpiredError) 410: the resourceVersion is too old; re-list
    │   ├── Invalid                    422: the object was rejected; causes in the message
    │   └── TooManyRequests            429: wait ``retry_after`` seconds (Retry-After), then retry
    └── SandboxError                   the embedded sandbox could not start or was misused
"""

# The classes for Kubernetes answers are named after the API's StatusReason (metav1.StatusReason:
# NotFound, AlreadyExists, Conflict, Gone, Invalid, TooManyRequests, ...), not "...Error".
# ruff: noqa: N818

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.status import ClusterStatus


ECHO_LIMIT = 60
"""The most characters of user input an error message repeats (a cluster name is at most 53)."""


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """User input as an error message repeats it: control characters escaped, at most ``limit``
    characters with an ellipsis marking the cut, so a 10,000-character name comes back short."""
    try:
        raw = value if isinstance(value, str) else repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        raw = "a very large number"
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw[: limit + 1])
    return text if len(raw) <= limit and len(text) <= limit else text[: limit - 1] + "…"


class KrayneError(Exception):
    """Base class: ``str(err)`` is the user-facing message; ``hint`` says what to do."""

    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class ConfigValidationError(KrayneError):
    """The cluster configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str], *, hint: str | None = None) -> None:
        self.problems = list(problems) or ["the configuration is invalid"]
        super().__init__("\n".join(self.problems), hint=hint)


class ClusterTimeoutError(KrayneError):
    default_hint = "The cluster may still become ready: check it with `/krayne describe NAME`."


class ClusterFailedError(KrayneError):
    """The cluster reached a failure phase; ``cluster_status`` says which and why."""

    def __init__(self, message: str, *, cluster_status: ClusterStatus, **kwargs: Any) -> None:
        self.cluster_status = cluster_status
        kwargs.setdefault("hint", cluster_status.hint)
        super().__init__(message, **kwargs)


class KubeConnectionError(KrayneError):
    """The Kubernetes API cannot be used: no usable configuration, no answer, or a 5xx."""

    default_hint = (
        "Check that the Kubernetes API server is up and that your kubeconfig points to it."
    )


class Unavailable(KubeConnectionError):
    """No answer (refused, TLS, timed out, dropped) or a 5xx: the request may succeed later.

    ``status`` is ``None`` when no answer came at all; the request may then have landed."""


class PermissionDeniedError(KrayneError):
    default_hint = "Ask an admin for access, or check the bot's RBAC (deploy/rbac.yaml)."


class QuotaExceededError(KrayneError):
    default_hint = "Delete a cluster you no longer need, or ask for fewer resources."


class KubeApiError(KrayneError):
    """An answer from the API server; ``status`` and ``reason`` say which. Subclasses name the
    answers callers act on; a bare ``KubeApiError`` is one no caller treats specially."""


class Unauthorized(KubeApiError, PermissionDeniedError):
    """401: the API server no longer accepts the credentials (the bot is useless until fixed)."""


class Forbidden(KubeApiError, PermissionDeniedError):
    """403: RBAC or an admission webhook refuses this request; other requests may still work."""


class NotFound(KubeApiError):
    """404: the object (or its namespace) does not exist."""


class ClusterNotFoundError(NotFound):
    default_hint = "Run `/krayne list` to see the clusters that exist."

    def __init__(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.name = name
        self.namespace = namespace
        kwargs.setdefault("status", 404)
        super().__init__(
            f"Cluster `{echo(name)}` was not found in namespace `{echo(namespace)}`.", **kwargs
        )


class NamespaceNotFoundError(NotFound):
    default_hint = "Ask a cluster admin to create the namespace, or pass `-n` with one that exists."

    def __init__(self, namespace: str, **kwargs: Any) -> None:
        self.namespace = namespace
        kwargs.setdefault("status", 404)
        super().__init__(f"Namespace `{echo(namespace)}` does not exist.", **kwargs)


class AlreadyExists(KubeApiError):
    """409 reason AlreadyExists: a create found the name taken."""


class ClusterAlreadyExistsError(AlreadyExists):
    default_hint = "Pick another name, or `/krayne delete NAME` the old cluster first."

    def __init__(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.name = name
        self.namespace = namespace
        kwargs.setdefault("status", 409)
        kwargs.setdefault("reason", "AlreadyExists")
        super().__init__(f"Cluster `{name}` already exists in namespace `{namespace}`.", **kwargs)


class Conflict(KubeApiError):
    """409 reason Conflict: the write carried a stale resourceVersion; read again and re-apply."""

    default_hint = "Someone else changed it at the same moment; try again."


class ConflictError(Conflict):
    """A ``Conflict`` that outlived every retry of an optimistic-concurrency write."""

    default_hint = "Someone else is changing this cluster right now; try again in a moment."

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("status", 409)
        kwargs.setdefault("reason", "Conflict")
        super().__init__(message, **kwargs)


class Gone(KubeApiError):
    """410 Gone/Expired: the watch's resourceVersion has expired; list again, watch from there."""


WatchExpiredError = Gone
"""The name the watch code knows ``Gone`` by."""


class Invalid(KubeApiError):
    """422 Invalid: the object was rejected; the server's causes are in the message."""


class TooManyRequests(KubeApiError):
    """429: the API server (max-in-flight or priority-and-fairness) sheds load.

    ``retry_after`` is the server's Retry-After in seconds, ``None`` if it sent none; a caller
    that retries waits at least that long."""

    default_hint = "The Kubernetes API is busy; try again in a few seconds."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("status", 429)
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class SandboxError(KrayneError):
    pass
