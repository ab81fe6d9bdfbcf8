"""What the API server does to an object between decoding and storing: defaults and validation.

Namespaces get their phase and name label, pods a Pending phase and QoS class, services a
cluster IP; RayClusters get the CRD's defaults and are validated against its schema (422
Invalid with one cause per problem). The schema module is imported lazily so the store works
before ``core.sandbox.apiserver.schema`` exists.
"""

from __future__ import annotations

import base64
import importlib
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.sandbox.apiserver.apierror import ApiError, invalid

if TYPE_CHECKING:
    from core.sandbox.apiserver.resources import ResourceType
    from core.sandbox.apiserver.store import Store

Obj = dict[str, Any]
_SERVICE_NET = ipaddress.ip_network("10.96.0.0/12")


def _schema() -> Any | None:
    try:
        return importlib.import_module("core.sandbox.apiserver.schema")
    except ImportError:
        return None


# A mutating admission plugin registered at run time (``store.admission_plugins``), such as the
# simulation's ExtendedResourceToleration: ``plugin(resource, obj, old)`` returns the object.
MutatingPlugin = Callable[[str, Obj, "Obj | None"], Obj]


def admit(store: Store, rt: ResourceType, obj: Obj, old: Obj | None) -> Obj:
    """Default and validate ``obj`` (a private copy, modified in place and returned)."""
    hook = _HOOKS.get(rt.plural)
    obj = hook(store, obj, old) if hook else obj
    for plugin in store.admission_plugins:
        obj = plugin(rt.plural, obj, old)
    return obj


def _namespace(store: Store, obj: Obj, old: Obj | None) -> Obj:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    if old is None:
        obj["status"] = {"phase": "Active"}
    return obj


def _qos_class(spec: Obj) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_set = limits_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests_set = requests_set or bool(req) or bool(lim)
        limits_set = limits_set or bool(lim)
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if guaranteed and limits_set:
        return "Guaranteed"
    return "Burstable" if requests_set else "BestEffort"


def _pod(store: Store, obj: Obj, old: Obj | None) -> Obj:
    spec = obj.setdefault("spec", {})
    containers = spec.get("containers")
    if not containers:
        raise invalid(
            "Pod",
            obj["metadata"]["name"],
            [("FieldValueRequired", "spec.containers", "Required value")],
        )
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("serviceAccountName", "default")
    for container in list(containers) + list(spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
    if old is None:
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", _qos_class(spec))
    return obj


def check_service_account(store: Store, pod: Obj) -> None:
    """kube-apiserver's ServiceAccount admission plugin refuses a pod whose account is missing.

    plugin/pkg/admission/serviceaccount/admission.go (Admit): an empty serviceAccountName means
    "default", and a failed lookup is ``admission.NewForbidden(a, fmt.Errorf("error looking up
    service account %s/%s: %w", ...))``; NewForbidden (apiserver/pkg/admission/errors.go,
    extractResourceName) names the pod by its generateName when the name is not generated yet.
    """
    meta, spec = pod["metadata"], pod.get("spec") or {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    namespace = meta.get("namespace", "")
    try:
        store.get_ref("serviceaccounts", namespace, account)
    except ApiError as err:
        if err.code != 404:
            raise
        name = meta.get("name") or meta.get("generateName") or "Unknown"
        raise ApiError(
            403,
            "Forbidden",
            f'pods "{name}" is forbidden: error looking up service account '
            f'{namespace}/{account}: serviceaccount "{account}" not found',
            {"name": name, "kind": "pods"},
        ) from None


def _service(store: Store, obj: Obj, old: Obj | None) -> Obj:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if old is not None:
        for field in ("clusterIP", "clusterIPs"):
            if field in old.get("spec", {}):
                spec[field] = old["spec"][field]
        return obj
    if spec.get("clusterIP") in (None, ""):
        used = {s.get("spec", {}).get("clusterIP") for s in store.list_refs("services")[0]}
        for offset in range(10 + len(used), _SERVICE_NET.num_addresses - 1):
            candidate = str(_SERVICE_NET[offset])
            if candidate not in used:
                spec["clusterIP"] = candidate
                break
    if spec.get("clusterIP") and spec["clusterIP"] != "None":
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    node_ports = spec["type"] in ("NodePort", "LoadBalancer")
    taken = {p.get("nodePort") for s in store.list_refs("services")[0]
             for p in s.get("spec", {}).get("ports") or ()}  # fmt: skip
    free = (n for n in range(30000, 32768) if n not in taken)
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if node_ports and not port.get("nodePort"):
            port["nodePort"] = next(free)  # kube-apiserver allocates from 30000-32767
    obj.setdefault("status", {"loadBalancer": {}})
    return obj


def _raycluster(store: Store, obj: Obj, old: Obj | None) -> Obj:
    schema = _schema()
    if schema is None or (old is not None and obj.get("spec") == old.get("spec")):
        return obj  # a metadata-only write: the stored spec is already defaulted and valid
    status = obj.pop("status", None)
    obj = schema.apply_crd_defaults(obj)
    problems: list[str] = schema.validate_raycluster(obj)
    if problems:
        causes = [_cause(p) for p in problems]
        raise invalid("RayCluster", obj["metadata"]["name"], causes, "ray.io")
    if status is not None:
        obj["status"] = status
    return obj


def _cause(problem: str) -> tuple[str, str, str]:
    field, sep, message = problem.partition(": ")
    if not sep:
        return ("FieldValueInvalid", "", problem)
    reason = "FieldValueRequired" if message.startswith("Required") else "FieldValueInvalid"
    return (reason, field, message)


def _secret(store: Store, obj: Obj, old: Obj | None) -> Obj:
    """``stringData`` is write-only: the server folds it into base64 ``data``."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    return obj


def _deployment(store: Store, obj: Obj, old: Obj | None) -> Obj:
    """pkg/apis/apps/v1/defaults.go, SetDefaults_Deployment: replicas, rolling update 25%/25%,
    10 revisions, 600 s progress deadline; the template's pod spec gets the pod defaults."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    pod_spec = spec.setdefault("template", {}).setdefault("spec", {})
    for key, value in (
        ("restartPolicy", "Always"),
        ("schedulerName", "default-scheduler"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
    ):
        pod_spec.setdefault(key, value)  # fmt: skip
    if old is None:
        obj.setdefault("status", {})
    return obj


def _persistent_volume_claim(store: Store, obj: Obj, old: Obj | None) -> Obj:
    """A new claim is Pending (no provisioner binds it here); volumeMode defaults to Filesystem
    (pkg/apis/core/v1/defaults.go, SetDefaults_PersistentVolumeClaimSpec)."""
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    if old is None:
        obj["status"] = {"phase": "Pending"}
    return obj


_HOOKS: dict[str, Callable[[Store, Obj, Obj | None], Obj]] = {
    "deployments": _deployment,
    "persistentvolumeclaims": _persistent_volume_claim,
    "namespaces": _namespace,
    "pods": _pod,
    "services": _service,
    "rayclusters": _raycluster,
    "secrets": _secret,
}
