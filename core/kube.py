"""The Kubernetes access contract: a small async Protocol the rest of core is written against.

Objects travel as plain JSON dicts, exactly as the API server sends them (camelCase keys), so pure
functions (status, manifests) and the sandbox share one shape. Implementations map API failures to
the ``KrayneError`` hierarchy:

- 404 -> ``NotFound``; on a RayCluster ``ClusterNotFoundError``, for a namespace
  ``NamespaceNotFoundError``
- 409 AlreadyExists -> ``AlreadyExists`` (``ClusterAlreadyExistsError`` for a RayCluster);
  409 Conflict -> ``Conflict`` (re-read, re-apply)
- 401 -> ``Unauthorized``; 403 -> ``Forbidden`` (both ``PermissionDeniedError``); 403 "exceeded
  quota" -> ``QuotaExceededError``
- 410 Gone on a watch/list -> ``Gone`` alias ``WatchExpiredError`` (re-list, then watch again)
- 422 Invalid -> ``Invalid`` with the server's causes in the message
- 429 -> ``TooManyRequests`` with ``retry_after`` from the Retry-After header
- connection refused, TLS, timeouts, 5xx -> ``Unavailable`` (a ``KubeConnectionError``) naming the
  server address

The production implementation is ``core.kube_asyncio.KubernetesAsyncioClient``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, TypedDict

Obj = dict[str, Any]
WatchKind = Literal["rayclusters", "pods", "events"]
PatchType = Literal["merge", "json"]

MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=krayne"


class ObjectList(TypedDict):
    items: list[Obj]
    resourceVersion: str


class WatchEvent(TypedDict):
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
    object: Obj


class KubeClient(Protocol):
    """Everything krayne-bot asks of the Kubernetes API; ``namespace=None`` means all namespaces."""

    @property
    def server(self) -> str:
        """The API server's address, for messages."""
        ...

    async def get_raycluster(self, name: str, namespace: str) -> Obj: ...

    async def list_rayclusters(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> ObjectList: ...

    async def create_raycluster(self, body: Obj) -> Obj:
        """Create with ``fieldValidation=Strict`` so unknown fields are refused, not pruned."""
        ...

    async def replace_raycluster(self, body: Obj) -> Obj:
        """PUT; ``metadata.resourceVersion`` in ``body`` makes it optimistic (409 on conflict)."""
        ...

    async def patch_raycluster(
        self, name: str, namespace: str, patch: Any, *, patch_type: PatchType
    ) -> Obj: ...

    async def delete_raycluster(self, name: str, namespace: str) -> None: ...

    async def list_pods(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> ObjectList: ...

    async def list_events(
        self, namespace: str | None, *, field_selector: str | None = None
    ) -> ObjectList: ...

    async def read_pod_log(
        self,
        name: str,
        namespace: str,
        *,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
    ) -> str: ...

    async def get_secret(self, name: str, namespace: str) -> Obj: ...

    async def create_secret(self, body: Obj) -> Obj: ...

    async def patch_secret(self, name: str, namespace: str, patch: Obj) -> Obj:
        """Merge patch (hands a services Secret to its RayCluster as owner)."""
        ...

    async def delete_secret(self, name: str, namespace: str) -> None: ...

    async def get_configmap(self, name: str, namespace: str) -> Obj: ...

    async def create_configmap(self, body: Obj) -> Obj: ...

    async def patch_configmap(self, name: str, namespace: str, patch: Obj) -> Obj:
        """Merge patch: one key added or removed (``None``) without a read-modify-write."""
        ...

    async def create_event(self, body: Obj) -> Obj:
        """A core/v1 Event (the audit trail on a RayCluster, see ``core.audit``)."""
        ...

    def watch(
        self,
        kind: WatchKind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        """One watch request (with bookmarks); ends when the server closes it. 410 raises
        ``WatchExpiredError``. Reconnecting is the caller's job (see ``core.watching``)."""
        ...

    async def close(self) -> None: ...
