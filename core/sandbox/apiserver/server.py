"""The sandbox's Kubernetes API server over HTTP (aiohttp), for kubectl and kubernetes-asyncio.

Request path: record it, apply injected faults (latency, errors), authenticate and authorize
(optional hooks, see ``authz_types``), then route: discovery and OpenAPI documents, the admin
endpoints under ``/_sandbox/``, or a resource request handled by ``handlers``/``watchstream``.
Every failure leaves as a ``Status`` object with the real server's code and reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from core.sandbox.apiserver import discovery
from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.authz_types import (
    Authenticator,
    Authorizer,
    RequestAttributes,
    UserInfo,
)
from core.sandbox.apiserver.faults import Faults
from core.sandbox.apiserver.handlers import LogReader, ResourceHandlers, json_response, read_json
from core.sandbox.apiserver.requestinfo import ResourceRequest, parse_resource_path, verb_of
from core.sandbox.apiserver.store import Store
from core.sandbox.apiserver.watchstream import serve_watch

log = logging.getLogger(__name__)

RequestRecord = tuple[str, str, str]  # (method, path, query string)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ADMIN = "/_sandbox/"
_ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


class ApiServer:
    """Serves ``store`` over HTTP; ``start()`` binds (port 0 picks a free port)."""

    def __init__(
        self,
        store: Store,
        *,
        faults: Faults | None = None,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer | None = None,
        log_reader: LogReader | None = None,
        bookmark_interval: float = 30.0,
        default_watch_timeout: float = 1800.0,
        max_recorded_requests: int = 100_000,
    ) -> None:
        self.store = store
        self.faults = faults or Faults(store)
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self.requests: deque[RequestRecord] = deque(maxlen=max_recorded_requests)
        self.handlers = ResourceHandlers(store, clock=self.clock, log_reader=log_reader)
        self.app = web.Application(middlewares=[self._middleware], client_max_size=16 * 2**20)
        self.app.router.add_route("*", "/{tail:.*}", self._route)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def clock(self) -> datetime:
        return self.store.now()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(
            self.app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=2.0,
            handler_cancellation=True,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        bound = server.sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}"
        return self.url

    async def close(self) -> None:
        self.store.close_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---------------------------------------------------------- middleware
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        admin = request.path.startswith(_ADMIN)
        try:
            if not admin:
                self.requests.append((request.method, request.path, request.query_string))
                if self.faults.latency:
                    await asyncio.sleep(self.faults.latency)
                injected = self.faults.take(request.path)
                if injected is not None:
                    raise injected
            return await handler(request)
        except ApiError as err:
            return json_response(err.to_status(), err.code, err.headers)
        except web.HTTPException:
            raise
        except Exception as err:  # a sandbox bug must still answer like a server
            log.exception("sandbox API server failed on %s %s", request.method, request.path_qs)
            status = ApiError(500, "InternalError", f"Internal error occurred: {err}")
            return json_response(status.to_status(), 500)

    def _check_access(self, request: web.Request, rr: ResourceRequest | None) -> None:
        if self.authenticator is None and self.authorizer is None:
            return
        user = _ANONYMOUS
        if self.authenticator is not None:
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else None
            found = self.authenticator(token)
            if found is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            user = found
        if self.authorizer is None or rr is None:
            return
        verb = verb_of(request.method, rr, watch=_is_watch(request, rr))
        attrs = RequestAttributes(
            user=user,
            verb=verb,
            api_group=rr.rt.group,
            resource=rr.resource,
            subresource=rr.subresource,
            namespace=rr.namespace,
            name=rr.name,
        )
        denied = self.authorizer(attrs)
        if denied is not None:
            details = {"name": rr.name, "kind": rr.resource} | (
                {"group": rr.rt.group} if rr.rt.group else {}
            )
            raise ApiError(403, "Forbidden", denied, details)

    # ------------------------------------------------------------- routing
    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith(_ADMIN.rstrip("/")):
            return await self._admin(request, path)
        rr = parse_resource_path(path)
        self._check_access(request, rr)
        if rr is None:
            return self._discovery(request, path)
        method = request.method
        if method in ("GET", "HEAD"):
            if _is_watch(request, rr):
                return await serve_watch(
                    request,
                    self.store,
                    rr,
                    table="as=Table" in request.headers.get("Accept", ""),
                    clock=self.clock,
                    bookmark_interval=self.bookmark_interval,
                    default_timeout=self.default_watch_timeout,
                )
            return self.handlers.get(request, rr) if rr.name else self.handlers.list(request, rr)
        if verb_of(method, rr, watch=False) not in rr.rt.verbs:  # e.g. nodes are read-only
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        if method == "POST":
            return await self.handlers.create(request, rr)
        if method == "PUT" and rr.name:
            return await self.handlers.update(request, rr)
        if method == "PATCH" and rr.name:
            return await self.handlers.patch(request, rr)
        if method == "DELETE":
            return await self.handlers.delete(request, rr)
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource ({method} {path})",
        )

    def _discovery(self, request: web.Request, path: str) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        parts = [p for p in path.split("/") if p]
        doc: Any = None
        if path == "/version":
            doc = discovery.SERVER_VERSION
        elif path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        elif path == "/api":
            doc = discovery.api_versions(request.host)
        elif path == "/apis":
            doc = discovery.api_group_list()
        elif len(parts) == 2 and parts[0] == "api":
            doc = discovery.resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(parts[1], parts[2])
        elif path == "/openapi/v2":
            # kubectl reads v2 only for a kind the v3 documents lack (one the sandbox does not
            # serve); a document without that kind makes kubectl skip client-side validation
            # (kubectl/pkg/util/openapi/validation: "resource is not present, let's just skip
            # validation"), so the REST mapping reports it: no matches for kind ... in version.
            if "protobuf" in request.headers.get("Accept", ""):
                return web.Response(  # an empty openapi_v2.Document is zero protobuf bytes
                    body=b"",
                    content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                )
            doc = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                   "paths": {}, "definitions": {}}  # fmt: skip
        elif path == "/openapi/v3":
            doc = discovery.openapi_v3_index()
        elif path.startswith("/openapi/v3/"):
            rest = parts[2:]
            gv = (
                ("", rest[1])
                if rest[:1] == ["api"] and len(rest) == 2
                else ((rest[1], rest[2]) if rest[:1] == ["apis"] and len(rest) == 3 else None)
            )
            if gv is not None and (gv == ("", "v1") or discovery.api_group(gv[0])):
                return web.Response(
                    body=discovery.openapi_v3_doc(*gv), content_type="application/json"
                )
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return json_response(doc)

    async def _admin(self, request: web.Request, path: str) -> web.StreamResponse:
        if path == "/_sandbox/faults" and request.method == "POST":
            body = await read_json(request)
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "expected a JSON object")
            return json_response(self.faults.apply(body))
        if path == "/_sandbox/requests" and request.method == "GET":
            return json_response([list(r) for r in self.requests])
        if path == "/_sandbox/requests" and request.method == "DELETE":
            self.requests.clear()
            return json_response({})
        raise ApiError(404, "NotFound", "unknown sandbox admin endpoint")


def _is_watch(request: web.Request, rr: ResourceRequest) -> bool:
    return rr.watch_path or request.query.get("watch", "").lower() in ("true", "1")
