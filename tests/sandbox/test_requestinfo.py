"""URL paths map to what they address, as the API server's RequestInfo resolver does."""

from __future__ import annotations

import pytest

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.requestinfo import parse_resource_path, verb_of


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces", ("namespaces", "", "", "")),
        ("/api/v1/namespaces/team", ("namespaces", "", "team", "")),
        ("/api/v1/namespaces/team/status", ("namespaces", "", "team", "status")),
        ("/api/v1/namespaces/team/pods", ("pods", "team", "", "")),
        ("/api/v1/namespaces/team/pods/p/log", ("pods", "team", "p", "log")),
        ("/api/v1/pods", ("pods", "", "", "")),
        (
            "/apis/ray.io/v1/namespaces/team/rayclusters/rc/status",
            ("rayclusters", "team", "rc", "status"),
        ),
        ("/apis/ray.io/v1/rayclusters", ("rayclusters", "", "", "")),
        ("/api/v1/watch/namespaces/team/pods", ("pods", "team", "", "")),
    ],
)
def test_resource_paths(path: str, expected: tuple[str, str, str, str]) -> None:
    rr = parse_resource_path(path)
    assert rr is not None
    assert (rr.resource, rr.namespace, rr.name, rr.subresource) == expected


@pytest.mark.parametrize("path", ["/version", "/api", "/apis", "/api/v1", "/apis/ray.io/v1"])
def test_discovery_paths_are_not_resource_requests(path: str) -> None:
    assert parse_resource_path(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/widgets",
        "/apis/ray.io/v2/rayclusters",
        "/api/v1/rayclusters",
        "/api/v1/namespaces/team/namespaces/x",
    ],
)
def test_unknown_resources_are_404(path: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_resource_path(path)
    assert caught.value.code == 404


@pytest.mark.parametrize(
    ("method", "path", "watch", "verb"),
    [
        ("GET", "/api/v1/namespaces/t/pods", False, "list"),
        ("GET", "/api/v1/namespaces/t/pods", True, "watch"),
        ("GET", "/api/v1/watch/namespaces/t/pods", False, "watch"),
        ("GET", "/api/v1/namespaces/t/pods/p", False, "get"),
        ("POST", "/api/v1/namespaces/t/pods", False, "create"),
        ("PUT", "/api/v1/namespaces/t/pods/p", False, "update"),
        ("PATCH", "/api/v1/namespaces/t/pods/p", False, "patch"),
        ("DELETE", "/api/v1/namespaces/t/pods/p", False, "delete"),
        ("DELETE", "/api/v1/namespaces/t/pods", False, "deletecollection"),
    ],
)
def test_authorization_verbs(method: str, path: str, watch: bool, verb: str) -> None:
    rr = parse_resource_path(path)
    assert rr is not None
    assert verb_of(method, rr, watch=watch) == verb
