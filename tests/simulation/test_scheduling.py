"""The simulated default-scheduler places pods like kube-scheduler and explains failures its way."""

from __future__ import annotations

from typing import Any

import pytest

from core.sandbox.sim.admission_plugins import extended_resource_toleration
from core.sandbox.sim.quantity import milli
from core.sandbox.sim.scheduler import NodeState, fit_error, place, pod_requests
from core.sandbox.sim.simconfig import NodeSpec, SimConfig, Taint

L4 = {"cloud.google.com/gke-accelerator": "nvidia-l4"}


def _nodes() -> list[NodeState]:
    return [NodeState.from_spec(n) for n in SimConfig.default().nodes]


def _pod(
    *, cpu: str = "1", memory: str = "2Gi", gpus: int = 0, selector: dict[str, str] | None = None
) -> dict[str, Any]:
    limits = {"cpu": cpu, "memory": memory} | ({"nvidia.com/gpu": str(gpus)} if gpus else {})
    spec: dict[str, Any] = {
        "containers": [{"name": "ray-worker", "resources": {"limits": limits, "requests": limits}}],
        "initContainers": [
            {
                "name": "wait-gcs-ready",
                "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}},
            }
        ],
    }
    if selector:
        spec["nodeSelector"] = selector
    # As the default (GKE-like) API server admits it: ExtendedResourceToleration adds the
    # nvidia.com/gpu toleration to GPU pods.
    admitted: dict[str, Any] = extended_resource_toleration("pods", {"spec": spec}, None)["spec"]
    return admitted


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500m", 500), ("1", 1000), ("2.5", 2500), ("1Gi", 1024**3 * 1000), ("1e3", 1_000_000),
     ("100Mi", 100 * 1024**2 * 1000), ("1k", 1_000_000)],
)  # fmt: skip
def test_quantities_are_parsed_to_milli_units(text: str, expected: int) -> None:
    assert milli(text) == expected


def test_requests_sum_containers_and_cover_the_largest_init_container() -> None:
    spec = {
        "containers": [
            {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
            {"resources": {"limits": {"cpu": "500m", "memory": "512Mi"}}},
        ],
        "initContainers": [{"resources": {"requests": {"cpu": "4"}}}],
    }
    assert pod_requests(spec) == {"cpu": 4000, "memory": milli("1536Mi")}


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        (
            _pod(gpus=64),
            "0/5 nodes are available: 5 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are "
            "available: 5 No preemption victims found for incoming pod.",
        ),
        (
            _pod(gpus=64, selector=L4),
            "0/5 nodes are available: 2 Insufficient nvidia.com/gpu, 3 node(s) didn't match Pod's "
            "node affinity/selector. preemption: 0/5 nodes are available: 2 No preemption victims "
            "found for incoming pod, 3 Preemption is not helpful for scheduling.",
        ),
        (
            _pod(gpus=1, selector={"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}),
            "0/5 nodes are available: 5 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.",
        ),
        (
            _pod(cpu="100", memory="1Ti"),
            "0/5 nodes are available: 2 node(s) had untolerated taint {nvidia.com/gpu: present}, "
            "3 Insufficient cpu, 3 Insufficient memory. preemption: 0/5 nodes are available: "
            "2 Preemption is not helpful for scheduling, 3 No preemption victims found for "
            "incoming pod.",
        ),
    ],
    ids=["too-many-gpus", "gpu-type-too-many", "unknown-gpu-type", "too-big-for-cpu-nodes"],
)
def test_unschedulable_pods_get_the_schedulers_fit_error(pod: dict[str, Any], message: str) -> None:
    node, text = place(pod, _nodes())
    assert node is None
    assert text == message


def test_gpu_pod_lands_on_a_gpu_node_and_cpu_pod_stays_off_tainted_gpu_nodes() -> None:
    nodes = _nodes()
    gpu_node, _ = place(_pod(gpus=1, selector=L4), nodes)
    cpu_node, _ = place(_pod(), nodes)
    assert gpu_node is not None and gpu_node.spec.gpus == 4
    assert cpu_node is not None and cpu_node.spec.gpus == 0


def test_bound_pods_use_up_capacity_until_released() -> None:
    nodes = [NodeState.from_spec(NodeSpec(name="only", cpu="2", memory="8Gi", max_pods=3))]
    spec = _pod(cpu="1500m")
    first, _ = place(spec, nodes)
    assert first is not None
    first.bind(pod_requests(spec))
    node, message = place(spec, nodes)
    assert node is None
    assert message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    first.bind(pod_requests(spec), -1)
    assert place(spec, nodes)[0] is first


def test_pod_count_limit_reads_too_many_pods() -> None:
    nodes = [NodeState.from_spec(NodeSpec(name="tiny", max_pods=1))]
    nodes[0].bind({"cpu": 100})
    assert "1 Too many pods" in place(_pod(), nodes)[1]


def test_tolerations_admit_pods_onto_tainted_nodes() -> None:
    taint = Taint(key="dedicated", value="ray")
    nodes = [NodeState.from_spec(NodeSpec(name="t", taints=[taint]))]
    spec = _pod()
    assert place(spec, nodes)[0] is None
    spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "ray",
                            "effect": "NoSchedule"}]  # fmt: skip
    assert place(spec, nodes)[0] is nodes[0]


def test_least_allocated_node_wins() -> None:
    nodes = [NodeState.from_spec(NodeSpec(name=n)) for n in ("a", "b")]
    nodes[1].bind({"cpu": 8000, "memory": milli("32Gi")})
    assert place(_pod(), nodes)[0] is nodes[0]


def test_fit_error_sorts_reasons_as_strings_like_the_scheduler() -> None:
    message = fit_error(12, [(["Insufficient cpu"], True)] * 10 + [(["Too many pods"], True)] * 2)
    assert message.startswith("0/12 nodes are available: 10 Insufficient cpu, 2 Too many pods.")
