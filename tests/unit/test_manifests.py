"""build_raycluster: DESIGN §3 rule by rule; every manifest is accepted by the KubeRay CRD."""

from __future__ import annotations

import copy
import shutil
import subprocess
from typing import Any

import pytest

from core import state
from core.config import ClusterConfig, build_config
from core.sandbox.apiserver.schema import validate_raycluster
from manifests import labels
from manifests.raycluster import (
    build_raycluster,
    desired_group_bounds,
    head_service_name,
    services_secret_name,
)

# ≥ 12 distinct configurations; each must give a manifest the API server accepts as is.
MATRIX: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "default": ({"name": "demo"}, {}),
    "one gpu (--gpus 1)": (
        {"name": "gpu1"},
        {
            "worker_groups.0.gpus": 1,
            "worker_groups.0.replicas": 1,
            "worker_groups.0.min_replicas": 1,
        },
    ),
    "multi-group yaml": (
        {
            "name": "team",
            "worker_groups": [
                {"name": "cpu", "replicas": 4, "max_replicas": 8, "cpus": 8, "memory": "32Gi"},
                {"name": "gpu", "replicas": 2, "gpus": 4, "gpu_type": "nvidia-tesla-a100"},
                {"name": "spot", "min_replicas": 0, "max_replicas": 20},
            ],
        },
        {},
    ),
    "gpu type": ({"name": "l4", "worker_groups": [{"gpus": 2, "gpu_type": "nvidia-l4"}]}, {}),
    "autoscaler off": (
        {"name": "fixed", "autoscaler": {"enabled": False}, "worker_groups": [{"replicas": 3}]},
        {},
    ),
    "all services off": (
        {"name": "bare", "services": {"notebook": False, "code_server": False, "ssh": False}},
        {},
    ),
    "head runs tasks": ({"name": "solo", "head": {"cpus": "3.5", "runs_tasks": True}}, {}),
    "custom images": (
        {
            "name": "custom",
            "head": {"image": "registry.example.com:5000/ml/ray:2.53.0-custom"},
            "worker_groups": [
                {"name": "a", "image": "ghcr.io/acme/ray-worker:v1"},
                {"name": "b", "gpus": 1, "image": "acme/ray@sha256:" + "a" * 64},
            ],
        },
        {},
    ),
    "clamped head": ({"name": "tiny", "head": {"cpus": "250m", "memory": "1Gi"}}, {}),
    "large replica counts": (
        {"name": "big", "worker_groups": [{"replicas": 1000, "min_replicas": 500}]},
        {},
    ),
    "fractional cpus": (
        {
            "name": "frac",
            "head": {"cpus": 1.5},
            "worker_groups": [{"cpus": "0.5", "memory": 1.5e9}],
        },
        {},
    ),
    "aggressive autoscaler": (
        {
            "name": "burst",
            "autoscaler": {
                "upscaling_mode": "aggressive",
                "idle_timeout_seconds": 0,
                "cpu": 1,
                "memory": "1Gi",
            },
        },
        {},
    ),
    "max-length name in another namespace": ({"name": "a" * 53, "namespace": "ml-team"}, {}),
    "sixteen gpus and scientific cpus": (
        {"name": "huge", "worker_groups": [{"gpus": 16, "cpus": "1e2", "memory": "1Ti"}]},
        {},
    ),
    "only notebook": ({"name": "nb", "services": {"code_server": False, "ssh": False}}, {}),
    "cpu group next to gpu group, autoscaler off": (
        {
            "name": "mixed",
            "autoscaler": {"enabled": False},
            "worker_groups": [{"name": "cpu", "replicas": 2}, {"name": "gpu", "gpus": 1}],
        },
        {},
    ),
}


def _config(name: str) -> ClusterConfig:
    data, overrides = MATRIX[name]
    return build_config(data, overrides)


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_manifest_validates_against_the_shipped_crd(case: str) -> None:
    manifest = build_raycluster(
        _config(case), owner="U024BE7LH", annotations={state.SLACK_CHANNEL: "C123"}
    )
    assert validate_raycluster(manifest) == []


def _walk_values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for child in node.values() for v in [child, *_walk_values(child)]]
    if isinstance(node, list):
        return [v for child in node for v in [child, *_walk_values(child)]]
    return []


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_no_nulls_are_emitted(case: str) -> None:
    assert None not in _walk_values(build_raycluster(_config(case)))


def _head(manifest: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    return head


def _worker(manifest: dict[str, Any], index: int = 0) -> dict[str, Any]:
    group: dict[str, Any] = manifest["spec"]["workerGroupSpecs"][index]
    worker: dict[str, Any] = group["template"]["spec"]["containers"][0]
    return worker


def test_kind_version_and_ray_version() -> None:
    manifest = build_raycluster(_config("default"), ray_version="2.47.1")
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayCluster")
    assert manifest["spec"]["rayVersion"] == "2.47.1"
    assert manifest["metadata"]["name"] == "demo"
    assert manifest["metadata"]["namespace"] == "default"


def test_labels_and_owner_label() -> None:
    manifest = build_raycluster(_config("default"), owner="U024BE7LH")
    assert manifest["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "krayne",
        "app.kubernetes.io/name": "demo",
        "krayne.io/owner": "U024BE7LH",
    }


@pytest.mark.parametrize(
    ("owner", "value"),
    [
        ("U024BE7LH", "U024BE7LH"),
        ("alice@example.com", "alice-example.com"),
        ("<@U1|bob>", "U1-bob"),
        ("x" * 80, "x" * 63),
    ],
)
def test_owner_is_sanitized_to_a_label_value(owner: str, value: str) -> None:
    manifest = build_raycluster(_config("default"), owner=owner)
    assert manifest["metadata"]["labels"][labels.OWNER] == value
    assert manifest["metadata"]["annotations"][labels.OWNER] == owner  # exact, in the annotation
    assert validate_raycluster(manifest) == []


def test_owner_that_sanitizes_to_nothing_gets_no_label() -> None:
    manifest = build_raycluster(_config("default"), owner="@@@")
    assert labels.OWNER not in manifest["metadata"]["labels"]


def test_annotations_only_on_the_raycluster() -> None:
    notes = {state.SLACK_CHANNEL: "C1", state.SLACK_THREAD_TS: "1712.0001"}
    manifest = build_raycluster(_config("multi-group yaml"), annotations=notes)
    assert manifest["metadata"]["annotations"] == notes
    templates = [manifest["spec"]["headGroupSpec"]["template"]] + [
        group["template"] for group in manifest["spec"]["workerGroupSpecs"]
    ]
    assert all("annotations" not in t["metadata"] for t in templates)
    assert all(t["metadata"]["labels"][labels.MANAGED_BY[0]] == "krayne" for t in templates)


def test_no_annotations_key_without_annotations() -> None:
    assert "annotations" not in build_raycluster(_config("default"))["metadata"]


def test_images_default_to_rayproject_with_gpu_suffix_and_explicit_images_win() -> None:
    manifest = build_raycluster(_config("multi-group yaml"), python_tag="py311")
    assert _head(manifest)["image"] == "rayproject/ray:2.60.0-py311"
    assert _worker(manifest, 0)["image"] == "rayproject/ray:2.60.0-py311"
    assert _worker(manifest, 1)["image"] == "rayproject/ray:2.60.0-py311-gpu"
    custom = build_raycluster(_config("custom images"))
    assert _head(custom)["image"] == "registry.example.com:5000/ml/ray:2.53.0-custom"
    assert _worker(custom, 0)["image"] == "ghcr.io/acme/ray-worker:v1"
    assert _worker(custom, 1)["image"] == "acme/ray@sha256:" + "a" * 64


def test_head_container_ports_and_guaranteed_resources() -> None:
    head = _head(build_raycluster(_config("all services off")))
    assert head["name"] == "ray-head"
    assert head["ports"] == [
        {"name": "gcs-server", "containerPort": 6379},
        {"name": "dashboard", "containerPort": 8265},
        {"name": "client", "containerPort": 10001},
    ]
    assert (
        head["resources"]["requests"]
        == head["resources"]["limits"]
        == {
            "cpu": "1",
            "memory": "4Gi",
        }
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ({"cpus": "250m", "memory": "1Gi"}, {"cpu": "1", "memory": "4Gi"}),
        ({"cpus": "0.999", "memory": "4095Mi"}, {"cpu": "1", "memory": "4Gi"}),
        ({"cpus": "2", "memory": "4096Mi"}, {"cpu": "2", "memory": "4096Mi"}),
        ({"cpus": "1500m", "memory": "8G"}, {"cpu": "1500m", "memory": "8G"}),
    ],
)
def test_head_is_clamped_up_to_one_cpu_and_4gi(
    head: dict[str, str], expected: dict[str, str]
) -> None:
    resources = _head(build_raycluster(build_config({"name": "h", "head": head})))["resources"]
    assert resources["requests"] == resources["limits"] == expected


@pytest.mark.parametrize(
    ("head", "num_cpus"),
    [
        ({}, "0"),
        ({"runs_tasks": True}, "1"),
        ({"runs_tasks": True, "cpus": "3.5"}, "3"),
        ({"runs_tasks": True, "cpus": "500m"}, "1"),  # clamped to 1 first
        ({"runs_tasks": True, "cpus": "16"}, "16"),
    ],
)
def test_head_num_cpus_is_zero_unless_it_runs_tasks(head: dict[str, Any], num_cpus: str) -> None:
    params = build_raycluster(build_config({"name": "h", "head": head}))["spec"]["headGroupSpec"][
        "rayStartParams"
    ]
    assert params == {"dashboard-host": "0.0.0.0", "num-cpus": num_cpus}


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_all_ray_start_params_are_strings(case: str) -> None:
    spec = build_raycluster(_config(case))["spec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    assert all(isinstance(v, str) for g in groups for v in g["rayStartParams"].values())


def test_enabled_services_get_container_ports_secret_env_and_a_poststart_hook() -> None:
    manifest = build_raycluster(_config("default"))
    head = _head(manifest)
    ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    assert {k: ports[k] for k in ("notebook", "code-server", "ssh")} == {
        "notebook": 8888,
        "code-server": 8443,
        "ssh": 22,
    }
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in head["env"]}
    assert {r["name"] for r in refs.values()} == {services_secret_name("demo")} == {"demo-services"}
    assert {r["key"] for r in refs.values()} == {
        "notebook-token",
        "code-server-password",
        "ssh-authorized-keys",
    }
    script = head["lifecycle"]["postStart"]["exec"]["command"][-1]
    assert "8888" in script and "0.0.0.0:8443" in script and "-p 22" in script
    # never open: a token/password is required, and no service runs without one
    assert "--auth password" in script and "JUPYTER_TOKEN=" in script
    assert "--auth none" not in script and "token=''" not in script
    assert "PasswordAuthentication=no" in script
    # the operator builds the head Service from the container ports: no custom headService
    assert "headService" not in manifest["spec"]["headGroupSpec"]


def test_only_enabled_services_appear() -> None:
    head = _head(build_raycluster(_config("only notebook")))
    assert [p["name"] for p in head["ports"]][3:] == ["notebook"]
    assert [e["name"] for e in head["env"]] == ["KRAYNE_NOTEBOOK_TOKEN"]
    script = head["lifecycle"]["postStart"]["exec"]["command"][-1]
    assert "code-server" not in script and "sshd" not in script


def test_no_services_means_no_hook_and_no_env() -> None:
    head = _head(build_raycluster(_config("all services off")))
    assert "lifecycle" not in head and "env" not in head


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_poststart_script_is_valid_bash() -> None:
    script = _head(build_raycluster(_config("default")))["lifecycle"]["postStart"]["exec"]
    assert script["command"][:2] == ["/bin/bash", "-c"]
    result = subprocess.run(["bash", "-n", "-c", script["command"][2]], capture_output=True)
    assert result.returncode == 0, result.stderr


def test_workers_get_guaranteed_resources_gpus_and_node_selector() -> None:
    manifest = build_raycluster(_config("multi-group yaml"))
    cpu_group, gpu_group, _ = manifest["spec"]["workerGroupSpecs"]
    cpu = cpu_group["template"]["spec"]["containers"][0]
    assert cpu["name"] == "ray-worker"
    assert (
        cpu["resources"]["requests"]
        == cpu["resources"]["limits"]
        == {
            "cpu": "8",
            "memory": "32Gi",
        }
    )
    assert "nodeSelector" not in cpu_group["template"]["spec"]
    gpu = gpu_group["template"]["spec"]["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert gpu["resources"]["requests"] == gpu["resources"]["limits"]
    assert gpu_group["template"]["spec"]["nodeSelector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"
    }
    assert [g["groupName"] for g in manifest["spec"]["workerGroupSpecs"]] == ["cpu", "gpu", "spot"]


def test_autoscaler_on_sets_in_tree_autoscaling_and_options() -> None:
    spec = build_raycluster(_config("aggressive autoscaler"))["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["autoscalerOptions"] == {
        "upscalingMode": "Aggressive",
        "idleTimeoutSeconds": 0,
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    group = build_raycluster(_config("multi-group yaml"))["spec"]["workerGroupSpecs"][0]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (4, 0, 8)


def test_autoscaler_off_pins_min_and_max_to_replicas() -> None:
    spec = build_raycluster(_config("cpu group next to gpu group, autoscaler off"))["spec"]
    assert "enableInTreeAutoscaling" not in spec and "autoscalerOptions" not in spec
    bounds = [(g["replicas"], g["minReplicas"], g["maxReplicas"]) for g in spec["workerGroupSpecs"]]
    assert bounds == [(2, 2, 2), (0, 0, 0)]


@pytest.mark.parametrize(
    ("args", "autoscaling", "expected"),
    [
        ((3, 0, 5), True, (3, 0, 5)),
        ((3, 0, 5), False, (3, 3, 3)),
        ((7, 0, 5), True, (7, 0, 7)),
        ((1, 4, 5), True, (1, 1, 5)),
    ],
)
def test_desired_group_bounds(
    args: tuple[int, int, int], autoscaling: bool, expected: tuple[int, int, int]
) -> None:
    assert desired_group_bounds(*args, autoscaling=autoscaling) == expected


def test_build_is_pure() -> None:
    config = _config("multi-group yaml")
    before = config.model_copy(deep=True)
    first = build_raycluster(config, owner="U1", annotations={state.NOTIFIED: "ready"})
    second = build_raycluster(config, owner="U1", annotations={state.NOTIFIED: "ready"})
    assert first == second and first is not second
    assert config == before
    mutated = copy.deepcopy(first)
    mutated["spec"]["workerGroupSpecs"][0]["replicas"] = 99
    assert build_raycluster(config, owner="U1", annotations={state.NOTIFIED: "ready"}) == first


def test_service_names() -> None:
    assert head_service_name("demo") == "demo-head-svc"
    assert services_secret_name("demo") == "demo-services"
