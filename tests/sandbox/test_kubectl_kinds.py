"""What a RayCluster YAML brings along applies with the real kubectl; unserved kinds fail alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sandbox.conftest import Kubectl

pytestmark = pytest.mark.kubectl

BUNDLE = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ray-cache}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Gi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis}
spec:
  serviceName: redis
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec: {containers: [{name: redis, image: redis:7}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ray-proxy, labels: {app: ray-proxy}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ray-proxy}}
  template:
    metadata: {labels: {app: ray-proxy}}
    spec: {containers: [{name: proxy, image: nginx:1.27}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ray-workers}
"""


def test_get_crd_shows_the_established_raycluster_definition(kubectl: Kubectl) -> None:
    rows = kubectl("get", "crd").stdout.splitlines()
    assert rows[0].split() == ["NAME", "CREATED", "AT"]
    assert rows[1].split()[0] == "rayclusters.ray.io"
    crd = json.loads(kubectl("get", "crd", "rayclusters.ray.io", "-o", "json").stdout)
    assert crd["spec"]["names"]["kind"] == "RayCluster"
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["plural"] == "rayclusters"
    assert crd["status"]["storedVersions"] == ["v1"]
    refused = kubectl("delete", "crd", "rayclusters.ray.io", check=False)
    assert refused.returncode != 0, "the CRD is read-only in the sandbox"
    assert kubectl("get", "crd", "rayclusters.ray.io", "-o", "name").stdout.strip() == (
        "customresourcedefinition.apiextensions.k8s.io/rayclusters.ray.io"
    )


def test_multi_document_apply_stores_what_it_can_and_names_the_unserved_kind(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.yaml"
    path.write_text(BUNDLE, encoding="utf-8")
    result = kubectl("apply", "-f", str(path), check=False)
    assert result.returncode != 0
    assert result.stdout.splitlines() == [
        "persistentvolumeclaim/ray-cache created",
        "deployment.apps/ray-proxy created",
        "serviceaccount/ray-workers created",
    ]
    assert 'no matches for kind "StatefulSet" in version "apps/v1"' in result.stderr
    deploy = kubectl("get", "deployments").stdout.splitlines()
    assert deploy[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1].split()[:4] == ["ray-proxy", "0/2", "0", "0"]
    pvc = kubectl("get", "pvc").stdout.splitlines()
    assert pvc[0].split()[:3] == ["NAME", "STATUS", "VOLUME"]
    assert pvc[1].split()[:2] == ["ray-cache", "Pending"]
    again = kubectl("apply", "-f", str(path), check=False).stdout.splitlines()
    assert "deployment.apps/ray-proxy unchanged" in again
    kubectl("patch", "deployment", "ray-proxy", "-p", '{"spec": {"replicas": 3}}')
    scaled = kubectl("get", "deploy", "ray-proxy", "-o", "jsonpath={.spec.replicas}").stdout
    assert scaled == "3"
