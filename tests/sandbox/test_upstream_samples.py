"""Upstream KubeRay RayCluster samples applied with the real kubectl end as KubeRay 1.5.1 ends them.

The YAML files under ``data/upstream`` are unmodified copies of ``ray-operator/config/samples``
(see the NOTICE there). Each is applied whole, with kubectl's default strict validation, so the
ConfigMaps and the Ingress that ship next to a RayCluster must be accepted too. The expectation
is what a real cluster (GKE-like node pool, KubeRay v1.5.1) shows: pods with KubeRay's names and
labels and ``status.state: ready``; the operator's metadata validation refusing a name with a dot
(the API server accepts it, custom resource names are DNS subdomains); or pods the scheduler
cannot place (TPU node selectors match no node in the pool).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.sandbox.conftest import DATA, Kubectl
from tests.sandbox_fixtures import wait_for

pytestmark = pytest.mark.kubectl
UPSTREAM = DATA / "upstream"


@dataclass(frozen=True)
class Sample:
    file: str
    cluster: str
    applied: tuple[str, ...]  # kubectl apply's lines, in document order
    outcome: str = "ready"  # "ready" | "invalid-metadata" | "unschedulable"
    workers: dict[str, int] = field(default_factory=dict)  # group -> pods
    head_containers: int = 1
    service_type: str = "ClusterIP"


SAMPLES = [
    Sample("ray-cluster.sample.yaml", "raycluster-kuberay",
           ("raycluster.ray.io/raycluster-kuberay created",), workers={"workergroup": 1}),
    Sample("ray-cluster.complete.yaml", "raycluster-complete",
           ("raycluster.ray.io/raycluster-complete created",), workers={"small-group": 1}),
    Sample("ray-cluster.embed-grafana.yaml", "raycluster-embed-grafana",
           ("raycluster.ray.io/raycluster-embed-grafana created",), workers={"small-group": 1}),
    Sample("ray-cluster.autoscaler.yaml", "raycluster-autoscaler",
           ("raycluster.ray.io/raycluster-autoscaler created", "configmap/ray-example created"),
           workers={"small-group": 0}, head_containers=2),
    Sample("ray-cluster.autoscaler-v2.yaml", "raycluster-autoscaler",
           ("raycluster.ray.io/raycluster-autoscaler created", "configmap/ray-example created"),
           workers={"small-group": 0}, head_containers=2),
    Sample("ray-cluster.fluentbit.yaml", "raycluster-fluentbit-sidecar-logs",
           ("raycluster.ray.io/raycluster-fluentbit-sidecar-logs created",
            "configmap/fluentbit-config created"), head_containers=2),
    Sample("ray-cluster.head-command.yaml", "raycluster-mini",
           ("raycluster.ray.io/raycluster-mini created", "configmap/ray-example created")),
    Sample("ray-cluster.separate-ingress.yaml", "raycluster-ingress",
           ("raycluster.ray.io/raycluster-ingress created",
            "ingress.networking.k8s.io/raycluster-ingress-head-ingress created"),
           service_type="NodePort"),
    Sample("ray-cluster.custom-head-service.yaml", "raycluster-custom-head-service.yaml",
           ("raycluster.ray.io/raycluster-custom-head-service.yaml created",),
           outcome="invalid-metadata"),
    Sample("ray-cluster-tpu.yaml", "raycluster-tpu-kuberay",
           ("raycluster.ray.io/raycluster-tpu-kuberay created",),
           outcome="unschedulable", workers={"workergroup": 1}),
]  # fmt: skip


def _json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").stdout)


def _pods(kubectl: Kubectl, cluster: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _json(kubectl, "get", "pods", "-l", f"ray.io/cluster={cluster}")[
        "items"
    ]
    return items


def _events(kubectl: Kubectl, reason: str) -> list[dict[str, Any]]:
    return [e for e in _json(kubectl, "get", "events")["items"] if e["reason"] == reason]


def _assert_kuberay_pods(sample: Sample, pods: list[dict[str, Any]]) -> None:
    heads = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "head"]
    assert len(heads) == 1
    assert heads[0]["metadata"]["name"].startswith(f"{sample.cluster}-head-")
    assert heads[0]["metadata"]["labels"]["ray.io/group"] == "headgroup"
    assert len(heads[0]["spec"]["containers"]) == sample.head_containers
    for group, count in sample.workers.items():
        members = [p for p in pods if p["metadata"]["labels"]["ray.io/group"] == group]
        assert len(members) == count, f"group {group}: {[p['metadata']['name'] for p in members]}"
        for pod in members:
            assert pod["metadata"]["name"].startswith(f"{sample.cluster}-{group}-worker-")
            assert pod["metadata"]["labels"]["ray.io/node-type"] == "worker"
    assert len(pods) == 1 + sum(sample.workers.values())
    for pod in pods:
        labels = pod["metadata"]["labels"]
        assert labels["ray.io/is-ray-node"] == "yes"
        assert labels["app.kubernetes.io/created-by"] == "kuberay-operator"
        assert pod["metadata"]["ownerReferences"][0]["name"] == sample.cluster


def _assert_ready(kubectl: Kubectl, sample: Sample) -> None:
    waited = kubectl(
        "wait", "--for=jsonpath={.status.state}=ready", f"raycluster/{sample.cluster}",
        "--timeout=20s", timeout=30,
    )  # fmt: skip
    assert waited.stdout.strip() == f"raycluster.ray.io/{sample.cluster} condition met"
    status = _json(kubectl, "get", "raycluster", sample.cluster)["status"]
    workers = sum(sample.workers.values())
    # int32 fields with omitempty: a count of 0 is absent, as KubeRay serialises it
    assert status.get("desiredWorkerReplicas", 0) == workers
    assert status.get("readyWorkerReplicas", 0) == workers
    pods = _pods(kubectl, sample.cluster)
    _assert_kuberay_pods(sample, pods)
    assert all(p["status"]["phase"] == "Running" for p in pods)
    wide = kubectl("get", "pods", "-o", "wide", "-l", f"ray.io/cluster={sample.cluster}").stdout
    header, *rows = wide.splitlines()
    assert header.split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    for name, _, phase, restarts, _, ip, node, *_ in (row.split() for row in rows):
        assert (phase, restarts) == ("Running", "0"), name
        assert ip.startswith("10.") and node.startswith("gke-"), name
    listed = yaml.safe_load(kubectl("get", "rayclusters", "-o", "yaml").stdout)
    assert listed["kind"] == "List" and listed["items"][0]["status"]["state"] == "ready"
    service = _json(kubectl, "get", "service", f"{sample.cluster}-head-svc")["spec"]
    assert service["type"] == sample.service_type
    if sample.service_type == "ClusterIP":
        assert service["clusterIP"] == "None"  # KubeRay's head service is headless by default
    else:
        assert service["clusterIP"] != "None"
        assert all(30000 <= p["nodePort"] <= 32767 for p in service["ports"])


def _assert_invalid_metadata(kubectl: Kubectl, sample: Sample) -> None:
    event = wait_for(lambda: _events(kubectl, "InvalidRayClusterMetadata"), what="the event")[0]
    assert event["type"] == "Warning"
    assert "RayCluster name should be a valid DNS1035 label" in event["message"]
    assert _pods(kubectl, sample.cluster) == []
    state = kubectl("get", "raycluster", sample.cluster, "-o", "jsonpath={.status}").stdout
    assert state == ""  # the operator stops before writing any status


def _assert_unschedulable(kubectl: Kubectl, sample: Sample) -> None:
    def unschedulable() -> list[dict[str, Any]]:
        pods = _pods(kubectl, sample.cluster)
        reasons = [
            c.get("reason") for p in pods for c in p["status"].get("conditions", [])
            if c["type"] == "PodScheduled"
        ]  # fmt: skip
        return pods if len(pods) == 2 and reasons == ["Unschedulable"] * 2 else []

    pods = wait_for(unschedulable, what="both TPU pods to be unschedulable")
    _assert_kuberay_pods(sample, pods)
    assert all(p["status"]["phase"] == "Pending" for p in pods)
    failed = wait_for(lambda: _events(kubectl, "FailedScheduling"), what="FailedScheduling")
    assert "didn't match Pod's node affinity/selector" in failed[0]["message"]
    status = _json(kubectl, "get", "raycluster", sample.cluster)["status"]
    assert status.get("state", "") == ""
    assert status["desiredWorkerReplicas"] == 1 and status.get("readyWorkerReplicas", 0) == 0
    assert status["desiredTPU"] == "8"


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_upstream_sample_applies_and_ends_as_kuberay_would(
    kubectl: Kubectl, sample: Sample
) -> None:
    applied = kubectl("apply", "-f", str(UPSTREAM / sample.file))
    assert tuple(applied.stdout.strip().splitlines()) == sample.applied
    if sample.outcome == "ready":
        _assert_ready(kubectl, sample)
    elif sample.outcome == "invalid-metadata":
        _assert_invalid_metadata(kubectl, sample)
    else:
        _assert_unschedulable(kubectl, sample)


def test_reapplying_a_multi_document_sample_is_a_no_op_write(kubectl: Kubectl) -> None:
    """kubectl's JSON merge patch for a custom resource replaces whole lists, and the CRD defaults
    fields inside them (``ports[].protocol``, ``workerGroupSpecs[].numOfHosts``), so a real cluster
    also prints "configured"; the API server then finds nothing changed and writes nothing."""
    path = str(UPSTREAM / "ray-cluster.autoscaler.yaml")
    kubectl("apply", "-f", path)
    kubectl("wait", "--for=jsonpath={.status.state}=ready", "raycluster/raycluster-autoscaler")
    before = _json(kubectl, "get", "raycluster", "raycluster-autoscaler")["metadata"]
    again = kubectl("apply", "-f", path).stdout.strip().splitlines()
    assert again == [
        "raycluster.ray.io/raycluster-autoscaler configured",
        "configmap/ray-example unchanged",
    ]
    after = _json(kubectl, "get", "raycluster", "raycluster-autoscaler")["metadata"]
    assert (after["generation"], after["resourceVersion"]) == (
        before["generation"],
        before["resourceVersion"],
    )
    data = _json(kubectl, "get", "configmap", "ray-example")["data"]
    assert set(data) == {"detached_actor.py", "terminate_detached_actor.py"}


def test_ingress_sample_lists_like_kubectl_and_deletes_with_its_cluster(kubectl: Kubectl) -> None:
    path = str(UPSTREAM / "ray-cluster.separate-ingress.yaml")
    kubectl("apply", "-f", path)
    header, row = kubectl("get", "ingress").stdout.strip().splitlines()
    assert header.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert row.split()[:4] == ["raycluster-ingress-head-ingress", "nginx", "*", "80"]
    kubectl("wait", "--for=jsonpath={.status.state}=ready", "raycluster/raycluster-ingress")
    deleted = kubectl("delete", "-f", path).stdout.strip().splitlines()
    assert deleted == [
        'raycluster.ray.io "raycluster-ingress" deleted',
        'ingress.networking.k8s.io "raycluster-ingress-head-ingress" deleted',
    ]
    wait_for(
        lambda: (
            not _pods(kubectl, "raycluster-ingress")
            and not _json(kubectl, "get", "services")["items"]
        ),
        what="the garbage collector to remove the cluster's pods and head service",
    )
