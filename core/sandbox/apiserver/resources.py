"""The resource types the sandbox serves: names, scope and verbs, as discovery reports them.

One table drives the store (kinds, scope, status subresource), discovery documents, URL routing
and kubectl's short names, so a resource is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True, slots=True)
class ResourceType:
    plural: str
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    generation: bool = False  # spec changes bump metadata.generation (custom resources)
    verbs: tuple[str, ...] = ALL_VERBS  # what clients may do; the simulation writes regardless
    custom: bool = False  # a CustomResourceDefinition's type: no strategic merge patch

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``pods`` or ``rayclusters.ray.io``: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: dict[str, ResourceType] = {
    r.plural: r
    for r in (
        ResourceType(
            "namespaces",
            "namespace",
            "Namespace",
            "",
            "v1",
            namespaced=False,
            short_names=("ns",),
            has_status=True,
        ),
        ResourceType(
            "pods",
            "pod",
            "Pod",
            "",
            "v1",
            short_names=("po",),
            categories=("all",),
            has_status=True,
        ),
        ResourceType(
            "services",
            "service",
            "Service",
            "",
            "v1",
            short_names=("svc",),
            categories=("all",),
            has_status=True,
        ),
        ResourceType(
            "nodes",
            "node",
            "Node",
            "",
            "v1",
            namespaced=False,
            short_names=("no",),
            has_status=True,
            verbs=READ_VERBS,  # the simulated node pool is fixed by its SimConfig
        ),
        ResourceType("events", "event", "Event", "", "v1", short_names=("ev",)),
        ResourceType(  # RayCluster YAMLs bring claims for /tmp/ray or model caches along
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            "PersistentVolumeClaim",
            "",
            "v1",
            short_names=("pvc",),
            has_status=True,
        ),
        ResourceType("secrets", "secret", "Secret", "", "v1"),
        ResourceType("configmaps", "configmap", "ConfigMap", "", "v1", short_names=("cm",)),
        ResourceType(
            "serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", short_names=("sa",)
        ),
        ResourceType(  # upstream samples ship one next to the RayCluster (separate-ingress)
            "ingresses",
            "ingress",
            "Ingress",
            "networking.k8s.io",
            "v1",
            short_names=("ing",),
            has_status=True,
        ),
        ResourceType("leases", "lease", "Lease", "coordination.k8s.io", "v1"),
        ResourceType(  # stored as written; no deployment controller runs in the sandbox
            "deployments",
            "deployment",
            "Deployment",
            "apps",
            "v1",
            short_names=("deploy",),
            categories=("all",),
            has_status=True,
            generation=True,
        ),
        ResourceType(  # what the Krayne SDK's pre-flight check reads; fixed at start-up
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            "v1",
            namespaced=False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            has_status=True,
            verbs=READ_VERBS,
        ),
        ResourceType("roles", "role", "Role", "rbac.authorization.k8s.io", "v1"),
        ResourceType(
            "rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io", "v1"
        ),
        ResourceType(
            "rayclusters",
            "raycluster",
            "RayCluster",
            "ray.io",
            "v1",
            categories=("all",),
            has_status=True,
            generation=True,
            custom=True,
        ),
    )
}

CORE_GROUP_RESOURCES = [r for r in RESOURCES.values() if not r.group]


def groups() -> dict[str, list[ResourceType]]:
    """Named API groups (not the core group) and their resources, in a stable order."""
    out: dict[str, list[ResourceType]] = {}
    for r in RESOURCES.values():
        if r.group:
            out.setdefault(r.group, []).append(r)
    return out


def resource_type(plural: str) -> ResourceType:
    try:
        return RESOURCES[plural]
    except KeyError:
        raise KeyError(f"the sandbox does not serve {plural!r}") from None


def by_group_version(group: str, version: str) -> dict[str, ResourceType]:
    return {r.plural: r for r in RESOURCES.values() if r.group == group and r.version == version}
