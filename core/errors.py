"""One exception hierarchy for everything krayne-bot can get wrong.

Each error carries a one-line ``message`` (what went wrong, in user terms), an optional ``hint``
(what to do about it) and, where it came from an HTTP API, the ``status`` code and ``reason``.
The Slack layer renders ``message`` + ``hint``; nothing else of an exception ever reaches a user.

    KrayneError
    ├── ConfigValidationError      bad flags / YAML; one line per problem in ``problems``
    ├── ClusterNotFoundError       404 on the RayCluster
    ├── ClusterAlreadyExistsError  409 AlreadyExists on create
    ├── ClusterTimeoutError        wait_until_ready ran out of time
    ├── ClusterFailedError         the cluster reached a failure phase (carries the status)
    ├── KubeConnectionError        the API server could not be reached / timed out / 5xx
    ├── NamespaceNotFoundError     the namespace does not exist
    ├── PermissionDeniedError      401/403 from the API server, or refused by policy
    ├── QuotaExceededError         a ResourceQuota or a policy quota forbids it
    ├── ConflictError              an optimistic-concurrency write lost too many times
    ├── KubeApiError               any other API answer (``status``/``reason`` set)
    │   └── WatchExpiredError      410 Gone: the resourceVersion is too old; re-list
    └── SandboxError               the embedded sandbox could not start or was misused
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.status import ClusterStatus


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


class ClusterNotFoundError(KrayneError):
    default_hint = "Run `/krayne list` to see the clusters that exist."

    def __init__(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.name = name
        self.namespace = namespace
        kwargs.setdefault("status", 404)
        super().__init__(f"Cluster `{name}` was not found in namespace `{namespace}`.", **kwargs)


class ClusterAlreadyExistsError(KrayneError):
    default_hint = "Pick another name, or `/krayne delete NAME` the old cluster first."

    def __init__(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.name = name
        self.namespace = namespace
        kwargs.setdefault("status", 409)
        super().__init__(f"Cluster `{name}` already exists in namespace `{namespace}`.", **kwargs)


class ClusterTimeoutError(KrayneError):
    default_hint = "The cluster may still become ready: check it with `/krayne describe NAME`."


class ClusterFailedError(KrayneError):
    """The cluster reached a failure phase; ``cluster_status`` says which and why."""

    def __init__(self, message: str, *, cluster_status: ClusterStatus, **kwargs: Any) -> None:
        self.cluster_status = cluster_status
        kwargs.setdefault("hint", cluster_status.hint)
        super().__init__(message, **kwargs)


class KubeConnectionError(KrayneError):
    default_hint = (
        "Check that the Kubernetes API server is up and that your kubeconfig points to it."
    )


class NamespaceNotFoundError(KrayneError):
    default_hint = "Ask a cluster admin to create the namespace, or pass `-n` with one that exists."

    def __init__(self, namespace: str, **kwargs: Any) -> None:
        self.namespace = namespace
        kwargs.setdefault("status", 404)
        super().__init__(f"Namespace `{namespace}` does not exist.", **kwargs)


class PermissionDeniedError(KrayneError):
    default_hint = "Ask an admin for access, or check the bot's RBAC (deploy/rbac.yaml)."


class QuotaExceededError(KrayneError):
    default_hint = "Delete a cluster you no longer need, or ask for fewer resources."


class ConflictError(KrayneError):
    default_hint = "Someone else is changing this cluster right now; try again in a moment."


class KubeApiError(KrayneError):
    """An API answer with no more specific meaning; ``status`` and ``reason`` say which."""


class WatchExpiredError(KubeApiError):
    """410 Gone: the watch's resourceVersion has expired; list again and watch from there."""


class SandboxError(KrayneError):
    pass
