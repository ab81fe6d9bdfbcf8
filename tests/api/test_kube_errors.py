"""The HTTP-status -> KrayneError mapping promised by core.kube's docstring (core.kube_errors)."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import (
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    KrayneError,
    KubeApiError,
    KubeConnectionError,
    NamespaceNotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    WatchExpiredError,
)
from core.kube_errors import Target, api_error, status_body

SERVER = "https://10.0.0.1:6443"
CLUSTER = Target("raycluster", "team-a", "demo")


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": "Status", "status": "Failure", "code": code, "reason": reason,
            "message": message, "details": details}  # fmt: skip


CASES = [
    pytest.param(
        404, _status(404, "NotFound", 'namespaces "team-a" not found', name="team-a",
                     kind="namespaces"),
        CLUSTER, NamespaceNotFoundError, "Namespace `team-a` does not exist.", id="404-namespace",
    ),
    pytest.param(
        404, _status(404, "NotFound", 'rayclusters.ray.io "demo" not found', name="demo",
                     kind="rayclusters", group="ray.io"),
        CLUSTER, ClusterNotFoundError, "Cluster `demo` was not found in namespace `team-a`.",
        id="404-cluster",
    ),
    pytest.param(
        404, _status(404, "NotFound", 'secrets "x" not found', name="x", kind="secrets"),
        Target("secret", "team-a", "x"), KubeApiError, 'secrets "x" not found', id="404-other",
    ),
    pytest.param(
        409, _status(409, "AlreadyExists", 'rayclusters.ray.io "demo" already exists'),
        CLUSTER, ClusterAlreadyExistsError, "Cluster `demo` already exists", id="409-exists",
    ),
    pytest.param(
        409, _status(409, "Conflict", "the object has been modified; please apply your changes"),
        CLUSTER, KubeApiError, "the object has been modified", id="409-conflict",
    ),
    pytest.param(
        403, _status(403, "Forbidden", 'rayclusters.ray.io is forbidden: User "bot" cannot list'),
        CLUSTER, PermissionDeniedError, 'rayclusters.ray.io is forbidden: User "bot" cannot list',
        id="403-passes-server-message",
    ),
    pytest.param(
        403, _status(403, "Forbidden", 'pods "x" is forbidden: exceeded quota: gpu, requested: '
                     "nvidia.com/gpu=1"),
        Target("pod", "team-a"), QuotaExceededError, "exceeded quota: gpu", id="403-quota",
    ),
    pytest.param(
        401, _status(401, "Unauthorized", "Unauthorized"), CLUSTER, PermissionDeniedError,
        f"The Kubernetes API at {SERVER} refused the credentials", id="401",
    ),
    pytest.param(
        410, _status(410, "Expired", "too old resource version: 5 (90)"), Target("pod", "a"),
        WatchExpiredError, "too old resource version", id="410",
    ),
    pytest.param(
        422, _status(422, "Invalid", "RayCluster.ray.io \"demo\" is invalid: ...", causes=[
            {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be >= 0",
             "field": "spec.workerGroupSpecs[0].replicas"},
            {"reason": "FieldValueRequired", "message": "Required value",
             "field": "spec.headGroupSpec"},
        ]),
        CLUSTER, KubeApiError,
        "Kubernetes rejected RayCluster `demo` in namespace `team-a`: "
        "spec.workerGroupSpecs[0].replicas: Invalid value: -1: must be >= 0; "
        "spec.headGroupSpec: Required value",
        id="422-causes-joined",
    ),
    pytest.param(
        503, _status(503, "ServiceUnavailable", "etcdserver: request timed out"), CLUSTER,
        KubeConnectionError, f"The Kubernetes API at {SERVER} failed (503)", id="5xx",
    ),
]


@pytest.mark.parametrize(("code", "body", "target", "kind", "message"), CASES)
def test_api_answer_becomes_the_documented_error(
    code: int, body: dict[str, Any], target: Target, kind: type[KrayneError], message: str
) -> None:
    err = api_error(code, body, server=SERVER, target=target)
    assert type(err) is kind
    assert message in err.message
    assert err.status == code
    assert err.hint is None or err.hint.strip()


def test_a_body_that_is_not_json_still_gives_a_message() -> None:
    body = status_body(b"<html>bad gateway</html>")
    err = api_error(502, body, server=SERVER, target=CLUSTER)
    assert isinstance(err, KubeConnectionError) and "bad gateway" in err.message
