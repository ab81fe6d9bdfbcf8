"""Resource endpoints: get, list (paged), create, update, patch, delete, deletecollection, logs.

Each handler turns one HTTP request into store calls and answers JSON (or a Table when the
client asks for ``as=Table``, as ``kubectl get`` does). Unknown RayCluster fields follow
``fieldValidation``: Strict refuses them (400, "Kind in version "v1" cannot be handled as a
Kind: strict decoding error: ..."), Warn (the default)
and Ignore prune them, Warn adding a ``Warning`` header per field.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import yaml
from aiohttp import web

from core.sandbox.apiserver import admission, deletion, fieldcheck, protowire
from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import clone_obj, json_merge_patch
from core.sandbox.apiserver.patching import apply_json_patch, apply_strategic_merge_patch
from core.sandbox.apiserver.requestinfo import ResourceRequest
from core.sandbox.apiserver.store import Store
from core.sandbox.apiserver.tables import to_table

Obj = dict[str, Any]
Objects = list[Obj]  # named here: ResourceHandlers.list shadows the builtin in the class body
LogReader = Callable[..., str]
_JSON = "application/json"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type=_JSON,
        headers=headers,
    )


async def read_json(request: web.Request) -> Any:
    content_type = request.headers.get("Content-Type", "")
    raw = await request.read()
    if "protobuf" in content_type:
        return protowire.decode_object(raw)  # kubectl create namespace|secret|role|...
    if "cbor" in content_type:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/vnd.kubernetes.protobuf",
        )
    try:
        return json.loads(raw or b"null")
    except ValueError as err:
        raise ApiError(
            400, "BadRequest", f"the body of the request could not be decoded: {err}"
        ) from None


def _schema() -> Any | None:
    try:
        return importlib.import_module("core.sandbox.apiserver.schema")
    except ImportError:
        return None


class ResourceHandlers:
    """The CRUD half of the API server, bound to one store."""

    def __init__(
        self, store: Store, *, clock: Callable[[], datetime], log_reader: LogReader | None
    ) -> None:
        self.store = store
        self.clock = clock
        self.log_reader = log_reader

    # -------------------------------------------------------------- reads
    def get(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        if rr.subresource == "log":
            return self._log(request, rr)
        if rr.subresource not in ("", "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        obj = self.store.get_ref(rr.resource, rr.namespace or None, rr.name)
        if wants_table(request):
            include = request.query.get("includeObject", "Partial")
            return json_response(
                to_table(rr.resource, [obj], now=self.clock(), include_object=include)
            )
        return web.Response(body=self.store.encoded(obj), content_type=_JSON)

    def list(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        q = request.query
        items, rv = self.store.list_refs(
            rr.resource,
            rr.namespace or None,
            label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"),
        )
        token = q.get("continue")
        if token:
            start = _decode_continue(token)
            items = [o for o in items if _key(o) > start]
        limit = _int_param(request, "limit") or 0
        next_token = None
        if limit > 0 and len(items) > limit:
            items = items[:limit]
            next_token = _encode_continue(rv, _key(items[-1]))
        if wants_table(request):
            include = q.get("includeObject", "Partial")
            table = to_table(
                rr.resource,
                items,
                now=self.clock(),
                resource_version=rv,
                continue_token=next_token,
                include_object=include,
            )
            return json_response(table)
        meta: Obj = {"resourceVersion": rv}
        if next_token:
            meta["continue"] = next_token
        head = {"kind": rr.rt.list_kind, "apiVersion": rr.rt.api_version, "metadata": meta}
        encoded = json.dumps(head, separators=(",", ":")).encode()
        body = b"".join(
            (encoded[:-1], b',"items":[', b",".join(self.store.encoded(o) for o in items), b"]}")
        )
        return web.Response(body=body, content_type=_JSON)

    def _log(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        pod = self.store.get_ref("pods", rr.namespace, rr.name)
        q = request.query
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container") or (containers[0] if len(containers) == 1 else None)
        if container is None:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {rr.name}, choose one "
                f"of: [{' '.join(str(c) for c in containers)}]",
            )
        text = ""
        if self.log_reader is not None:
            tail = _int_param(request, "tailLines")
            text = self.log_reader(
                rr.namespace,
                rr.name,
                container,
                previous=q.get("previous", "").lower() == "true",
                tail_lines=tail,
            )
        return web.Response(text=text, content_type="text/plain")

    # ------------------------------------------------------------- writes
    def _prepare(
        self, request: web.Request, rr: ResourceRequest, obj: Any
    ) -> tuple[Obj, dict[str, str]]:
        """Check the body against the URL and apply fieldValidation; returns (obj, headers)."""
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        kind = obj.get("kind")
        if kind and kind != rr.rt.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({obj.get('apiVersion')}) does not match "
                f"the expected API version ({rr.rt.api_version})",
            )
        if rr.rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != rr.namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not "
                    "match the namespace sent on the request",
                )
            meta["namespace"] = rr.namespace
        headers: dict[str, str] = {}
        schema = _schema()
        unknown: list[str] = []
        if rr.resource == "rayclusters" and schema is not None:
            obj, unknown = schema.prune_unknown_fields(obj)
        elif rr.resource != "rayclusters":
            unknown = fieldcheck.unknown_fields(rr.resource, obj)
            obj = fieldcheck.prune(obj, unknown)
        mode = request.query.get("fieldValidation", "Warn")
        if unknown and mode == "Strict":
            fields = ", ".join(f'unknown field "{f}"' for f in unknown)
            kind, version = rr.rt.kind, rr.rt.version  # transformDecodeError's wording
            raise ApiError(
                400,
                "BadRequest",
                f'{kind} in version "{version}" cannot be handled as a {kind}: '
                f"strict decoding error: {fields}",
            )
        if unknown and mode != "Ignore":
            headers["Warning"] = ", ".join(f'299 - "unknown field \\"{f}\\""' for f in unknown)
        return obj, headers

    async def create(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        if rr.name or rr.subresource:
            raise ApiError(405, "MethodNotAllowed", "POST is only supported on collections")
        obj, headers = self._prepare(request, rr, await read_json(request))
        return json_response(self._create(request, rr, obj), 201, headers)

    async def update(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        obj, headers = self._prepare(request, rr, await read_json(request))
        if obj["metadata"].get("name") != rr.name:
            raise ApiError(
                400,
                "BadRequest",
                "the name of the object "
                f"({obj['metadata'].get('name')}) does not match the name on the URL "
                f"({rr.name})",
            )
        return json_response(self._write(request, rr, obj), 200, headers)

    async def patch(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/apply-patch+yaml":
            return await self._apply(request, rr)
        body = await read_json(request)
        current = clone_obj(self.store.get_ref(rr.resource, rr.namespace or None, rr.name))
        if content_type == "application/merge-patch+json":
            new = json_merge_patch(current, body)
        elif content_type == "application/json-patch+json":
            new = apply_json_patch(current, body)
        elif content_type == "application/strategic-merge-patch+json" and not rr.rt.custom:
            new = apply_strategic_merge_patch(current, body)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media "
                f"types include: application/json-patch+json, application/merge-patch"
                f"+json, application/apply-patch+yaml"
                f"{'' if rr.rt.custom else ', application/strategic-merge-patch+json'}",
            )
        if not isinstance(new, dict):
            raise ApiError(422, "Invalid", "the patch produced something that is not an object")
        new.setdefault("metadata", {})
        new["metadata"].setdefault("resourceVersion", current["metadata"]["resourceVersion"])
        new["metadata"]["name"] = rr.name
        new, headers = self._prepare(request, rr, new)
        return json_response(self._write(request, rr, new), 200, headers)

    async def _apply(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        """Server-side apply, simplified: create, or merge the applied fields into the object.

        Field ownership is not tracked, so fields dropped from the applied config stay (use
        client-side apply or a patch to remove them); lists merge as a patch would merge them.
        """
        if not request.query.get("fieldManager"):
            raise ApiError(400, "BadRequest", "PATCH requests of apply type need a fieldManager")
        try:
            applied = yaml.load(await request.read(), Loader=_YAML_LOADER)  # noqa: S506
        except yaml.YAMLError as err:
            raise ApiError(400, "BadRequest", f"error decoding YAML: {err}") from None
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "the applied configuration must be an object")
        if (applied.get("metadata") or {}).get("name") != rr.name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the applied object does not match the name on the URL ({rr.name})",
            )
        try:
            current = clone_obj(self.store.get_ref(rr.resource, rr.namespace or None, rr.name))
        except ApiError as err:
            if err.code != 404 or rr.subresource:
                raise
            obj, headers = self._prepare(request, rr, applied)
            return json_response(self._create(request, rr, obj), 201, headers)
        if rr.rt.custom:
            new = json_merge_patch(current, applied)
        else:
            new = apply_strategic_merge_patch(current, applied)
        new["metadata"].setdefault("resourceVersion", current["metadata"]["resourceVersion"])
        new, headers = self._prepare(request, rr, new)
        return json_response(self._write(request, rr, new), 200, headers)

    def _create(self, request: web.Request, rr: ResourceRequest, obj: Obj) -> Obj:
        if _dry_run(request):
            return admission.admit(self.store, rr.rt, clone_obj(obj), None)
        return self.store.create(rr.resource, obj)

    def _write(self, request: web.Request, rr: ResourceRequest, obj: Obj) -> Obj:
        if rr.subresource not in ("", "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.store.update(
            rr.resource, obj, subresource=rr.subresource or None, dry_run=_dry_run(request)
        )

    async def delete(self, request: web.Request, rr: ResourceRequest) -> web.Response:
        options = None
        if request.can_read_body and "protobuf" not in request.headers.get("Content-Type", ""):
            options = await read_json(request)  # protobuf DeleteOptions: the defaults suffice
        if not rr.name:
            items, rv = self.store.list_refs(
                rr.resource,
                rr.namespace or None,
                label_selector=request.query.get("labelSelector"),
                field_selector=request.query.get("fieldSelector"),
            )
            grace, policy = deletion.delete_options(request.query, options)
            gone = [
                self.store.delete(
                    rr.resource,
                    rr.namespace or None,
                    o["metadata"]["name"],
                    grace_period=grace,
                    propagation=policy,
                )
                for o in list(items)
            ]
            return json_response(
                {
                    "kind": rr.rt.list_kind,
                    "apiVersion": rr.rt.api_version,
                    "metadata": {"resourceVersion": self.store.resource_version},
                    "items": gone,
                }
            )
        current = self.store.get_ref(rr.resource, rr.namespace or None, rr.name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: "
                f"{pre['uid']}, UID in object meta: {current['metadata'].get('uid')}",
            )
        if (
            pre.get("resourceVersion")
            and pre["resourceVersion"] != current["metadata"]["resourceVersion"]
        ):
            raise ApiError(
                409,
                "Conflict",
                "Precondition failed: ResourceVersion in precondition:"
                f" {pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{current['metadata']['resourceVersion']}",
            )
        grace, policy = deletion.delete_options(request.query, options)
        if request.query.get("dryRun") == "All" or (options or {}).get("dryRun") == ["All"]:
            return json_response(current)
        deleted = self.store.delete(
            rr.resource, rr.namespace or None, rr.name, grace_period=grace, propagation=policy
        )
        return json_response(deleted)


def _dry_run(request: web.Request) -> bool:
    return request.query.get("dryRun") == "All"


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "BadRequest", f"invalid {name}: {raw!r} is not an integer") from None


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _encode_continue(rv: str, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        return str(json.loads(base64.urlsafe_b64decode(padded))["start"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "BadRequest", "continue key is not valid: invalid token") from None
