"""The three patch formats kubectl and client libraries send: merge, JSON and strategic merge.

JSON merge patch is RFC 7386 (``objects.json_merge_patch``); JSON patch is RFC 6902. Strategic
merge patch follows apimachinery's rules for the core types the sandbox serves: lists of
objects are merged by their patch merge key (containers by ``name``, container ports by
``containerPort``, service ports by ``port``, ...), ``finalizers`` merge as a set, other lists
are replaced, and the ``$patch``, ``$setElementOrder/``, ``$deleteFromPrimitiveList/`` and
``$retainKeys`` directives kubectl emits are honoured. Custom resources do not support it (415).
"""

from __future__ import annotations

from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import clone, json_merge_patch

__all__ = ["apply_json_patch", "apply_strategic_merge_patch", "json_merge_patch"]

# Field name -> candidate merge keys (the first one present in the list items wins).
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "ownerReferences": ("uid",),
    "conditions": ("type",),
    "ports": ("containerPort", "port"),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
    "resourceClaims": ("name",),
    "secrets": ("name",),
    "podIPs": ("ip",),
    "hostIPs": ("ip",),
}
MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def _bad_patch(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def apply_strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A new object: ``original`` with the strategic merge ``patch`` applied."""
    if not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "strategic merge patch must be a JSON object")
    result = _merge_map(original, patch)
    return result if result is not None else {}


def _merge_map(original: Any, patch: dict[str, Any]) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: clone(v) for k, v in body.items() if not k.startswith("$")}
    result = dict(original) if isinstance(original, dict) else {}
    retain = body.pop("$retainKeys", None)
    orders = {k[len(_ORDER) :]: v for k, v in body.items() if k.startswith(_ORDER)}
    removals = {
        k[len(_DELETE_PRIMITIVE) :]: v for k, v in body.items() if k.startswith(_DELETE_PRIMITIVE)
    }
    for key, value in body.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    for key, values in removals.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(key, result[key], order)
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    for candidate in MERGE_KEYS.get(field, ()):
        if any(isinstance(i, dict) and candidate in i for i in items):
            return candidate
    return None


def _merge_list(field: str, original: Any, patch: list[Any]) -> list[Any]:
    current = list(original) if isinstance(original, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [clone(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [clone(v) for v in patch if v not in current]
    key = _merge_key(field, current + patch)
    if key is None:
        return [clone(i) for i in patch]
    result = list(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise _bad_patch(f"map: {item!r} does not contain declared merge key: {key}")
        index = next(
            (i for i, e in enumerate(result) if isinstance(e, dict) and e.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            merged = _merge_map(None, item)
            if merged is not None:
                result.append(merged)
        else:
            merged = _merge_map(result[index], item)
            if merged is None:
                result.pop(index)
            else:
                result[index] = merged
    return result


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, items + order)

    def ident(v: Any) -> Any:
        return v.get(key) if key and isinstance(v, dict) else v

    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    return ranked + [i for i in items if ident(i) not in wanted]


# ------------------------------------------------------------------ RFC 6902 JSON patch
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f'invalid JSON pointer "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise ApiError(422, "Invalid", f'doc is missing path: "{path}": missing value')
    return cur


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise ApiError(422, "Invalid", f'doc is missing path: "{path}": missing value')


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise ApiError(422, "Invalid", f'doc is missing path: "{path}": missing value')


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise ApiError(422, "Invalid", f'doc is missing key: "{path}": missing value')
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise ApiError(422, "Invalid", f'index out of bounds in "{path}"')
    else:
        raise ApiError(422, "Invalid", f'doc is missing path: "{path}": missing value')
    return doc


def apply_json_patch(original: dict[str, Any], operations: Any) -> Any:
    """A new document: RFC 6902 ``operations`` applied to a copy of ``original``."""
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc: Any = clone(original)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "BadRequest", f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, clone(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, clone(op.get("value")), replace=True)
        elif kind in ("move", "copy"):
            source = op.get("from", "")
            value = _remove(doc, source) if kind == "move" else clone(_get(doc, source))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"testing value {path} failed: test failed")
        else:
            raise ApiError(400, "BadRequest", f'unexpected kind of JSON patch operation: "{kind}"')
    return doc
