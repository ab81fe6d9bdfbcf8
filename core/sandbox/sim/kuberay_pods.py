"""What KubeRay v1.5.1 builds from a RayCluster: pods, the head Service, autoscaler RBAC — pure.

Names, labels, the generated ``ray start`` command, injected env vars, probes, the
``wait-gcs-ready`` init container and the autoscaler sidecar follow ``ctrl/common/pod.go`` and
``service.go`` (see shared/kuberay/OPERATOR.md), so what the bot and kubectl see in the sandbox is
what they would see on a real cluster. Also the operator's own spec validation (``validate``).
"""

from __future__ import annotations

import re
from typing import Any

from core.sandbox.apiserver.objects import clone
from core.sandbox.sim.quantity import milli

Obj = dict[str, Any]

MAX_CLUSTER_NAME = 53
MAX_POD_PREFIX = 50
AUTOSCALER_IMAGE_DEFAULT_RESOURCES = {"cpu": "500m", "memory": "512Mi"}
DEFAULT_HEAD_PORTS = {"client": 10001, "gcs-server": 6379, "dashboard": 8265, "metrics": 8080,
                      "serve": 8000}  # fmt: skip
KUBERAY_VERSION = "v1.5.1"
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_LABELS_PARAM = (
    "rayStartParams['labels'] is not supported for {where}. please use labels field instead"
)
_WAIT_GCS = """
SECONDS=0
while true; do
  if (( SECONDS <= 120 )); then
    if ray health-check --address {addr} > /dev/null 2>&1; then
      echo "GCS is ready."
      break
    fi
    echo "$SECONDS seconds elapsed: Waiting for GCS to be ready."
  else
    if ray health-check --address {addr}; then
      echo "GCS is ready. Any error messages above can be safely ignored."
      break
    fi
    echo "$SECONDS seconds elapsed: Still waiting for GCS to be ready. For troubleshooting, \
refer to the FAQ at https://github.com/ray-project/kuberay/blob/master/docs/guidance/FAQ.md."
  fi
  sleep 5
done
"""


def validate_metadata(rc: Obj) -> str | None:
    """``ValidateRayClusterMetadata``: names the API server takes but the operator refuses."""
    name = rc["metadata"]["name"]
    if len(name) > MAX_CLUSTER_NAME:
        return f"RayCluster name should be no more than {MAX_CLUSTER_NAME} characters"
    if not _DNS1035.fullmatch(name):
        return f"RayCluster name should be a valid DNS1035 label: [{_DNS1035_MSG}]"
    return None


def validate(rc: Obj) -> str | None:
    """``ValidateRayClusterSpec``: the first problem, or None."""
    spec = rc.get("spec") or {}
    head = spec.get("headGroupSpec") or {}
    if not ((head.get("template") or {}).get("spec") or {}).get("containers"):
        return "headGroupSpec should have at least one container"
    for group in spec.get("workerGroupSpecs") or ():
        if not ((group.get("template") or {}).get("spec") or {}).get("containers"):
            return "workerGroupSpec should have at least one container"
    if "labels" in (head.get("rayStartParams") or {}):
        return _LABELS_PARAM.format(where="headGroupSpec")
    for group in spec.get("workerGroupSpecs") or ():
        group_name = group.get("groupName")
        if "labels" in (group.get("rayStartParams") or {}):
            return _LABELS_PARAM.format(where=f"workerGroupSpec {group_name}")
        if group.get("suspend"):
            if is_autoscaling(rc):
                return f"worker group {group_name} cannot be suspended with Autoscaler enabled"
            return (
                f"worker group {group_name} can be suspended only when the "
                "RayJobDeletionPolicy feature gate is enabled"
            )
    head_env = {e.get("name") for e in head["template"]["spec"]["containers"][0].get("env") or ()}
    if not is_autoscaling(rc) and "RAY_enable_autoscaler_v2" in head_env:
        return "RAY_enable_autoscaler_v2 is set but enableInTreeAutoscaling is not true"
    versioned = (spec.get("autoscalerOptions") or {}).get("version")
    if is_autoscaling(rc) and versioned and "RAY_enable_autoscaler_v2" in head_env:
        return (
            "both .spec.autoscalerOptions.version and head Pod env var "
            "RAY_enable_autoscaler_v2 are set, please only use the former"
        )
    if autoscaler_v2(rc):
        if head["template"]["spec"].get("restartPolicy") not in (None, "", "Never"):
            return "restartPolicy for head Pod should be Never or unset when using autoscaler V2"
        for group in spec.get("workerGroupSpecs") or ():
            if group["template"]["spec"].get("restartPolicy") not in (None, "", "Never"):
                return (
                    f"restartPolicy for worker group {group.get('groupName')} should be Never or "
                    "unset when using autoscaler V2"
                )
    return None


def autoscaler_v2(rc: Obj) -> bool:
    """``autoscalerOptions.version: v2``: pods get ``restartPolicy: Never``."""
    options = (rc.get("spec") or {}).get("autoscalerOptions") or {}
    return is_autoscaling(rc) and options.get("version") == "v2"


def is_autoscaling(rc: Obj) -> bool:
    return bool((rc.get("spec") or {}).get("enableInTreeAutoscaling"))


def desired_replicas(group: Obj) -> int:
    """``GetWorkerGroupDesiredReplicas``: clamp(replicas, min, max) × numOfHosts; 0 if suspended."""
    if group.get("suspend"):
        return 0
    low = int(group.get("minReplicas") or 0)
    maximum = group.get("maxReplicas")
    high = int(maximum) if maximum is not None else 2**31 - 1
    replicas = int(group.get("replicas") or 0)
    replicas = high if low > high else min(max(replicas, low), high)
    return replicas * max(1, int(group.get("numOfHosts") or 1))


def head_service_name(rc: Obj) -> str:
    custom = ((rc["spec"].get("headGroupSpec") or {}).get("headService") or {}).get("metadata")
    if custom and custom.get("name"):
        return str(custom["name"])
    return f"{rc['metadata']['name']}-head-svc"


def head_fqdn(rc: Obj) -> str:
    return f"{head_service_name(rc)}.{rc['metadata']['namespace']}.svc.cluster.local"


def pod_generate_name(prefix: str, node_type: str) -> str:
    """``utils.PodGenerateName``: prefix cut to 50 characters, no trailing dash."""
    return f"{prefix[:MAX_POD_PREFIX].rstrip('-')}-{node_type}-".lower()


def owner_reference(rc: Obj) -> Obj:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": rc["metadata"]["name"],
        "uid": rc["metadata"].get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_labels(rc: Obj, node_type: str, group: str, extra: Obj | None) -> dict[str, str]:
    name = rc["metadata"]["name"]
    labels = {
        "ray.io/node-type": node_type,
        "ray.io/group": group,
        "ray.io/cluster": name,
        "ray.io/is-ray-node": "yes",
        "ray.io/identifier": f"{name}-{node_type}"[:63].rstrip("-"),
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    for key, value in (extra or {}).items():
        if key not in ("ray.io/node-type", "ray.io/group", "ray.io/cluster"):
            labels[key] = value
    return labels


def _start_params(rc: Obj, group_spec: Obj, container: Obj, head: bool) -> dict[str, str]:
    params = {k: str(v) for k, v in (group_spec.get("rayStartParams") or {}).items()}
    if head:
        params.setdefault("dashboard-host", "0.0.0.0")
        if is_autoscaling(rc):
            params.setdefault("no-monitor", "true")
    else:
        params.setdefault("address", f"{head_fqdn(rc)}:6379")
    params.setdefault("metrics-export-port", "8080")
    params.setdefault("block", "true")
    params.setdefault("dashboard-agent-listen-port", "52365")
    resources = container.get("resources") or {}
    sized = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    if "cpu" in sized and "num-cpus" not in params:
        params["num-cpus"] = str(_ceil_units(str(sized["cpu"])))
    if "memory" in sized and "memory" not in params:
        params["memory"] = str(_ceil_units(str(sized["memory"])))
    gpus = [v for k, v in sized.items() if k.endswith("gpu")]
    if gpus and "num-gpus" not in params:
        params["num-gpus"] = str(gpus[0])
    return params


def _ceil_units(quantity: str) -> int:
    """``Quantity.Value()``: whole units rounded up (500m CPU → 1, 4Gi → 4294967296)."""
    return -(-milli(quantity) // 1000)


def _start_command(params: dict[str, str], head: bool) -> str:
    flags = []
    for key in sorted(params):
        value = params[key]
        flags.append(
            f"--{key}" if value == "true" and key in ("block", "no-monitor") else f"--{key}={value}"
        )
    return f"ulimit -n 65536; ray start{' --head' if head else ''} " + " ".join(flags)


def _probe(head: bool, initial: int, failures: int) -> Obj:
    check = (
        "wget --tries 1 -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success"
    )
    if head:
        check += (
            " && wget --tries 1 -T 10 -q -O- http://localhost:8265/api/gcs_healthz | grep success"
        )
    return {
        "exec": {"command": ["bash", "-c", check]},
        "initialDelaySeconds": initial,
        "timeoutSeconds": 2 if not head else 5,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def _build_pod(rc: Obj, group_spec: Obj, *, head: bool, group: str, generate_name: str) -> Obj:
    template = clone(group_spec.get("template") or {})
    meta_in, spec = template.get("metadata") or {}, template.get("spec") or {}
    containers = spec["containers"]
    ray = containers[0]
    node_type = "head" if head else "worker"
    params = _start_params(rc, group_spec, ray, head)
    command = _start_command(params, head)
    user_cmd = " ".join([*(ray.get("command") or []), *(ray.get("args") or [])])
    if user_cmd and "ray start" not in user_cmd:
        command = f"{user_cmd} && {command}"
    ray["command"], ray["args"] = ["/bin/bash", "-lc", "--"], [command]
    fqdn = head_fqdn(rc)
    env = [e for e in ray.get("env") or ()]
    names = {e.get("name") for e in env}
    injected = [
        _field_env("RAY_CLUSTER_NAME", "metadata.labels['ray.io/cluster']"),
        _field_env("RAY_CLOUD_INSTANCE_ID", "metadata.name"),
        _field_env("RAY_NODE_TYPE_NAME", "metadata.labels['ray.io/group']"),
        {"name": "KUBERAY_GEN_RAY_START_CMD", "value": command.split("; ", 1)[-1]},
        {"name": "RAY_PORT", "value": "6379"},
        {"name": "RAY_ADDRESS", "value": "127.0.0.1:6379" if head else f"{fqdn}:6379"},
        {"name": "RAY_USAGE_STATS_KUBERAY_IN_USE", "value": "1"},
        {"name": "RAY_USAGE_STATS_EXTRA_TAGS",
         "value": f"kuberay_version={KUBERAY_VERSION};kuberay_crd=RayCluster"},
        {"name": "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE", "value": "1"},
    ]  # fmt: skip
    if not head:
        injected += [{"name": "FQ_RAY_IP", "value": fqdn}, {"name": "RAY_IP", "value": fqdn}]
    ray["env"] = env + [e for e in injected if e["name"] not in names]
    ports = ray.setdefault("ports", [])
    if not any(p.get("containerPort") == 8080 or p.get("name") == "metrics" for p in ports):
        ports.append({"name": "metrics", "containerPort": 8080, "protocol": "TCP"})
    ray.setdefault("readinessProbe", _probe(head, 10, 10))
    ray.setdefault("livenessProbe", _probe(head, 30, 120))
    mounts = ray.setdefault("volumeMounts", [])
    volumes = spec.setdefault("volumes", [])
    memory = ((ray.get("resources") or {}).get("limits") or {}).get("memory")
    shm: Obj = {"name": "shared-mem", "emptyDir": {"medium": "Memory"}}
    if memory:
        shm["emptyDir"]["sizeLimit"] = memory
    volumes.append(shm)
    mounts.append({"name": "shared-mem", "mountPath": "/dev/shm"})
    if head and is_autoscaling(rc):
        volumes.append({"name": "ray-logs", "emptyDir": {}})
        mounts.append({"name": "ray-logs", "mountPath": "/tmp/ray"})
        containers.append(_autoscaler_container(rc, ray))
        spec.setdefault("serviceAccountName", rc["metadata"]["name"])
    if not head:
        init = {
            "name": "wait-gcs-ready",
            "image": ray.get("image"),
            "command": ["/bin/bash", "-lc", "--"],
            "args": [_WAIT_GCS.format(addr=f"{fqdn}:6379")],
            "env": [{"name": "FQ_RAY_IP", "value": fqdn}, {"name": "RAY_IP", "value": fqdn}],
            "resources": {"limits": {"cpu": "200m", "memory": "256Mi"},
                          "requests": {"cpu": "200m", "memory": "256Mi"}},
        }  # fmt: skip
        if ray.get("imagePullPolicy"):
            init["imagePullPolicy"] = ray["imagePullPolicy"]
        spec["initContainers"] = [*(spec.get("initContainers") or []), init]
    if autoscaler_v2(rc):
        spec["restartPolicy"] = "Never"
        if head:
            ray["env"].append({"name": "RAY_enable_autoscaler_v2", "value": "true"})
    spec.setdefault("restartPolicy", "Always")
    labels = {**(meta_in.get("labels") or {}), **(group_spec.get("labels") or {})}
    annotations = {**(meta_in.get("annotations") or {}), "ray.io/ft-enabled": "false"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": generate_name,
            "namespace": rc["metadata"]["namespace"],
            "labels": pod_labels(rc, node_type, group, labels),
            "annotations": annotations,
            "ownerReferences": [owner_reference(rc)],
        },
        "spec": spec,
    }


def _autoscaler_container(rc: Obj, ray: Obj) -> Obj:
    options = rc["spec"].get("autoscalerOptions") or {}
    resources = options.get("resources") or {
        "limits": dict(AUTOSCALER_IMAGE_DEFAULT_RESOURCES),
        "requests": dict(AUTOSCALER_IMAGE_DEFAULT_RESOURCES),
    }
    return {
        "name": "autoscaler",
        "image": options.get("image") or ray.get("image"),
        "imagePullPolicy": options.get("imagePullPolicy") or "IfNotPresent",
        "command": ["/bin/bash", "-lc", "--"],
        "args": ["ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) "
                 "--cluster-namespace $(RAY_CLUSTER_NAMESPACE)"],
        "env": [
            _field_env("RAY_CLUSTER_NAME", "metadata.labels['ray.io/cluster']"),
            _field_env("RAY_CLUSTER_NAMESPACE", "metadata.namespace"),
            _field_env("RAY_HEAD_POD_NAME", "metadata.name"),
            {"name": "KUBERAY_CRD_VER", "value": "v1"},
            *(options.get("env") or []),
        ],
        "resources": resources,
        "volumeMounts": [{"name": "ray-logs", "mountPath": "/tmp/ray"}],
    }  # fmt: skip


def build_head_pod(rc: Obj) -> Obj:
    name = rc["metadata"]["name"]
    head = rc["spec"]["headGroupSpec"]
    return _build_pod(rc, head, head=True, group="headgroup",
                      generate_name=pod_generate_name(name, "head"))  # fmt: skip


def build_worker_pod(rc: Obj, group: Obj) -> Obj:
    prefix = f"{rc['metadata']['name']}-{group['groupName']}"
    return _build_pod(rc, group, head=False, group=group["groupName"],
                      generate_name=pod_generate_name(prefix, "worker"))  # fmt: skip


def build_head_service(rc: Obj) -> Obj:
    """Headless ``<name>-head-svc`` with the head container's ports plus ``metrics``."""
    name = rc["metadata"]["name"]
    head = rc["spec"]["headGroupSpec"]
    ray = head["template"]["spec"]["containers"][0]
    custom = clone(head.get("headService") or {})
    ports: list[Obj] = list((custom.get("spec") or {}).get("ports") or [])
    container_ports = ray.get("ports") or []
    wanted = {
        (p.get("name") or f"{p['containerPort']}-port"): p["containerPort"] for p in container_ports
    }
    if not wanted:
        wanted = dict(DEFAULT_HEAD_PORTS)
    wanted.setdefault("metrics", 8080)
    for port_name, number in wanted.items():
        ports.append({"name": port_name, "port": number, "protocol": "TCP", "targetPort": number,
                      "appProtocol": "tcp"})  # fmt: skip
    selector = {"ray.io/cluster": name, "ray.io/node-type": "head"}
    labels = {**selector, "ray.io/identifier": f"{name}-head", "app.kubernetes.io/name": "kuberay",
              "app.kubernetes.io/created-by": "kuberay-operator"}  # fmt: skip
    spec: Obj = {**(custom.get("spec") or {}), "ports": ports, "selector": selector}
    service_type = head.get("serviceType") or spec.get("type") or "ClusterIP"
    spec.setdefault("type", service_type)
    if not custom and service_type == "ClusterIP":
        spec.update({"clusterIP": "None", "publishNotReadyAddresses": True})
    elif not custom:
        spec["type"] = service_type  # NodePort / LoadBalancer: a real clusterIP and node ports
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": head_service_name(rc),
            "namespace": rc["metadata"]["namespace"],
            "labels": {**((custom.get("metadata") or {}).get("labels") or {}), **labels},
            "annotations": dict(rc["spec"].get("headServiceAnnotations") or {}),
            "ownerReferences": [owner_reference(rc)],
        },
        "spec": spec,
    }
