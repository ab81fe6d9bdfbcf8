"""Server-side printing: ``meta.k8s.io/v1`` Tables, which is what ``kubectl get`` renders.

Columns and cell text follow the real server's printers (pkg/printers/internalversion) for
the core types and the CRD's ``additionalPrinterColumns`` for RayClusters; ages are humanised
with apimachinery's ``HumanDuration`` against the wall clock, as the real server does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core.sandbox.apiserver.discovery import raycluster_version
from core.sandbox.apiserver.objects import get_path
from core.sandbox.apiserver.printers import NODE_COLUMNS, age, node_cells, pod_cells

Obj = dict[str, Any]
Column = tuple[str, str, int]  # (name, type, priority)


def _service_cells(o: Obj, now: datetime) -> list[Any]:
    spec = o.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if not p.get("nodePort")
        else f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        o["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        _external_ip(o),
        ports or "<none>",
        age(o["metadata"].get("creationTimestamp"), now),
        selector or "<none>",
    ]


def _external_ip(o: Obj) -> str:
    """``getServiceExternalIP``: a LoadBalancer without an address yet reads ``<pending>``."""
    spec = o.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    ips = list(spec.get("externalIPs") or [])
    if kind != "LoadBalancer":
        return ",".join(ips) or "<none>"
    ingress = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    found = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
    return ",".join([*found, *ips]) if found else "<pending>"


def _event_cells(o: Obj, now: datetime) -> list[Any]:
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    first = o.get("firstTimestamp") or last
    source = (o.get("source") or {}).get("component") or o.get("reportingComponent") or ""
    return [
        age(last, now),
        o.get("type", ""),
        o.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        inv.get("fieldPath", ""),
        source,
        (o.get("message") or "").strip(),
        age(first, now),
        int(o.get("count") or 1),
        o["metadata"]["name"],
    ]


def _meta_cells(*extra: Callable[[Obj], Any]) -> Callable[[Obj, datetime], list[Any]]:
    def cells(o: Obj, now: datetime) -> list[Any]:
        created = age(o["metadata"].get("creationTimestamp"), now)
        return [o["metadata"]["name"], *(f(o) for f in extra), created]

    return cells


def _ingress_cells(o: Obj, now: datetime) -> list[Any]:
    """kube-apiserver's ingress printer: hosts ``*`` when no rule names one, 443 with TLS."""
    spec = o.get("spec") or {}
    hosts = [r["host"] for r in spec.get("rules") or () if r.get("host")]
    ingress = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = [
        i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")
    ]
    return [
        o["metadata"]["name"],
        spec.get("ingressClassName") or "<none>",
        ",".join(hosts) or "*",
        ",".join(address),
        "80, 443" if spec.get("tls") else "80",
        age(o["metadata"].get("creationTimestamp"), now),
    ]


def _deployment_cells(o: Obj, now: datetime) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    match = (spec.get("selector") or {}).get("matchLabels") or {}
    return [
        o["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(o["metadata"].get("creationTimestamp"), now),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        ",".join(f"{k}={v}" for k, v in sorted(match.items())),
    ]


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                 "ReadWriteOncePod": "RWOP"}  # fmt: skip


def _pvc_cells(o: Obj, now: datetime) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    phase = status.get("phase", "Pending")
    if o["metadata"].get("deletionTimestamp"):
        phase = "Terminating"
    bound = spec.get("volumeName") and phase == "Bound"
    capacity = (status.get("capacity") or {}).get("storage", "") if bound else ""
    modes = status.get("accessModes") or [] if bound else []
    return [
        o["metadata"]["name"],
        phase,
        spec.get("volumeName", ""),
        capacity,
        ",".join(_ACCESS_MODES.get(m, m) for m in modes),
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        age(o["metadata"].get("creationTimestamp"), now),
        spec.get("volumeMode", "Filesystem"),
    ]


_PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, datetime], list[Any]]]] = {
    "ingresses": (
        [
            ("Name", "string", 0),
            ("Class", "string", 0),
            ("Hosts", "string", 0),
            ("Address", "string", 0),
            ("Ports", "string", 0),
            ("Age", "string", 0),
        ],
        _ingress_cells,
    ),
    "pods": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        pod_cells,
    ),
    "nodes": (NODE_COLUMNS, node_cells),
    "services": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        _service_cells,
    ),
    "events": (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "integer", 1),
            ("Name", "string", 1),
        ],
        _event_cells,
    ),
    "namespaces": (
        [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        _meta_cells(lambda o: (o.get("status") or {}).get("phase", "Active")),
    ),
    "secrets": (
        [("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
        _meta_cells(
            lambda o: o.get("type", "Opaque"),
            lambda o: len(o.get("data") or {}) + len(o.get("stringData") or {}),
        ),
    ),
    "configmaps": (
        [("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
        _meta_cells(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
    ),
    "serviceaccounts": (
        [("Name", "string", 0), ("Secrets", "string", 0), ("Age", "string", 0)],
        _meta_cells(lambda o: len(o.get("secrets") or [])),
    ),
    "leases": (
        [("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
        _meta_cells(lambda o: (o.get("spec") or {}).get("holderIdentity", "")),
    ),
    "roles": ([("Name", "string", 0), ("Age", "string", 0)], _meta_cells()),
    # pkg/printers/internalversion/printers.go: deploymentColumnDefinitions, printDeployment
    "deployments": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _deployment_cells,
    ),
    # persistentVolumeClaimColumnDefinitions, printPersistentVolumeClaim
    "persistentvolumeclaims": (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Volume", "string", 0),
            ("Capacity", "string", 0),
            ("Access Modes", "string", 0),
            ("StorageClass", "string", 0),
            ("VolumeAttributesClass", "string", 0),
            ("Age", "string", 0),
            ("VolumeMode", "string", 1),
        ],
        _pvc_cells,
    ),
    # apiserver's rest.DefaultTableConvertor: what `kubectl get crd` shows
    "customresourcedefinitions": (
        [("Name", "string", 0), ("Created At", "date", 0)],
        lambda o, now: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")],
    ),
    "rolebindings": (
        [("Name", "string", 0), ("Role", "string", 0), ("Age", "string", 0)],
        _meta_cells(
            lambda o: (
                f"{o.get('roleRef', {}).get('kind', '')}/{o.get('roleRef', {}).get('name', '')}"
            )
        ),
    ),
}


def _crd_cell(kind: str, value: Any, now: datetime) -> Any:
    if value is None:
        return None
    if kind == "date":
        return age(value, now) if isinstance(value, str) else None
    if kind == "integer":
        return int(value) if isinstance(value, int | float) else None
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    return value


def _columns_and_cells(resource: str) -> tuple[list[Column], Callable[[Obj, datetime], list[Any]]]:
    if resource in _PRINTERS:
        return _PRINTERS[resource]
    if resource != "rayclusters":  # no printer of its own: kube-apiserver's default table
        return [("Name", "string", 0), ("Age", "string", 0)], _meta_cells()
    crd_columns = raycluster_version().get("additionalPrinterColumns") or []
    columns: list[Column] = [("Name", "string", 0)]
    columns += [(c["name"], c["type"], int(c.get("priority", 0))) for c in crd_columns]

    def cells(o: Obj, now: datetime) -> list[Any]:
        row = [o["metadata"]["name"]]
        row += [_crd_cell(c["type"], get_path(o, c["jsonPath"]), now) for c in crd_columns]
        return row

    return columns, cells


def _row_object(o: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return o
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": o["metadata"],
    }


def to_table(
    resource: str,
    objects: Iterable[Obj],
    *,
    now: datetime,
    resource_version: str | None = None,
    continue_token: str | None = None,
    include_object: str = "Partial",
    headers: bool = True,
) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (a list, or one object for get/watch)."""
    columns, cells = _columns_and_cells(resource)
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}}
    if resource_version is not None:
        table["metadata"]["resourceVersion"] = resource_version
    if continue_token:
        table["metadata"]["continue"] = continue_token
    if headers:
        table["columnDefinitions"] = [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" and i == 0 else "",
                "description": "",
                "priority": prio,
            }
            for i, (name, kind, prio) in enumerate(columns)
        ]
    table["rows"] = [
        {"cells": cells(o, now), "object": _row_object(o, include_object)} for o in objects
    ]
    return table
