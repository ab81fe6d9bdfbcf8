"""Discovery and OpenAPI documents: what kubectl reads before it touches any object.

Legacy discovery (``/api``, ``/apis``, resource lists) is served as plain JSON, so clients that
ask for aggregated discovery fall back to it. OpenAPI v3 is served per group-version with a
PATCH operation per resource that declares the ``fieldValidation`` and ``dryRun`` query
parameters: kubectl checks exactly that before sending ``fieldValidation=Strict`` (server-side
validation) instead of validating client-side. The RayCluster schema is the shipped CRD's.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources as pkg_resources
from typing import Any

import yaml

from core.sandbox.apiserver.resources import CORE_GROUP_RESOURCES, RESOURCES, ResourceType, groups

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0+krayne-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_SUBRESOURCES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "pods": (("status", ("get", "patch", "update")), ("log", ("get",))),
    "services": (("status", ("get", "patch", "update")),),
    "namespaces": (("status", ("get", "patch", "update")),),
    "rayclusters": (("status", ("get", "patch", "update")),),
    "deployments": (("status", ("get", "patch", "update")),),  # no scale subresource here
    "persistentvolumeclaims": (("status", ("get", "patch", "update")),),
    "customresourcedefinitions": (("status", ("get",)),),
}


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(name: str, rts: list[ResourceType]) -> dict[str, Any]:
    gv = {"groupVersion": f"{name}/{rts[0].version}", "version": rts[0].version}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


def api_group_list() -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(name, rts) for name, rts in groups().items()],
    }


def api_group(name: str) -> dict[str, Any] | None:
    rts = groups().get(name)
    if not rts:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1"} | _group_doc(name, rts)


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    rts = CORE_GROUP_RESOURCES if not group else groups().get(group, [])
    rts = [r for r in rts if r.version == version]
    if not rts:
        return None
    entries: list[dict[str, Any]] = []
    for rt in rts:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            "storageVersionHash": hashlib.sha256(rt.qualified.encode()).hexdigest()[:11],
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entries.append(entry)
        for sub, verbs in _SUBRESOURCES.get(rt.plural, ()):
            entries.append(
                {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(verbs),
                }
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


@cache
def raycluster_crd() -> dict[str, Any]:
    """The shipped CRD (``core/sandbox/data``), parsed once."""
    try:
        from core.sandbox.apiserver import schema
    except ImportError:
        text = pkg_resources.files("core.sandbox").joinpath("data/ray.io_rayclusters.yaml")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return dict(yaml.load(text.read_bytes(), Loader=loader))  # noqa: S506 - a safe loader
    return dict(schema.crd())


def raycluster_crd_object() -> dict[str, Any]:
    """The shipped CRD as kube-apiserver serves it once installed: with the status its
    controllers write. apiextensions-apiserver's naming controller (pkg/controller/status/
    naming_controller.go, calculateNamesAndConditions) accepts the names with NamesAccepted
    True/NoConflicts, and the establishing controller (pkg/controller/establish/
    establishing_controller.go, sync) sets Established True/InitialNamesAccepted; the storage
    version is recorded in storedVersions."""
    crd: dict[str, Any] = json.loads(json.dumps(raycluster_crd()))
    crd["metadata"] = {k: v for k, v in crd["metadata"].items() if k in ("name", "annotations")}
    names = crd["spec"]["names"]
    stored = [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
    crd["status"] = {
        "acceptedNames": {k: names[k] for k in
                          ("categories", "kind", "listKind", "plural", "shortNames", "singular")
                          if k in names},
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"},
        ],
        "storedVersions": stored,
    }  # fmt: skip
    return crd


def raycluster_version() -> dict[str, Any]:
    crd = raycluster_crd()
    return next(v for v in crd["spec"]["versions"] if v["name"] == "v1")


def _schema_name(rt: ResourceType) -> str:
    if rt.group:
        parts = rt.group.split(".")
        return ".".join([*reversed(parts), rt.version, rt.kind])
    return f"io.k8s.api.core.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> list[dict[str, str]]:
    return [{"group": rt.group, "version": rt.version, "kind": rt.kind}]


_QUERY_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]


def _path_item(rt: ResourceType, item: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
    body = {"content": {"application/json": {"schema": ref}}}
    ops: dict[str, Any] = {}
    verbs = ("get", "put", "patch", "delete") if item else ("get", "post", "delete")
    writable = {"put": "update", "patch": "patch", "post": "create", "delete": "delete"}
    for verb in verbs:
        if verb in writable and writable[verb] not in rt.verbs:
            continue
        action = {"post": "post", "put": "put", "patch": "patch", "delete": "delete"}.get(verb)
        op: dict[str, Any] = {
            "operationId": f"{verb}{rt.kind}",
            "responses": {"200": body},
            "x-kubernetes-action": action or ("get" if item else "list"),
            "x-kubernetes-group-version-kind": _gvk(rt)[0],
        }
        if verb in ("post", "put", "patch"):
            op["parameters"] = _QUERY_PARAMS
            op["requestBody"] = body
        ops[verb] = op
    return ops


@cache
def openapi_v3_doc(group: str, version: str) -> bytes:
    """The OpenAPI v3 document of one group-version, serialised once."""
    rts = [r for r in RESOURCES.values() if r.group == group and r.version == version]
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in rts:
        base = (
            f"{prefix}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else (f"{prefix}/{rt.plural}")
        )
        paths[base] = _path_item(rt, item=False)
        paths[base + "/{name}"] = _path_item(rt, item=True)
        schema: dict[str, Any]
        if rt.plural == "rayclusters":
            schema = json.loads(json.dumps(raycluster_version()["schema"]["openAPIV3Schema"]))
        else:
            schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        schema["x-kubernetes-group-version-kind"] = _gvk(rt)
        schemas[_schema_name(rt)] = schema
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (krayne sandbox)", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def openapi_v3_index() -> dict[str, Any]:
    entries: dict[str, Any] = {}
    gvs = {("", "v1")} | {(r.group, r.version) for r in RESOURCES.values() if r.group}
    for group, version in sorted(gvs):
        key = f"apis/{group}/{version}" if group else f"api/{version}"
        digest = hashlib.sha512(openapi_v3_doc(group, version)).hexdigest()[:64].upper()
        entries[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": entries}
