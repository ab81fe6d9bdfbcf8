"""What the simulated cluster looks like: nodes, image catalogue, crashing images, timings, quotas.

The sandbox's operator, scheduler and kubelet read everything tunable from one ``SimConfig`` so a
demo or a test can describe "a cluster with two L4 nodes where this image crash-loops" in a few
lines of YAML. ``SimConfig.default()`` is what ``krayne-bot sandbox`` runs without ``--config``.

YAML format (every key optional; omitted keys keep the defaults below)::

    nodes:                          # replaces the default pool when given
      - name: gke-sandbox-cpu-pool-0
        cpu: "16"                   # allocatable, Kubernetes quantities
        memory: 64Gi
        gpus: 0                     # allocatable nvidia.com/gpu (gpu_resource)
        gpu_resource: nvidia.com/gpu
        max_pods: 110
        labels: {cloud.google.com/gke-nodepool: cpu-pool}
        taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
    images:
      ray_releases: ["2.52.0", "2.53.0"]   # rayproject/ray releases that exist
      include_ray_ml: false                # also serve rayproject/ray-ml (up to 2.35.0)
      extra: ["ghcr.io/acme/ray:custom"]   # more images that pull fine
      private_repositories: ["docker.io/acme/secret-ray"]   # pull access denied / 401
      unreachable_registries: ["registry.internal.example:5000"]   # dial tcp: i/o timeout
      crashing:                            # images that pull fine and then crash
        example.com/krayne/crashing-ray:latest:
          reason: Error                    # or OOMKilled
          exit_code: 1
          run_seconds: 3
          log: ["Traceback (most recent call last):", "..."]
    timings:                              # seconds of simulated time (divided by speed)
      schedule: 0.3
      pull_base: 1.0
      pull_per_gib: 0.6
    quotas:
      max_pods: {team-a: 10}              # pods per namespace, like a ResourceQuota on pods
    seed: 7                                # deterministic names, IPs and random choices
    # --- autoscaling (core/sandbox/sim/node_autoscaler.py, ray_autoscaler.py) ---
    extended_resource_toleration: true    # the API server adds nvidia.com/gpu tolerations
    node_pools:                           # nodes a node autoscaler adds and removes
      - name: gpu-a100
        min: 0
        max: 1
        autoscaler: cluster-autoscaler    # or karpenter
        scale_up_seconds: 8               # scale-up decision -> node Ready
        scale_down_idle_seconds: 600      # empty this long -> removed (down to min)
        node: {cpu: "16", memory: 64Gi, gpus: 8, labels: {...}, taints: [...]}
    ray_autoscaler: false                 # patch replicas/workersToDelete like Ray's autoscaler;
                                          # demand: annotate the RayCluster with
                                          # sandbox.krayne.io/ray-demand: '{"<group>": N}'

GKE puts a ``nvidia.com/gpu=present:NoSchedule`` taint on GPU nodes, and its API server runs the
ExtendedResourceToleration admission plugin, which adds the matching toleration to pods that
request GPUs; the default pool and ``extended_resource_toleration: true`` do the same, so CPU-only
pods stay off GPU nodes exactly as they would in production. ``false`` is the upstream default:
GPU pods then need their own toleration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import SandboxError

# Ray releases whose images the default catalogue serves (docker.io/rayproject/ray).
# Older releases matter because upstream KubeRay samples pin them (ray-cluster.head-command.yaml
# uses 2.8.0, custom-head-service 2.34.0): an image that exists upstream must pull here too.
RAY_RELEASES: tuple[str, ...] = (
    "2.0.0", "2.0.1", "2.1.0", "2.2.0", "2.3.0", "2.3.1", "2.4.0", "2.5.0", "2.5.1", "2.6.0",
    "2.6.1", "2.6.2", "2.6.3", "2.7.0", "2.7.1", "2.7.2", "2.8.0", "2.8.1", "2.9.0", "2.9.1",
    "2.9.2", "2.9.3", "2.10.0", "2.11.0", "2.12.0", "2.20.0", "2.21.0", "2.22.0", "2.23.0",
    "2.24.0", "2.30.0", "2.31.0", "2.32.0", "2.33.0", "2.34.0", "2.35.0", "2.36.0", "2.36.1",
    "2.37.0", "2.38.0", "2.39.0",
    "2.40.0", "2.41.0", "2.42.0", "2.42.1", "2.43.0", "2.44.0", "2.44.1", "2.45.0", "2.46.0",
    "2.47.0", "2.47.1", "2.48.0", "2.49.0", "2.49.1", "2.49.2", "2.50.0", "2.50.1", "2.51.0",
    "2.51.1", "2.52.0", "2.52.1", "2.53.0",
)  # fmt: skip

# Third-party sidecars that upstream KubeRay samples run next to Ray (ray-cluster.fluentbit.yaml
# and its older revisions); official Docker Hub images (busybox, redis, ...) pull anyway.
SIDECAR_IMAGES: tuple[str, ...] = ("fluent/fluent-bit:1.9.6", "fluent/fluent-bit:3.2.2")

CRASHING_DEMO_IMAGE = "example.com/krayne/crashing-ray:latest"
OOM_DEMO_IMAGE = "example.com/krayne/oom-ray:latest"

_CRASH_LOG = [
    "Traceback (most recent call last):",
    '  File "/home/ray/anaconda3/bin/ray", line 8, in <module>',
    "    sys.exit(main())",
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/scripts/scripts.py", '
    "line 2691, in main",
    "    return cli()",
    '  File "/home/ray/startup.py", line 3, in <module>',
    "    import krayne_missing_dependency",
    "ModuleNotFoundError: No module named 'krayne_missing_dependency'",
]
_OOM_LOG = [
    "Loading model weights into memory (14.2 GiB)...",
    "Allocated 2.0 GiB",
    "Allocated 4.0 GiB",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Taint(_Model):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"


class NodeSpec(_Model):
    """One node: allocatable resources, labels (nodeSelector targets) and taints."""

    name: str
    cpu: str = "16"
    memory: str = "64Gi"
    gpus: int = Field(default=0, ge=0)
    gpu_resource: str = "nvidia.com/gpu"
    max_pods: int = Field(default=110, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)


class CrashSpec(_Model):
    """How an image crashes: the container's terminated reason, exit code and log."""

    reason: Literal["Error", "OOMKilled"] = "Error"
    exit_code: int | None = None  # default 1 for Error, 137 for OOMKilled
    run_seconds: float = Field(default=3.0, gt=0)
    log: list[str] = Field(default_factory=list)

    @property
    def code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return 137 if self.reason == "OOMKilled" else 1


class ImageCatalogueConfig(_Model):
    ray_releases: list[str] = Field(default_factory=lambda: list(RAY_RELEASES))
    include_ray_ml: bool = False
    extra: list[str] = Field(default_factory=lambda: list(SIDECAR_IMAGES))
    private_repositories: list[str] = Field(
        default_factory=lambda: ["docker.io/krayne/private-ray"]
    )
    unreachable_registries: list[str] = Field(
        default_factory=lambda: ["registry.internal.example:5000"]
    )
    crashing: dict[str, CrashSpec] = Field(
        default_factory=lambda: {
            CRASHING_DEMO_IMAGE: CrashSpec(reason="Error", log=list(_CRASH_LOG)),
            OOM_DEMO_IMAGE: CrashSpec(reason="OOMKilled", run_seconds=4.0, log=list(_OOM_LOG)),
        }
    )


class Timings(_Model):
    """Seconds of simulated time for each step; the simulation divides them by ``speed``.

    Defaults make a small cluster ready in about five simulated seconds: realistic order, short
    waits. Back-offs follow the kubelet (10 s doubling up to 300 s) so a crash loop looks real.
    """

    schedule: float = Field(default=0.3, ge=0)
    pull_base: float = Field(default=0.8, ge=0)  # first pull of an image on a node
    pull_per_gib: float = Field(default=0.5, ge=0)
    pull_error: float = Field(default=1.0, ge=0)  # until the registry answers "not found"
    registry_timeout: float = Field(default=30.0, ge=0)  # until dial tcp ... i/o timeout
    container_create: float = Field(default=0.2, ge=0)
    container_start: float = Field(default=0.3, ge=0)
    head_ready: float = Field(default=2.0, ge=0)  # Running → Ready for the head (GCS up)
    worker_ready: float = Field(default=1.0, ge=0)  # Running → Ready for a worker
    gcs_wait_poll: float = Field(default=5.0, gt=0)  # wait-gcs-ready's sleep between checks
    init_complete: float = Field(default=0.3, ge=0)  # head Ready → init container done
    status_sync: float = Field(default=1.0, ge=0)  # ErrImagePull → ImagePullBackOff
    backoff_base: float = Field(default=10.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)


class Quotas(_Model):
    max_pods: dict[str, int] = Field(default_factory=dict)
    quota_name: str = "pods-quota"


def _default_nodes() -> list[NodeSpec]:
    zone = "us-central1-a"
    nodes = []
    for suffix in ("2xkq", "7b4m", "c9pz"):
        name = f"gke-sandbox-cpu-pool-5f3a9c1e-{suffix}"
        nodes.append(
            NodeSpec(
                name=name,
                cpu="16",
                memory="64Gi",
                labels={
                    "cloud.google.com/gke-nodepool": "cpu-pool",
                    "node.kubernetes.io/instance-type": "n2-standard-16",
                    "topology.kubernetes.io/zone": zone,
                },
            )
        )
    for suffix in ("h6wd", "r8tn"):
        name = f"gke-sandbox-gpu-pool-8c1f2e3a-{suffix}"
        nodes.append(
            NodeSpec(
                name=name,
                cpu="47",
                memory="180Gi",
                gpus=4,
                labels={
                    "cloud.google.com/gke-nodepool": "gpu-pool",
                    "cloud.google.com/gke-accelerator": "nvidia-l4",
                    "node.kubernetes.io/instance-type": "g2-standard-48",
                    "topology.kubernetes.io/zone": zone,
                },
                taints=[Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")],
            )
        )
    return nodes


# ---------------------------------------------------------------------------------------------
# Autoscaling: node pools grown and shrunk by a node autoscaler, the API server's
# ExtendedResourceToleration plugin, and Ray's in-tree autoscaler. Kept in one block (issue 11).


class NodeTemplate(_Model):
    """What every node of a pool looks like (the autoscaler's node template)."""

    cpu: str = "16"
    memory: str = "64Gi"
    gpus: int = Field(default=0, ge=0)
    gpu_resource: str = "nvidia.com/gpu"
    max_pods: int = Field(default=110, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)


class NodePool(_Model):
    """A node group (cluster-autoscaler) or NodePool (Karpenter) of ``min``..``max`` nodes."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)
    min: int = Field(default=0, ge=0)
    max: int = Field(default=1, ge=0)
    autoscaler: Literal["cluster-autoscaler", "karpenter"] = "cluster-autoscaler"
    scale_up_seconds: float = Field(default=8.0, ge=0)
    scale_down_idle_seconds: float = Field(default=600.0, ge=0)
    node: NodeTemplate = Field(default_factory=NodeTemplate)

    @model_validator(mode="after")
    def _min_below_max(self) -> NodePool:
        if self.min > self.max:
            raise ValueError(f"node pool {self.name}: min ({self.min}) > max ({self.max})")
        return self


class AutoscalingConfig(_Model):
    extended_resource_toleration: bool = True
    node_pools: list[NodePool] = Field(default_factory=list)
    ray_autoscaler: bool = False


# ---------------------------------------------------------------------------------------------


class SimConfig(AutoscalingConfig):
    nodes: list[NodeSpec] = Field(default_factory=_default_nodes)
    images: ImageCatalogueConfig = Field(default_factory=ImageCatalogueConfig)
    timings: Timings = Field(default_factory=Timings)
    quotas: Quotas = Field(default_factory=Quotas)
    seed: int | None = None

    @model_validator(mode="after")
    def _unique_node_names(self) -> SimConfig:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError("node names must be unique")
        if not names and not self.node_pools:
            raise ValueError("at least one node is needed")
        pools = [p.name for p in self.node_pools]
        if len(set(pools)) != len(pools):
            raise ValueError("node pool names must be unique")
        return self

    @classmethod
    def default(cls) -> SimConfig:
        """Three 16-CPU nodes and two 4×L4 GPU nodes, recent Ray images, demo crash images."""
        return cls()

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> SimConfig:
        try:
            return cls.model_validate(data or {})
        except ValidationError as err:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                for e in err.errors()
            ]
            raise SandboxError(
                "invalid sandbox simulation config: " + "; ".join(problems),
                hint="see the YAML format in core/sandbox/sim/simconfig.py",
            ) from err

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimConfig:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise SandboxError(
                f"cannot read sandbox simulation config {path}: {err}",
                hint="pass a readable YAML file to --config",
            ) from err
        if data is not None and not isinstance(data, dict):
            raise SandboxError(
                f"sandbox simulation config {path} must be a YAML mapping",
                hint="see the YAML format in core/sandbox/sim/simconfig.py",
            )
        return cls.from_mapping(data)
