"""One-field variants of upstream KubeRay samples, applied with kubectl, act as on a real cluster.

Each variant starts from a file under ``data/upstream`` and changes what users commonly change:
a valid name for the custom head Service sample, ``numOfHosts``, ``suspend``, an integer in
``rayStartParams``, a field that only ``v1alpha1`` had.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sandbox.conftest import DATA, Kubectl

pytestmark = pytest.mark.kubectl
UPSTREAM = DATA / "upstream"


def _variant(tmp_path: Path, sample: str, change: Callable[[dict[str, Any]], None]) -> str:
    documents = list(yaml.safe_load_all((UPSTREAM / sample).read_text()))
    cluster = next(d for d in documents if d["kind"] == "RayCluster")
    change(cluster)
    path = tmp_path / f"variant-{sample}"
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


def _json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").stdout)


def _wait_state(kubectl: Kubectl, name: str, state: str) -> None:
    kubectl("wait", f"--for=jsonpath={{.status.state}}={state}", f"raycluster/{name}",
            "--timeout=20s", timeout=30)  # fmt: skip


def test_custom_head_service_is_a_load_balancer_with_its_port_first(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    name = "raycluster-custom-head-service"
    path = _variant(tmp_path, "ray-cluster.custom-head-service.yaml",
                    lambda rc: rc["metadata"].update(name=name))  # fmt: skip
    kubectl("apply", "-f", path)
    _wait_state(kubectl, name, "ready")
    service = _json(kubectl, "get", "service", "custom-ray-head-service-name")
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["clusterIP"] != "None"
    assert [p["name"] for p in service["spec"]["ports"]] == [
        "custom-ray-head-service-port", "gcs-server", "dashboard", "client", "metrics"
    ]  # fmt: skip
    assert service["metadata"]["labels"]["custom-label"] == "custom-ray-head-service-label"
    row = kubectl("get", "service", "custom-ray-head-service-name").stdout.splitlines()[1].split()
    assert row[1:4] == ["LoadBalancer", service["spec"]["clusterIP"], "<pending>"]
    status = _json(kubectl, "get", "raycluster", name)["status"]
    assert status["head"]["serviceName"] == "custom-ray-head-service-name"
    node_ports = {p["name"]: str(p["nodePort"]) for p in service["spec"]["ports"]}
    assert status["endpoints"] == node_ports  # KubeRay reports nodePorts when they are set


def test_multi_host_group_gets_pods_per_host_and_a_headless_worker_service(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    path = _variant(tmp_path, "ray-cluster.complete.yaml",
                    lambda rc: rc["spec"]["workerGroupSpecs"][0].update(numOfHosts=2))  # fmt: skip
    kubectl("apply", "-f", path)
    _wait_state(kubectl, "raycluster-complete", "ready")
    status = _json(kubectl, "get", "raycluster", "raycluster-complete")["status"]
    assert (status["desiredWorkerReplicas"], status["readyWorkerReplicas"]) == (2, 2)
    headless = _json(kubectl, "get", "service", "raycluster-complete-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == {
        "ray.io/cluster": "raycluster-complete", "ray.io/node-type": "worker"
    }  # fmt: skip


def test_suspended_sample_creates_no_pods_and_reads_suspended(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    path = _variant(tmp_path, "ray-cluster.sample.yaml",
                    lambda rc: rc["spec"].update(suspend=True))  # fmt: skip
    kubectl("apply", "-f", path)
    _wait_state(kubectl, "raycluster-kuberay", "suspended")
    pods = _json(kubectl, "get", "pods", "-l", "ray.io/cluster=raycluster-kuberay")["items"]
    assert pods == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda rc: rc["spec"]["headGroupSpec"]["rayStartParams"].update({"num-cpus": 1}),
         'The RayCluster "raycluster-complete" is invalid: '
         "spec.headGroupSpec.rayStartParams.num-cpus: Invalid value: \"integer\": "
         "spec.headGroupSpec.rayStartParams.num-cpus in body must be of type string: \"integer\""),
        (lambda rc: rc["spec"]["headGroupSpec"].update(replicas=1),
         'variant-ray-cluster.complete.yaml": RayCluster in version "v1" '
         'cannot be handled as a RayCluster: strict decoding error: '
         'unknown field "spec.headGroupSpec.replicas"'),
    ],
    ids=["integer-in-rayStartParams", "v1alpha1-only-field"],
)  # fmt: skip
def test_api_server_refuses_what_the_v1_schema_refuses(
    kubectl: Kubectl, tmp_path: Path, change: Callable[[dict[str, Any]], None], error: str
) -> None:
    path = _variant(tmp_path, "ray-cluster.complete.yaml", change)
    result = kubectl("apply", "-f", path, check=False)
    assert result.returncode == 1
    assert error in result.stderr
    assert kubectl("get", "rayclusters", "-o", "name").stdout == ""
