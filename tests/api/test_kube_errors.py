"""The HTTP-status -> KrayneError mapping promised by core.kube's docstring (core.kube_errors)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core import errors
from core.errors import (
    AlreadyExists,
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    Conflict,
    ConflictError,
    Forbidden,
    Gone,
    Invalid,
    KrayneError,
    KubeApiError,
    KubeConnectionError,
    NamespaceNotFoundError,
    NotFound,
    PermissionDeniedError,
    QuotaExceededError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    WatchExpiredError,
)
from core.kube_errors import Target, api_error, connection_error, retry_after, status_body

SERVER = "https://10.0.0.1:6443"
CLUSTER = Target("raycluster", "team-a", "demo")


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": "Status", "status": "Failure", "code": code, "reason": reason,
            "message": message, "details": details}  # fmt: skip


# (status, Status body, target) -> the class callers act on, the older class it still is (so
# ``except`` clauses written against the old tree keep working), and a piece of the message.
CASES = [
    pytest.param(
        404, _status(404, "NotFound", 'namespaces "team-a" not found', name="team-a",
                     kind="namespaces"),
        CLUSTER, NamespaceNotFoundError, NotFound, "Namespace `team-a` does not exist.",
        id="404-namespace",
    ),
    pytest.param(
        404, _status(404, "NotFound", 'rayclusters.ray.io "demo" not found', name="demo",
                     kind="rayclusters", group="ray.io"),
        CLUSTER, ClusterNotFoundError, NotFound,
        "Cluster `demo` was not found in namespace `team-a`.", id="404-cluster",
    ),
    pytest.param(
        404, _status(404, "NotFound", 'secrets "x" not found', name="x", kind="secrets"),
        Target("secret", "team-a", "x"), NotFound, KubeApiError, 'secrets "x" not found',
        id="404-other",
    ),
    pytest.param(
        409, _status(409, "AlreadyExists", 'rayclusters.ray.io "demo" already exists'),
        CLUSTER, ClusterAlreadyExistsError, AlreadyExists, "Cluster `demo` already exists",
        id="409-exists",
    ),
    pytest.param(
        409, _status(409, "AlreadyExists", 'secrets "demo-services" already exists'),
        Target("secret", "team-a", "demo-services"), AlreadyExists, KubeApiError,
        'secrets "demo-services" already exists', id="409-exists-other",
    ),
    pytest.param(
        409, _status(409, "Conflict", "the object has been modified; please apply your changes"),
        CLUSTER, Conflict, KubeApiError, "the object has been modified", id="409-conflict",
    ),
    pytest.param(
        403, _status(403, "Forbidden", 'rayclusters.ray.io is forbidden: User "bot" cannot list'),
        CLUSTER, Forbidden, PermissionDeniedError,
        'rayclusters.ray.io is forbidden: User "bot" cannot list', id="403-passes-server-message",
    ),
    pytest.param(
        403, _status(403, "Forbidden", 'pods "x" is forbidden: exceeded quota: gpu, requested: '
                     "nvidia.com/gpu=1"),
        Target("pod", "team-a"), QuotaExceededError, QuotaExceededError, "exceeded quota: gpu",
        id="403-quota",
    ),
    pytest.param(
        401, _status(401, "Unauthorized", "Unauthorized"), CLUSTER, Unauthorized,
        PermissionDeniedError, f"The Kubernetes API at {SERVER} refused the credentials",
        id="401",
    ),
    pytest.param(
        410, _status(410, "Expired", "too old resource version: 5 (90)"), Target("pod", "a"),
        Gone, WatchExpiredError, "too old resource version", id="410",
    ),
    pytest.param(
        422, _status(422, "Invalid", "RayCluster.ray.io \"demo\" is invalid: ...", causes=[
            {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be >= 0",
             "field": "spec.workerGroupSpecs[0].replicas"},
            {"reason": "FieldValueRequired", "message": "Required value",
             "field": "spec.headGroupSpec"},
        ]),
        CLUSTER, Invalid, KubeApiError,
        "Kubernetes rejected RayCluster `demo` in namespace `team-a`: "
        "spec.workerGroupSpecs[0].replicas: Invalid value: -1: must be >= 0; "
        "spec.headGroupSpec: Required value",
        id="422-causes-joined",
    ),
    pytest.param(
        429, _status(429, "TooManyRequests", "Too many requests, please try again later."),
        CLUSTER, TooManyRequests, KubeApiError, f"The Kubernetes API at {SERVER} is busy (429)",
        id="429",
    ),
    pytest.param(
        503, _status(503, "ServiceUnavailable", "etcdserver: request timed out"), CLUSTER,
        Unavailable, KubeConnectionError, f"The Kubernetes API at {SERVER} failed (503)",
        id="5xx",
    ),
    pytest.param(
        500, _status(500, "InternalError", "Internal error occurred: webhook failed"), CLUSTER,
        Unavailable, KubeConnectionError, "failed (500): Internal error occurred", id="500",
    ),
    pytest.param(
        504, _status(504, "Timeout", "the server was unable to return a response in the time"),
        CLUSTER, Unavailable, KubeConnectionError, "failed (504)", id="504",
    ),
    pytest.param(
        400, _status(400, "BadRequest", "the body of the request was in an unknown format"),
        CLUSTER, KubeApiError, KubeApiError, "unknown format", id="400-no-special-meaning",
    ),
]


@pytest.mark.parametrize(("code", "body", "target", "kind", "still", "message"), CASES)
def test_api_answer_becomes_the_documented_error(
    code: int,
    body: dict[str, Any],
    target: Target,
    kind: type[KrayneError],
    still: type[KrayneError],
    message: str,
) -> None:
    err = api_error(code, body, server=SERVER, target=target)
    assert type(err) is kind
    assert isinstance(err, still)
    assert message in err.message
    assert err.status == code
    assert err.hint is None or err.hint.strip()


def test_a_body_that_is_not_json_still_gives_a_message() -> None:
    body = status_body(b"<html>bad gateway</html>")
    err = api_error(502, body, server=SERVER, target=CLUSTER)
    assert isinstance(err, KubeConnectionError) and "bad gateway" in err.message
    assert isinstance(err, Unavailable)


NOW = datetime(2026, 12, 5, 18, 0, 0, tzinfo=UTC)
BUSY = _status(429, "TooManyRequests", "Too many requests, please try again later.")


# (headers, Status body) of a 429 -> the seconds to wait. kube-apiserver's max-in-flight and
# priority-and-fairness filters send "Retry-After: 1" plus details.retryAfterSeconds.
RETRY_AFTER_CASES = [
    pytest.param({"Retry-After": "1"}, BUSY, 1.0, id="delay-seconds"),
    pytest.param({"retry-after": "7"}, BUSY, 7.0, id="header-name-any-case"),
    pytest.param({"Retry-After": " 2.5 "}, BUSY, 2.5, id="fractional-seconds"),
    pytest.param({"Retry-After": "-3"}, BUSY, 0.0, id="negative-is-now"),
    pytest.param(
        {"Retry-After": "Sat, 05 Dec 2026 18:00:30 GMT"}, BUSY, 30.0, id="http-date"
    ),
    pytest.param({"Retry-After": "Sat, 05 Dec 2026 17:59:00 GMT"}, BUSY, 0.0, id="past-date"),
    pytest.param({}, {**BUSY, "details": {"retryAfterSeconds": 4}}, 4.0, id="body-details"),
    pytest.param(
        {"Retry-After": "3"}, {**BUSY, "details": {"retryAfterSeconds": 9}}, 3.0,
        id="header-wins-over-body",
    ),
    pytest.param({"Retry-After": "soon"}, BUSY, None, id="garbage-is-unknown"),
    pytest.param({}, BUSY, None, id="none-given"),
    pytest.param(None, {**BUSY, "details": {"retryAfterSeconds": True}}, None, id="not-a-number"),
]


@pytest.mark.parametrize(("headers", "body", "seconds"), RETRY_AFTER_CASES)
def test_retry_after_is_read_from_the_header_then_the_status_details(
    headers: dict[str, str] | None, body: dict[str, Any], seconds: float | None
) -> None:
    assert retry_after(headers, body, now=NOW) == seconds


def test_too_many_requests_carries_the_retry_after_header() -> None:
    err = api_error(429, BUSY, server=SERVER, target=CLUSTER, headers={"Retry-After": "5"})
    assert isinstance(err, TooManyRequests)
    assert err.retry_after == 5.0
    assert err.reason == "TooManyRequests"
    assert err.hint


def test_too_many_requests_without_retry_after_says_none() -> None:
    err = api_error(429, BUSY, server=SERVER, target=CLUSTER)
    assert isinstance(err, TooManyRequests) and err.retry_after is None


def test_transport_failures_are_unavailable() -> None:
    err = connection_error(TimeoutError(), server=SERVER)
    assert type(err) is Unavailable and isinstance(err, KubeConnectionError)
    assert err.status is None
    assert err.message == (
        f"Cannot reach the Kubernetes API at {SERVER}: no answer in time (timed out)"
    )


# Where HTTP status numbers may appear: the Kubernetes mapping itself, and code that is about
# other HTTP APIs (Slack's Web API answers mapped to the outbox's signals; the shell's own
# requests to the bot). The fakes have their own errors.
_MAPPING_MODULES = {"core/kube_errors.py", "core/kube_asyncio.py"}
_OTHER_HTTP = {"bot/app.py", "bot/shell/session.py", "bot/shell/forms.py"}  # Slack HTTP answers
_OUT_OF_SCOPE = ("core/sandbox/", "bot/slack_double/")


def _is_status(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "status") or (
        isinstance(node, ast.Name) and node.id == "status"
    )


def _status_comparisons(path: Path) -> list[int]:
    """Lines comparing ``x.status`` (or a ``status`` variable) with a number literal."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        has_status = any(_is_status(n) for n in sides)
        has_number = any(
            isinstance(n, ast.Constant) and type(n.value) is int
            or isinstance(n, ast.Tuple | ast.Set | ast.List)
            and any(isinstance(e, ast.Constant) and type(e.value) is int for e in n.elts)
            for n in sides
        )
        if has_status and has_number:
            lines.append(node.lineno)
    return lines


def test_no_product_code_tells_kubernetes_errors_apart_by_status_number() -> None:
    """Callers act on classes (``except Conflict``); only the mapping modules see numbers."""
    root = Path(__file__).resolve().parents[2]
    found = {}
    for path in sorted([*root.glob("core/**/*.py"), *root.glob("bot/**/*.py")]):
        rel = path.relative_to(root).as_posix()
        if rel in _MAPPING_MODULES | _OTHER_HTTP or rel.startswith(_OUT_OF_SCOPE):
            continue
        if lines := _status_comparisons(path):
            found[rel] = lines
    assert found == {}


@pytest.mark.parametrize(
    ("kind", "bases"),
    [
        (ClusterNotFoundError, (NotFound, KubeApiError)),
        (NamespaceNotFoundError, (NotFound, KubeApiError)),
        (ClusterAlreadyExistsError, (AlreadyExists, KubeApiError)),
        (ConflictError, (Conflict, KubeApiError)),
        (Forbidden, (PermissionDeniedError, KubeApiError)),
        (Unauthorized, (PermissionDeniedError, KubeApiError)),
        (Unavailable, (KubeConnectionError,)),
        (WatchExpiredError, (Gone, KubeApiError)),
        (TooManyRequests, (KubeApiError,)),
        (Invalid, (KubeApiError,)),
    ],
)
def test_the_tree_in_the_errors_docstring_holds(
    kind: type[KrayneError], bases: tuple[type[KrayneError], ...]
) -> None:
    assert all(issubclass(kind, base) for base in bases)
    assert kind.__name__ in (errors.__doc__ or "")


def test_a_scale_that_kept_losing_is_a_conflict_with_its_own_hint() -> None:
    err = ConflictError("Cluster `demo` kept changing while it was being scaled.")
    assert isinstance(err, Conflict)
    assert (err.status, err.reason) == (409, "Conflict")
    assert err.hint and err.hint != Conflict.default_hint
