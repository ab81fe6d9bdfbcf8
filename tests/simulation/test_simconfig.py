"""The simulation is configured by a YAML file with sensible defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SandboxError
from core.sandbox.sim.simconfig import SimConfig


def test_default_pool_has_cpu_nodes_and_l4_gpu_nodes() -> None:
    config = SimConfig.default()
    gpu_nodes = [n for n in config.nodes if n.gpus]
    cpu_nodes = [n for n in config.nodes if not n.gpus]
    assert len(cpu_nodes) == 3 and len(gpu_nodes) == 2
    assert all(n.labels["cloud.google.com/gke-accelerator"] == "nvidia-l4" for n in gpu_nodes)
    assert all(t.key == "nvidia.com/gpu" for n in gpu_nodes for t in n.taints)
    assert config.timings.backoff_base == 10 and config.timings.backoff_max == 300


def test_yaml_overrides_nodes_images_timings_and_quotas(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        """
nodes:
  - {name: a100-node, cpu: "94", memory: 1300Gi, gpus: 8,
     labels: {cloud.google.com/gke-accelerator: nvidia-tesla-a100}}
images:
  ray_releases: ["2.53.0"]
  crashing:
    ghcr.io/acme/bad:1: {reason: OOMKilled, log: ["boom"]}
timings: {schedule: 0.1}
quotas: {max_pods: {team-a: 3}}
seed: 7
""",
        encoding="utf-8",
    )
    config = SimConfig.from_yaml(path)
    assert [n.name for n in config.nodes] == ["a100-node"]
    assert config.nodes[0].gpus == 8
    assert config.images.ray_releases == ["2.53.0"]
    assert config.images.crashing["ghcr.io/acme/bad:1"].code == 137
    assert config.timings.schedule == 0.1
    assert config.timings.pull_base == SimConfig.default().timings.pull_base
    assert config.quotas.max_pods == {"team-a": 3}
    assert config.seed == 7


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("nodez: []", "nodez"),
        ("nodes: []", "at least one node"),
        ("nodes: [{name: a}, {name: a}]", "unique"),
        ("timings: {schedule: -1}", "timings.schedule"),
        ("- just a list", "must be a YAML mapping"),
        ("nodes: [", "cannot read"),
    ],
)
def test_bad_yaml_is_a_sandbox_error_naming_the_problem(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SandboxError, match="sim") as info:
        SimConfig.from_yaml(path)
    assert fragment in str(info.value)


def test_empty_yaml_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text("", encoding="utf-8")
    assert SimConfig.from_yaml(path) == SimConfig.default()


def test_shipped_example_config_spells_out_the_defaults() -> None:
    path = Path(__file__).resolve().parents[2] / "core" / "sandbox" / "data" / "sim-default.yaml"
    assert SimConfig.from_yaml(path) == SimConfig.default()


def test_node_pool_is_offered_as_v1_node_objects() -> None:
    from core.sandbox.apiserver.store import Store
    from core.sandbox.sim.simulation import Simulation

    nodes = Simulation(Store(), SimConfig.default()).node_objects()
    assert len(nodes) == 5
    gpu = [n for n in nodes if "nvidia.com/gpu" in n["status"]["allocatable"]]
    assert [n["status"]["allocatable"]["nvidia.com/gpu"] for n in gpu] == ["4", "4"]
    assert all(n["metadata"]["labels"]["kubernetes.io/hostname"] == n["metadata"]["name"]
               for n in nodes)  # fmt: skip
    assert gpu[0]["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]


def test_autoscaling_keys_default_to_todays_fixed_cluster() -> None:
    config = SimConfig.default()
    assert config.extended_resource_toleration is True
    assert config.node_pools == [] and config.ray_autoscaler is False


def test_node_pools_are_read_from_yaml_with_their_autoscaler(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        """
extended_resource_toleration: false
ray_autoscaler: true
node_pools:
  - name: gpu-a100
    max: 4
    autoscaler: karpenter
    scale_up_seconds: 45
    node: {cpu: "94", memory: 1300Gi, gpus: 8, taints: [{key: nvidia.com/gpu, value: present}]}
""",
        encoding="utf-8",
    )
    config = SimConfig.from_yaml(path)
    pool = config.node_pools[0]
    assert (pool.min, pool.max, pool.autoscaler, pool.scale_up_seconds) == (0, 4, "karpenter", 45)
    assert pool.scale_down_idle_seconds == 600 and pool.node.gpus == 8
    assert pool.node.taints[0].effect == "NoSchedule"
    assert config.ray_autoscaler and not config.extended_resource_toleration
    assert len(config.nodes) == 5  # the fixed nodes stay unless `nodes` is given


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("node_pools: [{name: gpu, min: 3, max: 1}]", "min (3) > max (1)"),
        ("node_pools: [{name: gpu}, {name: gpu}]", "node pool names must be unique"),
        ("node_pools: [{name: gpu, autoscaler: gke}]", "node_pools.0.autoscaler"),
        ("node_pools: [{name: GPU_pool}]", "node_pools.0.name"),
    ],
)
def test_bad_node_pools_are_refused(text: str, fragment: str) -> None:
    import yaml

    with pytest.raises(SandboxError) as info:
        SimConfig.from_mapping(yaml.safe_load(text))
    assert fragment in str(info.value)


def test_a_cluster_of_autoscaled_pools_only_needs_no_fixed_node() -> None:
    config = SimConfig.from_mapping({"nodes": [], "node_pools": [{"name": "cpu", "min": 1}]})
    assert config.nodes == [] and config.node_pools[0].min == 1
