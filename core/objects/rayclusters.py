"""RayClusters: the head, the worker groups, and what KubeRay derives from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.objects.fields import integer, obj, objs, text, timestamp
from manifests.labels import OWNER
from manifests.raycluster import GPU_RESOURCE, GPU_TYPE_LABEL, head_service_name

_INT32_MAX = 2_147_483_647
#: Node labels that name a GPU model, on the clouds the README lists: GKE's, NVIDIA GPU
#: operator's feature discovery, Karpenter on EKS, and the label AKS guides use. Describe shows
#: the value of whichever of them a group selects on.
GPU_TYPE_LABELS = (
    GPU_TYPE_LABEL,
    "nvidia.com/gpu.product",
    "karpenter.k8s.aws/instance-gpu-name",
    "accelerator",
)
# Ports KubeRay gives the head when its container declares none (OPERATOR.md §3).
DEFAULT_HEAD_PORTS = {"dashboard": 8265, "client": 10001, "gcs-server": 6379}


def condition(raycluster: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for cond in objs(obj(raycluster.get("status")).get("conditions")):
        if cond.get("type") == kind:
            return cond
    return {}


def _first_container(template: Any) -> dict[str, Any]:
    containers = objs(obj(obj(template).get("spec")).get("containers"))
    return containers[0] if containers else {}


def _container_amounts(container: dict[str, Any]) -> tuple[str, str, int]:
    """(cpu, memory, gpus) of a container: its limits, else its requests."""
    resources = obj(container.get("resources"))
    limits, requests = obj(resources.get("limits")), obj(resources.get("requests"))

    def pick(key: str) -> Any:
        return limits.get(key) if limits.get(key) is not None else requests.get(key)

    cpu, memory = pick("cpu"), pick("memory")
    return (
        str(cpu) if isinstance(cpu, str | int | float) and not isinstance(cpu, bool) else "",
        str(memory) if isinstance(memory, str | int) and not isinstance(memory, bool) else "",
        max(integer(pick(GPU_RESOURCE)), 0),
    )


@dataclass(frozen=True, slots=True)
class HeadView:
    """``spec.headGroupSpec``: what the head asks for and the ports it declares."""

    cpus: str
    memory: str
    gpus: int
    image: str
    ports: dict[str, int]  # declared container ports, name -> number

    @property
    def endpoint_ports(self) -> dict[str, int]:
        """The declared ports over KubeRay's defaults (what is reachable on the head Service)."""
        return {**DEFAULT_HEAD_PORTS, **self.ports}

    @classmethod
    def parse(cls, raw: Any) -> HeadView:
        container = _first_container(obj(raw).get("template"))
        cpus, memory, gpus = _container_amounts(container)
        ports = {
            text(p.get("name")): integer(p.get("containerPort"))
            for p in objs(container.get("ports"))
            if text(p.get("name")) and integer(p.get("containerPort")) > 0
        }
        return cls(cpus, memory, gpus, text(container.get("image")), ports)


@dataclass(frozen=True, slots=True)
class GroupView:
    """One ``spec.workerGroupSpecs`` entry."""

    name: str
    replicas: int
    min_replicas: int
    max_replicas: int
    num_of_hosts: int
    suspended: bool
    cpus: str
    memory: str
    gpus: int  # per worker pod
    image: str
    node_selector: dict[str, str]

    @property
    def gpu_type(self) -> str | None:
        """The GPU model the group's nodeSelector asks for (any cloud's label), if any."""
        selector = self.node_selector
        found = next((selector[k] for k in GPU_TYPE_LABELS if k in selector), "")
        if not found and self.gpus and len(selector) == 1:
            found = next(iter(selector.values()))  # a label of the admin's choosing
        return found or None

    @property
    def desired(self) -> int:
        """KubeRay's target: clamp(replicas, min, max) × numOfHosts, 0 while suspended
        (``ctrl/utils/util.go`` CalculateDesiredReplicas; OPERATOR.md §5). Where min > max,
        KubeRay takes max."""
        if self.suspended:
            return 0
        low = min(self.min_replicas, self.max_replicas)
        return max(min(max(self.replicas, low), self.max_replicas), 0) * self.num_of_hosts

    @classmethod
    def parse(cls, raw: Any) -> GroupView:
        group = obj(raw)
        template = obj(group.get("template"))
        container = _first_container(template)
        cpus, memory, gpus = _container_amounts(container)
        selector = obj(obj(template.get("spec")).get("nodeSelector"))
        return cls(
            name=text(group.get("groupName")),
            replicas=max(integer(group.get("replicas")), 0),
            min_replicas=max(integer(group.get("minReplicas")), 0),
            max_replicas=max(integer(group.get("maxReplicas"), _INT32_MAX), 0),
            num_of_hosts=max(integer(group.get("numOfHosts"), 1), 1),
            suspended=group.get("suspend") is True,
            cpus=cpus,
            memory=memory,
            gpus=gpus,
            image=text(container.get("image")),
            node_selector={str(k): text(v) for k, v in selector.items()},
        )


@dataclass(frozen=True, slots=True)
class RayClusterView:
    """A RayCluster as every reader in the product sees it."""

    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    created_at: datetime | None
    deleting: bool
    suspended: bool
    autoscaling: bool
    head: HeadView
    groups: tuple[GroupView, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)
    has_groups: bool = True  # False: spec.workerGroupSpecs is absent (not merely empty)

    @property
    def owner(self) -> str | None:
        """The Slack user who created it: the annotation, else the (sanitised) label."""
        return self.annotations.get(OWNER) or self.labels.get(OWNER) or None

    @property
    def desired_workers(self) -> int:
        """Σ desired over the groups — KubeRay's own formula, read from the spec so a fresh
        scale shows before the status does (status.desiredWorkerReplicas without a spec)."""
        if not self.has_groups:
            return max(integer(obj(self.raw.get("status")).get("desiredWorkerReplicas")), 0)
        return min(sum(g.desired for g in self.groups), _INT32_MAX)

    @property
    def total_gpus(self) -> int:
        """GPUs the desired pods ask for: the head's plus each group's desired × per-pod GPUs."""
        return self.head.gpus + sum(g.desired * g.gpus for g in self.groups)

    @property
    def images(self) -> tuple[str, ...]:
        """Distinct images, head first: a GPU group runs `-gpu`, the head the CPU one."""
        found: list[str] = []
        for image in (self.head.image, *(g.image for g in self.groups)):
            if image and image not in found:
                found.append(image)
        return tuple(found)

    @property
    def head_service(self) -> str:
        return head_service_name(self.name)

    @property
    def head_dns(self) -> str:
        return f"{self.head_service}.{self.namespace}.svc.cluster.local"

    def condition(self, kind: str) -> dict[str, Any]:
        return condition(self.raw, kind)

    @classmethod
    def parse(cls, raw: Any) -> RayClusterView:
        rc = obj(raw)
        meta, spec = obj(rc.get("metadata")), obj(rc.get("spec"))
        return cls(
            name=text(meta.get("name")),
            namespace=text(meta.get("namespace")) or "default",
            uid=text(meta.get("uid")),
            labels={str(k): text(v) for k, v in obj(meta.get("labels")).items()},
            annotations={str(k): text(v) for k, v in obj(meta.get("annotations")).items()},
            created_at=timestamp(meta.get("creationTimestamp")),
            deleting=meta.get("deletionTimestamp") is not None,
            suspended=spec.get("suspend") is True,
            autoscaling=spec.get("enableInTreeAutoscaling") is True,
            head=HeadView.parse(spec.get("headGroupSpec")),
            groups=tuple(GroupView.parse(g) for g in objs(spec.get("workerGroupSpecs"))),
            raw=rc,
            has_groups="workerGroupSpecs" in spec,
        )


def desired_workers(raycluster: Any) -> int:
    return RayClusterView.parse(raycluster).desired_workers
