"""Decode the Kubernetes protobuf request bodies kubectl's typed commands send.

``kubectl create namespace|secret|serviceaccount|role|rolebinding`` post
``application/vnd.kubernetes.protobuf``: the ``k8s\\0`` magic, a ``runtime.Unknown`` envelope
(apiVersion, kind, raw) and the typed object. client-go never falls back to JSON, so the
sandbox decodes these few types (field numbers from k8s.io/api's generated.proto) into the
same JSON dicts the rest of the server handles. Other kinds get 415 with a clear message.
"""

from __future__ import annotations

import base64
from typing import Any

from core.sandbox.apiserver.apierror import ApiError

MAGIC = b"k8s\x00"
# message name -> field number -> (json name, type); a "*" prefix marks repeated fields.
Field = tuple[str, str]
_SCHEMAS: dict[str, dict[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "bytes"),
                3: ("contentEncoding", "string"), 4: ("contentType", "string")},
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
        5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
        11: ("labels", "map"), 12: ("annotations", "map"),
        13: ("ownerReferences", "*OwnerReference"), 14: ("finalizers", "*string"),
    },
    "OwnerReference": {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                       5: ("apiVersion", "string"), 6: ("controller", "bool"),
                       7: ("blockOwnerDeletion", "bool")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "*string")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "bytesmap"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"), 3: ("binaryData", "bytesmap"),
                  4: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", "*ObjectReference"),
                       3: ("imagePullSecrets", "*LocalObjectReference"),
                       4: ("automountServiceAccountToken", "bool")},
    "ObjectReference": {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string")},
    "LocalObjectReference": {1: ("name", "string")},
    "Role": {1: ("metadata", "ObjectMeta"), 2: ("rules", "*PolicyRule")},
    "PolicyRule": {1: ("verbs", "*string"), 2: ("apiGroups", "*string"),
                   3: ("resources", "*string"), 4: ("resourceNames", "*string"),
                   5: ("nonResourceURLs", "*string")},
    "RoleBinding": {1: ("metadata", "ObjectMeta"), 2: ("subjects", "*Subject"),
                    3: ("roleRef", "RoleRef")},
    "Subject": {1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"),
                4: ("namespace", "string")},
    "RoleRef": {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")},
}  # fmt: skip
DECODABLE = frozenset({"Namespace", "Secret", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"})


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints and fixed widths, bytes otherwise."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            out.append((number, int.from_bytes(data[pos : pos + width], "little")))
            pos += width
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == "string":
        return bytes(value).decode() if isinstance(value, bytes) else str(value)
    if kind == "bytes":
        return bytes(value) if isinstance(value, bytes) else b""
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value) if isinstance(value, int) else 0
    if not isinstance(value, bytes):
        raise ValueError(f"expected an embedded {kind} message")
    return decode_message(kind, value)


def decode_message(name: str, data: bytes) -> dict[str, Any]:
    schema = _SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue  # unknown or unused fields (selfLink, managedFields, status) are dropped
        key, kind = schema[number]
        if kind in ("map", "bytesmap"):
            assert isinstance(value, bytes)
            entry = dict(_fields(value))
            raw = entry.get(2, b"")
            raw = raw if isinstance(raw, bytes) else b""
            decoded = raw.decode() if kind == "map" else base64.b64encode(raw).decode()
            out.setdefault(key, {})[_scalar("string", entry.get(1, b""))] = decoded
        elif kind.startswith("*"):
            out.setdefault(key, []).append(_scalar(kind[1:], value))
        else:
            decoded = _scalar(kind, value)
            if decoded not in ("", 0, False, {}):  # Go's omitempty: zero values are not sent
                out[key] = decoded
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a protobuf request body, or 415 for kinds it cannot read."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "the protobuf body does not start with the k8s magic")
    try:
        envelope = decode_message("Unknown", body[len(MAGIC) :])
        type_meta = envelope.get("typeMeta") or {}
        kind = type_meta.get("kind", "")
        if kind not in DECODABLE:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the sandbox cannot decode protobuf {kind or 'objects'}; send JSON instead "
                "(kubectl apply -f does)",
            )
        obj = decode_message(kind, envelope.get("raw", b""))
    except (ValueError, KeyError, UnicodeDecodeError, AssertionError) as err:
        raise ApiError(
            400, "BadRequest", f"the protobuf body could not be decoded: {err}"
        ) from None
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind} | obj
