"""The production ``KubeClient``: kubernetes-asyncio over aiohttp, raw JSON in and out.

Why it looks the way it does:

- Every request goes through the generated API methods with ``_preload_content=False`` and the
  body is parsed here, so callers get the server's JSON exactly (no model round trip, no lost
  unknown fields) and every non-2xx answer, with its headers (a 429's Retry-After), passes
  through one error mapping (``core.kube_errors``).
- Each client owns its ``Configuration`` and ``ApiClient``; the library's global default
  configuration is never read or written, so two clients (two clusters, a sandbox and a real
  cluster) can live in one process.
- Watches are read line by line here rather than through ``kubernetes_asyncio.watch.Watch``:
  ``Watch()`` opens a second ``ApiClient`` built from the global default configuration,
  deserializes every object into models we would throw away, and silently retries a 410 when no
  ``timeout_seconds`` is given. Reconnecting and re-listing belong to ``core.watching``.
- A generated ``patch_*_custom_object`` sends ``application/json`` for a dict body (the API server
  answers 415), so the patch Content-Type is always forced.
- Leader election is kubernetes-asyncio's own (``LeaderElection`` over its ``LeaseLock``), with
  two fixes: every lock call has a deadline (a hung renewal must not outlive the lease), and a
  connection failure is a refused try instead of an exception that ends the election.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration, CoreV1Api, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.leaderelection.electionconfig import Config as ElectionConfig
from kubernetes_asyncio.leaderelection.leaderelection import LeaderElection
from kubernetes_asyncio.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

from core.errors import KubeApiError, KubeConnectionError
from core.kube import Obj, ObjectList, PatchType, WatchEvent, WatchKind
from core.kube_errors import Target, api_error, connection_error, status_body

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayclusters"
STRICT = "Strict"
PATCH_CONTENT_TYPES: dict[PatchType, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
_WATCH_READ_MARGIN = 30.0  # seconds of silence tolerated beyond the server-side watch timeout
log = logging.getLogger(__name__)


class KubernetesAsyncioClient:
    """``KubeClient`` over kubernetes-asyncio; build it with ``connect()``."""

    def __init__(self, api_client: ApiClient, *, request_timeout: float = 10) -> None:
        self._api = api_client
        self._custom = CustomObjectsApi(api_client)
        self._core = CoreV1Api(api_client)
        self._timeout = request_timeout

    @property
    def server(self) -> str:
        return str(self._api.configuration.host)

    # -- plumbing ---------------------------------------------------------------------------

    async def _send(
        self, call: Callable[..., Awaitable[Any]], target: Target, *args: Any, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """Send one request; return the (unread) response if 2xx, raise the mapped error if not."""
        kwargs.setdefault("_request_timeout", self._timeout)
        try:
            resp: aiohttp.ClientResponse = await call(*args, _preload_content=False, **kwargs)
            if resp.status < 300:
                return resp
            async with resp:
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise connection_error(exc, server=self.server) from exc
        raise api_error(
            resp.status, status_body(raw), server=self.server, target=target, headers=resp.headers
        )

    async def _json(
        self, call: Callable[..., Awaitable[Any]], target: Target, *args: Any, **kwargs: Any
    ) -> Obj:
        """Send one request and return its JSON object body (``{}`` for an empty body)."""
        resp = await self._send(call, target, *args, **kwargs)
        try:
            async with resp:
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise connection_error(exc, server=self.server) from exc
        cause: ValueError | None = None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError as exc:
            data, cause = None, exc
        if not isinstance(data, dict):
            raise KubeApiError(
                f"The Kubernetes API at {self.server} sent a body that is not a JSON object "
                f"for {target.describe()}."
            ) from cause
        return data

    @staticmethod
    def _as_list(data: dict[str, Any]) -> ObjectList:
        return {
            "items": list(data.get("items") or []),
            "resourceVersion": str((data.get("metadata") or {}).get("resourceVersion", "")),
        }

    # -- RayClusters ------------------------------------------------------------------------

    async def _raycluster(
        self, call: Callable[..., Awaitable[Any]], namespace: str, name: str | None,
        *args: Any, **kwargs: Any,
    ) -> Obj:  # fmt: skip
        """One request on ray.io/v1 rayclusters in ``namespace``; ``args`` follow the plural."""
        target = Target("raycluster", namespace, name)
        return await self._json(call, target, GROUP, VERSION, namespace, PLURAL, *args, **kwargs)

    async def get_raycluster(self, name: str, namespace: str) -> Obj:
        return await self._raycluster(
            self._custom.get_namespaced_custom_object, namespace, name, name
        )

    async def list_rayclusters(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> ObjectList:
        return await self._list("rayclusters", namespace, label_selector=label_selector)

    async def create_raycluster(self, body: Obj) -> Obj:
        meta = body.get("metadata") or {}
        return await self._raycluster(
            self._custom.create_namespaced_custom_object,
            str(meta.get("namespace") or "default"),
            meta.get("name"),
            body,
            field_validation=STRICT,
        )

    async def replace_raycluster(self, body: Obj) -> Obj:
        meta = body.get("metadata") or {}
        name = str(meta.get("name"))
        return await self._raycluster(
            self._custom.replace_namespaced_custom_object,
            str(meta.get("namespace") or "default"),
            name,
            name,
            body,
            field_validation=STRICT,
        )

    async def patch_raycluster(
        self, name: str, namespace: str, patch: Any, *, patch_type: PatchType
    ) -> Obj:
        return await self._raycluster(
            self._custom.patch_namespaced_custom_object,
            namespace,
            name,
            name,
            patch,
            field_validation=STRICT,
            _content_type=PATCH_CONTENT_TYPES[patch_type],
        )

    async def delete_raycluster(self, name: str, namespace: str) -> None:
        await self._raycluster(
            self._custom.delete_namespaced_custom_object,
            namespace,
            name,
            name,
            propagation_policy="Background",
        )

    # -- core objects -----------------------------------------------------------------------

    async def list_pods(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> ObjectList:
        return await self._list("pods", namespace, label_selector=label_selector)

    async def list_events(
        self, namespace: str | None, *, field_selector: str | None = None
    ) -> ObjectList:
        return await self._list("events", namespace, field_selector=field_selector)

    async def _list(
        self, kind: WatchKind, namespace: str | None, **selectors: str | None
    ) -> ObjectList:
        """One LIST, through the same call a watch of ``kind`` uses."""
        call, args = self._watch_call(kind, namespace)
        given = {key: value for key, value in selectors.items() if value}
        target = Target(kind.removesuffix("s"), namespace)
        return self._as_list(await self._json(call, target, *args, **given))

    async def read_pod_log(
        self,
        name: str,
        namespace: str,
        *,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
    ) -> str:
        kw: dict[str, Any] = {"previous": previous}
        if container:
            kw["container"] = container
        if tail_lines is not None:
            kw["tail_lines"] = tail_lines
        resp = await self._send(
            self._core.read_namespaced_pod_log,
            Target("pod", namespace, name),
            name,
            namespace,
            **kw,
        )
        try:
            async with resp:
                return (await resp.read()).decode("utf-8", errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise connection_error(exc, server=self.server) from exc

    async def get_secret(self, name: str, namespace: str) -> Obj:
        return await self._json(
            self._core.read_namespaced_secret, Target("secret", namespace, name), name, namespace
        )

    async def create_secret(self, body: Obj) -> Obj:
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        return await self._json(
            self._core.create_namespaced_secret,
            Target("secret", namespace, meta.get("name")),
            namespace,
            body,
        )

    async def patch_secret(self, name: str, namespace: str, patch: Obj) -> Obj:
        """Merge-patch a Secret (used to hand a services Secret to its RayCluster as owner)."""
        return await self._json(
            self._core.patch_namespaced_secret,
            Target("secret", namespace, name),
            name,
            namespace,
            patch,
            _content_type=PATCH_CONTENT_TYPES["merge"],
        )

    async def get_configmap(self, name: str, namespace: str) -> Obj:
        return await self._json(
            self._core.read_namespaced_config_map,
            Target("configmap", namespace, name),
            name,
            namespace,
        )

    async def create_configmap(self, body: Obj) -> Obj:
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        return await self._json(
            self._core.create_namespaced_config_map,
            Target("configmap", namespace, meta.get("name")),
            namespace,
            body,
        )

    async def patch_configmap(self, name: str, namespace: str, patch: Obj) -> Obj:
        return await self._json(
            self._core.patch_namespaced_config_map,
            Target("configmap", namespace, name),
            name,
            namespace,
            patch,
            _content_type=PATCH_CONTENT_TYPES["merge"],
        )

    async def delete_secret(self, name: str, namespace: str) -> None:
        """Delete a Secret (cleanup of a services Secret whose RayCluster was refused)."""
        await self._json(
            self._core.delete_namespaced_secret, Target("secret", namespace, name), name, namespace
        )

    async def create_event(self, body: Obj) -> Obj:
        """Create a core/v1 Event (the audit trail ``kubectl describe raycluster`` shows)."""
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        return await self._json(
            self._core.create_namespaced_event,
            Target("event", namespace, meta.get("name")),
            namespace,
            body,
        )

    # -- watch ------------------------------------------------------------------------------

    def _watch_call(self, kind: WatchKind, namespace: str | None) -> tuple[Any, tuple[Any, ...]]:
        """The generated client's LIST method for ``kind`` (cluster-wide or namespaced)."""
        if kind == "rayclusters":
            if namespace is None:
                return self._custom.list_cluster_custom_object, (GROUP, VERSION, PLURAL)
            return self._custom.list_namespaced_custom_object, (GROUP, VERSION, namespace, PLURAL)
        if kind == "pods":
            if namespace is None:
                return self._core.list_pod_for_all_namespaces, ()
            return self._core.list_namespaced_pod, (namespace,)
        if namespace is None:
            return self._core.list_event_for_all_namespaces, ()
        return self._core.list_namespaced_event, (namespace,)

    async def watch(
        self,
        kind: WatchKind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        """One watch request with bookmarks, raw events; 410 (answer or ERROR event) raises
        ``Gone`` (``WatchExpiredError``); a stream silent past the server's timeout raises
        ``Unavailable``."""
        call, args = self._watch_call(kind, namespace)
        target = Target(kind.removesuffix("s"), namespace)
        kw: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout_seconds,
        }
        if label_selector:
            kw["label_selector"] = label_selector
        if field_selector:
            kw["field_selector"] = field_selector
        if resource_version:
            kw["resource_version"] = resource_version
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout, sock_read=timeout_seconds + _WATCH_READ_MARGIN
        )
        resp = await self._send(call, target, *args, _request_timeout=timeout, **kw)
        try:
            while True:
                try:
                    line = await resp.content.readline()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise connection_error(exc, server=self.server) from exc
                if not line:
                    return
                if not line.strip():
                    continue
                event = _parse_event(line, server=self.server)
                if event["type"] == "ERROR":
                    obj = event["object"]
                    code = int(obj.get("code") or 500)
                    raise api_error(code, obj, server=self.server, target=target)
                yield event
        finally:
            resp.close()

    async def close(self) -> None:
        await self._api.close()

    # -- leader election --------------------------------------------------------------------

    async def elect(
        self, lease: tuple[str, str], identity: str, timing: tuple[float, float, float],
        on_started: Callable[[], Coroutine[Any, Any, None]],
        on_stopped: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:  # fmt: skip
        """One election over the Lease ``(namespace, name)``: campaigns until it leads, runs
        ``on_started`` as a task while it renews, and returns once a renewal failed for longer
        than the renew deadline (after ``on_stopped``). ``timing`` is (lease duration, renew
        deadline, retry period) in seconds."""
        duration, deadline, retry = timing
        lock = _DeadlineLeaseLock(lease, identity, self._api, timeout=retry)
        # The Lease records whole seconds (the library would choke on "2.0"): never less.
        whole = math.ceil(duration)
        config = ElectionConfig(lock, whole, deadline, retry, on_started, on_stopped)
        await LeaderElection(config).run()

    async def release_lease(self, lease: tuple[str, str], identity: str) -> None:
        """Give the Lease up if ``identity`` holds it (clean shutdown), so the next candidate
        takes over at its next try rather than after the lease duration."""
        namespace, name = lease
        lock = _DeadlineLeaseLock(lease, identity, self._api, timeout=self._timeout)
        found, record = await lock.get(name, namespace)
        held = lock.lease_reference
        if not found or held is None or held.spec is None:
            return
        if not isinstance(record, LeaderElectionRecord) or record.holder_identity != identity:
            return
        held.spec.holder_identity = None  # type: ignore[assignment]  # the API allows it
        held.spec.lease_duration_seconds = 1
        try:
            async with asyncio.timeout(self._timeout):
                await lock.api_instance.replace_namespaced_lease(name, namespace, held)
        except (ApiException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not release the lease %s/%s: %s", namespace, name, exc)


class _DeadlineLeaseLock(LeaseLock):
    """kubernetes-asyncio's ``LeaseLock``, each call bounded by ``timeout`` and a lost
    connection answered as a failed try (the library only expects ``ApiException``)."""

    def __init__(
        self, lease: tuple[str, str], identity: str, api: ApiClient, *, timeout: float
    ) -> None:
        super().__init__(lease[1], lease[0], identity, api)
        self._deadline = timeout

    async def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        try:
            async with asyncio.timeout(self._deadline):
                return await super().get(name, namespace)
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = ApiException(status=503, reason=f"{type(exc).__name__}: {exc}")
            failure.body = json.dumps({"code": 503, "message": str(exc)}).encode()
            return False, failure

    async def create(self, name: str, namespace: str, election_record: Any) -> bool:
        return await self._bounded(super().create(name, namespace, election_record))

    async def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        return await self._bounded(super().update(name, namespace, updated_record))

    async def _bounded(self, call: Awaitable[bool]) -> bool:
        try:
            async with asyncio.timeout(self._deadline):
                return await call
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            return False


def _parse_event(line: bytes, *, server: str) -> Any:
    """One watch line -> ``{"type", "object"}`` with the object as raw JSON."""
    try:
        event = json.loads(line)
        kind, obj = event["type"], event["object"]
    except (ValueError, KeyError, TypeError) as exc:
        raise KubeApiError(f"Malformed watch event from {server}: {line[:200]!r}") from exc
    if not isinstance(obj, dict):
        raise KubeApiError(f"Malformed watch event from {server}: {line[:200]!r}")
    return {"type": kind, "object": obj}


def _kubeconfig_path(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG")
    if env:
        return env
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else None


def _check_exists(path: str | None) -> None:
    """The loader would only say "Expected key current-context" about a missing file."""
    if path and os.pathsep not in path and not Path(path).is_file():
        raise kube_config.ConfigException("the file does not exist")


async def connect(
    kubeconfig: str | None = None, context: str | None = None, *, request_timeout: float = 10
) -> KubernetesAsyncioClient:
    """A client from ``kubeconfig`` (+``context``), else $KUBECONFIG or ~/.kube/config, else the
    pod's in-cluster service account. Raises ``KubeConnectionError`` if none is usable."""
    configuration = Configuration()
    path = _kubeconfig_path(kubeconfig)
    try:
        _check_exists(path)
        if path:
            await kube_config.load_kube_config(
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif context:
            raise kube_config.ConfigException(f"context {context!r} given but no kubeconfig found")
        else:
            kube_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
    except (kube_config.ConfigException, OSError, ValueError) as exc:
        source = f"kubeconfig {path}" if path else "in-cluster service account"
        raise KubeConnectionError(
            f"Cannot load the Kubernetes configuration ({source}): {exc}",
            hint="Pass --kubeconfig (and --context), set KUBECONFIG, or run inside a pod.",
        ) from exc
    return KubernetesAsyncioClient(ApiClient(configuration), request_timeout=request_timeout)
