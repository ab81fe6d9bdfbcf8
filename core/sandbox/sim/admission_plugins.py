"""Admission plugins a real cluster's API server runs and the sandbox simulates on request.

GKE (and AKS) enable ``ExtendedResourceToleration``: a pod that requests ``nvidia.com/gpu`` gets a
``nvidia.com/gpu`` Exists NoSchedule toleration written into its spec at creation, so it passes the
GPU nodes' taint without asking. Upstream kube-apiserver leaves the plugin off, and then a GPU pod
that does not tolerate the taint is unschedulable. ``SimConfig.extended_resource_toleration``
chooses; the simulation registers the plugin on the store while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]


def is_extended_resource_name(name: str) -> bool:
    """kubernetes: pkg/apis/core/helper/helpers.go IsExtendedResourceName: a domain-prefixed name
    outside ``kubernetes.io/`` that is not a ``requests.`` quota name."""
    native = "/" not in name or "kubernetes.io/" in name
    return not native and not name.startswith("requests.")


def _requested(containers: Iterable[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    for container in containers:
        resources = container.get("resources") or {}
        # Defaulting copies limits into requests before admission plugins run (SetDefaults_Pod).
        for field in ("requests", "limits"):
            names.update(n for n in resources.get(field) or {} if is_extended_resource_name(n))
    return names


def extended_resource_toleration(resource: str, obj: Obj, old: Obj | None) -> Obj:
    """kubernetes: plugin/pkg/admission/extendedresourcetoleration/admission.go ``Admit``: for each
    extended resource requested by a container or init container (sorted), add or update the
    toleration {key: <resource>, operator: Exists, effect: NoSchedule}. Create and Update only."""
    if resource != "pods":
        return obj
    spec = obj.get("spec") or {}
    wanted = _requested([*(spec.get("containers") or ()), *(spec.get("initContainers") or ())])
    if not wanted:
        return obj
    tolerations: list[Obj] = list(spec.get("tolerations") or [])
    for name in sorted(wanted):
        toleration = {"key": name, "operator": "Exists", "effect": "NoSchedule"}
        # helper.AddOrUpdateTolerationInPodSpec: an equal toleration is replaced, not repeated.
        same = [t for t in tolerations if _matches(t, toleration)]
        if same:
            tolerations[tolerations.index(same[0])] = toleration
        else:
            tolerations.append(toleration)
    spec["tolerations"] = tolerations
    return obj


def _matches(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """``Toleration.MatchToleration``: same key, operator, value and effect."""
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "value", "effect")) and (
        a.get("operator") or "Equal"
    ) == (b.get("operator") or "Equal")
