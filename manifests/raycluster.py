"""ClusterConfig → KubeRay ``RayCluster`` (ray.io/v1) as a plain dict. Pure: no I/O, no clock.

The rules are DESIGN §3. Every manifest this builds validates against the shipped KubeRay v1.5.1
CRD with no unknown field (tests/unit/test_manifests.py), and it never contains ``None``: the API
server drops nulls, so emitting them would make what we send differ from what we read back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypedDict

from core.config import ClusterConfig, HeadNodeConfig, WorkerGroupConfig, parse_quantity
from manifests import labels

API_VERSION = "ray.io/v1"
KIND = "RayCluster"
#: The newest Ray release, as the Krayne CLI/SDK defaults to (its default image is
#: rayproject/ray:2.60.0-py312); a test keeps it, the bot's default and the sandbox's image
#: catalogue in step.
DEFAULT_RAY_VERSION = "2.60.0"
DEFAULT_PYTHON_TAG = "py312"

HEAD_CONTAINER = "ray-head"
WORKER_CONTAINER = "ray-worker"
HEAD_PORTS = (("gcs-server", 6379), ("dashboard", 8265), ("client", 10001))
# The head is clamped up to this: a smaller head gets OOMKilled at start (KubeRay issue #4287).
HEAD_MIN_CPUS = ("1", Decimal(1))
HEAD_MIN_MEMORY = ("4Gi", Decimal(4 * 2**30))
GPU_RESOURCE = "nvidia.com/gpu"
#: The node label ``--gpu-type`` selects on, by default GKE's. Other clouds label GPU nodes
#: differently (README: GPUs on any cloud); the bot's KRAYNE_GPU_TYPE_LABEL says which.
GPU_TYPE_LABEL = "cloud.google.com/gke-accelerator"
#: GPU nodes are commonly tainted so that only GPU pods land there (AKS GPU pools, Karpenter and
#: EKS GPU NodePools, NVIDIA's docs). GKE adds the matching toleration itself through the
#: ExtendedResourceToleration admission plugin, which upstream Kubernetes leaves off
#: (kubernetes plugin/pkg/admission/extendedresourcetoleration), so GPU workers carry it.
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}

# Developer services on the head. The operator builds the head Service from the head container's
# ports, named by their name (OPERATOR.md §3), so declaring container ports is all it takes; a
# custom `headService` would get the default ports appended and must not repeat them.
NOTEBOOK_PORT = ("notebook", 8888)
CODE_SERVER_PORT = ("code-server", 8443)
SSH_PORT = ("ssh", 22)
# Keys of the Secret `services_secret_name(name)`, created by whoever creates the cluster.
NOTEBOOK_TOKEN_KEY = "notebook-token"
CODE_SERVER_PASSWORD_KEY = "code-server-password"
SSH_AUTHORIZED_KEYS_KEY = "ssh-authorized-keys"
_SECRET_ENV = {
    NOTEBOOK_TOKEN_KEY: "KRAYNE_NOTEBOOK_TOKEN",
    CODE_SERVER_PASSWORD_KEY: "KRAYNE_CODE_SERVER_PASSWORD",
    SSH_AUTHORIZED_KEYS_KEY: "KRAYNE_SSH_AUTHORIZED_KEYS",
}

# Each service starts in the background so the postStart hook returns at once (the container is
# not Running until the hook ends, and a failing hook kills it). A service whose secret is
# missing does not start: notebook and code-server are never served without a token/password.
_NOTEBOOK_SCRIPT = """\
if [ -n "${KRAYNE_NOTEBOOK_TOKEN:-}" ]; then
  (command -v jupyter >/dev/null 2>&1 || pip install --quiet jupyterlab) &&
  JUPYTER_TOKEN="$KRAYNE_NOTEBOOK_TOKEN" exec jupyter lab --ip=0.0.0.0 --port=8888 \\
    --no-browser --ServerApp.root_dir="$HOME"
else echo "notebook not started: no token in the services Secret"
fi >/tmp/krayne-notebook.log 2>&1 &
"""
_CODE_SERVER_SCRIPT = """\
if [ -n "${KRAYNE_CODE_SERVER_PASSWORD:-}" ]; then
  export PATH="$HOME/.local/bin:$PATH"
  (command -v code-server >/dev/null 2>&1 || curl -fsSL https://code-server.dev/install.sh \\
   | sh -s -- --method=standalone --prefix="$HOME/.local") &&
  PASSWORD="$KRAYNE_CODE_SERVER_PASSWORD" exec code-server --auth password \\
    --bind-addr 0.0.0.0:8443 "$HOME"
else echo "code-server not started: no password in the services Secret"
fi >/tmp/krayne-code-server.log 2>&1 &
"""
_SSH_SCRIPT = """\
if [ -n "${KRAYNE_SSH_AUTHORIZED_KEYS:-}" ]; then
  mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" &&
  printf '%s\\n' "$KRAYNE_SSH_AUTHORIZED_KEYS" >"$HOME/.ssh/authorized_keys" &&
  chmod 600 "$HOME/.ssh/authorized_keys" &&
  (command -v sshd >/dev/null 2>&1 || test -x /usr/sbin/sshd ||
   (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq openssh-server)) &&
  sudo -n mkdir -p /run/sshd && sudo -n ssh-keygen -A &&
  exec sudo -n /usr/sbin/sshd -D -p 22 -o PasswordAuthentication=no -o PermitRootLogin=no
else echo "ssh not started: no authorized keys in the services Secret"
fi >/tmp/krayne-ssh.log 2>&1 &
"""


# Ray token authentication (KubeRay 1.5 ``spec.authOptions.mode: token``, Ray >= 2.52.0): the
# dashboard/Jobs API, the Ray client and GCS then require the token, which the operator reads
# from the Secret ``auth_secret_name(name)``, key ``auth_token`` (OPERATOR.md §7), and injects
# as RAY_AUTH_TOKEN into every Ray container.
TOKEN_AUTH_MIN_RAY_VERSION = (2, 52, 0)
AUTH_TOKEN_KEY = "auth_token"
_RAY_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")


def supports_token_auth(ray_version: str) -> bool:
    """Whether the operator accepts ``authOptions.mode: token`` for this ``rayVersion``
    (``ValidateRayClusterSpec``: at least 2.52.0; a version it cannot parse is refused)."""
    match = _RAY_VERSION.match(ray_version)
    if match is None:
        return False
    return tuple(int(part or 0) for part in match.groups()) >= TOKEN_AUTH_MIN_RAY_VERSION


def auth_secret_name(cluster_name: str) -> str:
    """The token Secret's name: KubeRay's ``utils.CheckName(cluster)`` (the last 50 characters
    of a longer name; a leading digit or punctuation becomes ``r``)."""
    name = cluster_name[-50:]
    if name[:1].isdigit() or (name[:1] and not name[0].isalnum()):
        name = "r" + name[1:]
    return name


def services_secret_name(cluster_name: str) -> str:
    """The Secret holding the notebook token, code-server password and ssh authorized keys."""
    return f"{cluster_name}-services"


def head_service_name(cluster_name: str) -> str:
    """The head Service the operator creates (OPERATOR.md §3)."""
    return f"{cluster_name}-head-svc"


def default_image(ray_version: str, python_tag: str, *, gpu: bool) -> str:
    """``rayproject/ray:<ray>-<py>[-gpu]``: never derived from the machine the bot runs on."""
    return f"rayproject/ray:{ray_version}-{python_tag}{'-gpu' if gpu else ''}"


def desired_group_bounds(
    replicas: int, min_replicas: int, max_replicas: int, *, autoscaling: bool
) -> tuple[int, int, int]:
    """(replicas, minReplicas, maxReplicas) for a group. Without the autoscaler the operator
    clamps ``replicas`` to [min, max], so pin both to it; with it, keep the range around it."""
    if not autoscaling:
        return replicas, replicas, replicas
    return replicas, min(min_replicas, replicas), max(max_replicas, replicas)


def head_resources(head: HeadNodeConfig) -> tuple[str, str]:
    """The head's (cpu, memory) after clamping up to 1 CPU / 4Gi."""
    cpus = head.cpus if parse_quantity(head.cpus) >= HEAD_MIN_CPUS[1] else HEAD_MIN_CPUS[0]
    memory = head.memory
    if parse_quantity(head.memory) < HEAD_MIN_MEMORY[1]:
        memory = HEAD_MIN_MEMORY[0]
    return cpus, memory


class ManifestOptions(TypedDict):
    """What the deployment decides about every manifest (the bot's settings), as keywords."""

    ray_version: str
    python_tag: str
    gpu_type_label: str
    gpu_tolerations: tuple[dict[str, str], ...]


def build_raycluster(
    config: ClusterConfig,
    *,
    ray_version: str = DEFAULT_RAY_VERSION,
    python_tag: str = DEFAULT_PYTHON_TAG,
    owner: str | None = None,
    annotations: Mapping[str, str] | None = None,
    gpu_type_label: str = GPU_TYPE_LABEL,
    gpu_tolerations: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The RayCluster for ``config``. ``owner`` (a Slack user id) becomes the owner label and
    annotation; ``annotations`` (Slack thread etc.) go on the RayCluster only; a group's
    ``gpu_type`` selects nodes by ``gpu_type_label``; GPU workers tolerate ``nvidia.com/gpu`` and
    ``gpu_tolerations`` (e.g. AKS's ``sku=gpu:NoSchedule``)."""
    metadata: dict[str, Any] = {
        "name": config.name,
        "namespace": config.namespace,
        "labels": labels.cluster_labels(config.name, owner),
    }
    notes = {k: str(v) for k, v in (annotations or {}).items() if v is not None}
    if owner:
        notes.setdefault(labels.OWNER, owner)
    if notes:
        metadata["annotations"] = notes
    spec: dict[str, Any] = {
        "rayVersion": ray_version,
        "headGroupSpec": _head_group(config, ray_version, python_tag, owner),
        "workerGroupSpecs": [
            _worker_group(
                group, config, ray_version, python_tag, owner, gpu_type_label, gpu_tolerations
            )
            for group in config.worker_groups
        ],
    }
    if supports_token_auth(ray_version):
        spec["authOptions"] = {"mode": "token"}
    if config.autoscaler.enabled:
        scaler = config.autoscaler
        amount = {"cpu": scaler.cpu, "memory": scaler.memory}
        spec["enableInTreeAutoscaling"] = True
        spec["autoscalerOptions"] = {
            "upscalingMode": scaler.upscaling_mode.value,
            "idleTimeoutSeconds": scaler.idle_timeout_seconds,
            "resources": {"requests": dict(amount), "limits": dict(amount)},
        }
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _resources(cpu: str, memory: str, gpus: int = 0) -> dict[str, dict[str, str]]:
    """Requests == limits: Guaranteed QoS, so a busy node never evicts a Ray node first."""
    amount = {"cpu": cpu, "memory": memory}
    if gpus > 0:
        amount[GPU_RESOURCE] = str(gpus)
    return {"requests": dict(amount), "limits": dict(amount)}


def _head_group(
    config: ClusterConfig, ray_version: str, python_tag: str, owner: str | None
) -> dict[str, Any]:
    head = config.head
    cpus, memory = head_resources(head)
    ports = [*HEAD_PORTS]
    services = config.services
    scripts: list[str] = []
    env: list[dict[str, Any]] = []
    for enabled, port, script, key in (
        (services.notebook, NOTEBOOK_PORT, _NOTEBOOK_SCRIPT, NOTEBOOK_TOKEN_KEY),
        (services.code_server, CODE_SERVER_PORT, _CODE_SERVER_SCRIPT, CODE_SERVER_PASSWORD_KEY),
        (services.ssh, SSH_PORT, _SSH_SCRIPT, SSH_AUTHORIZED_KEYS_KEY),
    ):
        if enabled:
            ports.append(port)
            scripts.append(script)
            env.append(_secret_env(config.name, key))
    container: dict[str, Any] = {
        "name": HEAD_CONTAINER,
        "image": head.image or default_image(ray_version, python_tag, gpu=False),
        "ports": [{"name": name, "containerPort": number} for name, number in ports],
        "resources": _resources(cpus, memory),
    }
    if env:
        container["env"] = env
    if scripts:
        command = ["/bin/bash", "-c", "".join(scripts) + "exit 0\n"]
        container["lifecycle"] = {"postStart": {"exec": {"command": command}}}
    # Ray rejects a fractional num-cpus: advertise the whole CPUs the container has (at least 1).
    num_cpus = str(math.floor(parse_quantity(cpus))) if head.runs_tasks else "0"
    return {
        "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": num_cpus},
        "template": {
            "metadata": {"labels": labels.pod_labels(owner)},
            "spec": {"containers": [container]},
        },
    }


def _secret_env(cluster_name: str, key: str) -> dict[str, Any]:
    ref = {"name": services_secret_name(cluster_name), "key": key, "optional": True}
    return {"name": _SECRET_ENV[key], "valueFrom": {"secretKeyRef": ref}}


def _worker_group(
    group: WorkerGroupConfig,
    config: ClusterConfig,
    ray_version: str,
    python_tag: str,
    owner: str | None,
    gpu_type_label: str,
    gpu_tolerations: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    replicas, low, high = desired_group_bounds(
        group.replicas, group.min_replicas, group.max_replicas,
        autoscaling=config.autoscaler.enabled,
    )  # fmt: skip
    container = {
        "name": WORKER_CONTAINER,
        "image": group.image or default_image(ray_version, python_tag, gpu=group.gpus > 0),
        "resources": _resources(group.cpus, group.memory, group.gpus),
    }
    pod_spec: dict[str, Any] = {"containers": [container]}
    if group.gpu_type:
        pod_spec["nodeSelector"] = {gpu_type_label: group.gpu_type}
    if group.gpus > 0:
        pod_spec["tolerations"] = [dict(GPU_TOLERATION), *(dict(t) for t in gpu_tolerations)]
    return {
        "groupName": group.name,
        "replicas": replicas,
        "minReplicas": low,
        "maxReplicas": high,
        "rayStartParams": {},
        "template": {"metadata": {"labels": labels.pod_labels(owner)}, "spec": pod_spec},
    }
