"""Unknown-field detection for the built-in types, for ``fieldValidation`` (Strict/Warn/Ignore).

RayClusters are checked against the whole CRD schema (``core.sandbox.apiserver.schema``). For the
core types the sandbox knows their top-level fields and ``ObjectMeta``, which catches the usual
mistakes (a misspelt ``metadata.lables``, ``spce:``) with the real server's wording, without
carrying the full Kubernetes OpenAPI.
"""

from __future__ import annotations

from typing import Any

OBJECT_META = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
        "annotations", "ownerReferences", "finalizers", "managedFields",
    }
)  # fmt: skip
_COMMON = frozenset({"apiVersion", "kind", "metadata"})
TOP_LEVEL: dict[str, frozenset[str]] = {
    "namespaces": _COMMON | {"spec", "status"},
    "pods": _COMMON | {"spec", "status"},
    "services": _COMMON | {"spec", "status"},
    "secrets": _COMMON | {"data", "stringData", "type", "immutable"},
    "configmaps": _COMMON | {"data", "binaryData", "immutable"},
    "serviceaccounts": _COMMON | {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "leases": _COMMON | {"spec"},
    "deployments": _COMMON | {"spec", "status"},
    "persistentvolumeclaims": _COMMON | {"spec", "status"},
    "roles": _COMMON | {"rules"},
    "rolebindings": _COMMON | {"subjects", "roleRef"},
    "events": _COMMON | {
        "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
        "count", "type", "eventTime", "series", "action", "related", "reportingComponent",
        "reportingInstance",
    },
}  # fmt: skip


def unknown_fields(resource: str, obj: dict[str, Any]) -> list[str]:
    """Paths (``spce``, ``metadata.lables``) of fields the type does not declare."""
    known = TOP_LEVEL.get(resource)
    if known is None:
        return []
    found = [key for key in obj if key not in known]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        found += [f"metadata.{key}" for key in meta if key not in OBJECT_META]
    return found


def prune(obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``obj`` without the fields ``unknown_fields`` reported (modified in place)."""
    for path in paths:
        if path.startswith("metadata."):
            obj.get("metadata", {}).pop(path[len("metadata.") :], None)
        else:
            obj.pop(path, None)
    return obj
