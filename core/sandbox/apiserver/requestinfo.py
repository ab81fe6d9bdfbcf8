"""Parse a Kubernetes API path into what it addresses (apiserver's RequestInfo, trimmed).

``/api/v1/namespaces/ns/pods/name/status`` -> group "", version "v1", namespace "ns",
resource "pods", name "name", subresource "status". The legacy ``/watch/`` path prefix is
understood too. Anything else (discovery, OpenAPI, admin) is not a resource request.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.resources import RESOURCES, ResourceType


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    rt: ResourceType
    namespace: str  # "" for cluster-scoped or all namespaces
    name: str  # "" for the collection
    subresource: str  # "" for the object itself
    watch_path: bool  # /api/v1/watch/... (deprecated, still used by old clients)

    @property
    def resource(self) -> str:
        return self.rt.plural


def parse_resource_path(path: str) -> ResourceRequest | None:
    """A ``ResourceRequest``, ``None`` if the path is not under /api or /apis with a resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    watch_path = rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespace = ""
    if len(rest) == 3 and rest[0] == "namespaces" and rest[2] in ("status", "finalize"):
        pass  # a subresource of a namespace object, not a resource inside the namespace
    elif len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) in (1, 2) and rest[0] == "namespaces":
        pass  # the namespaces resource itself
    if not rest or len(rest) > 3:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    rt = RESOURCES.get(resource)
    if rt is None or rt.group != group or rt.version != version:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    if namespace and not rt.namespaced:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return ResourceRequest(rt, namespace, name, subresource, watch_path)


def verb_of(method: str, rr: ResourceRequest, *, watch: bool) -> str:
    """The authorization verb (get/list/watch/create/update/patch/delete/deletecollection)."""
    if method in ("GET", "HEAD"):
        if watch or rr.watch_path:
            return "watch"
        return "get" if rr.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if rr.name else "deletecollection"
    raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")
