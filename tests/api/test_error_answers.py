"""Each Kubernetes answer, sent by the sandbox and read by the real kubernetes-asyncio client,
arrives as the error class callers act on (``core.errors``), with what they need to act.

The injected answers are shaped like kube-apiserver's (``core.sandbox.apiserver.faults``); the
real ones (a stale write, a name taken, a missing object) come from the sandbox's own rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.errors import (
    AlreadyExists,
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KrayneError,
    KubeConnectionError,
    NotFound,
    PermissionDeniedError,
    QuotaExceededError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from core.kube_asyncio import KubernetesAsyncioClient
from manifests.raycluster import build_raycluster
from tests.api.conftest import cluster_config

NS = "default"


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (401, "Unauthorized", Unauthorized),
        (403, 'pods is forbidden: User "bot" cannot list resource "pods"', Forbidden),
        (403, 'pods "x" is forbidden: exceeded quota: gpu', QuotaExceededError),
        (404, 'pods "x" not found', NotFound),
        (409, "the object has been modified; please apply your changes", Conflict),
        (410, "too old resource version: 5 (90)", Gone),
        (422, 'Pod "x" is invalid', Invalid),
        (429, "Too many requests, please try again later.", TooManyRequests),
        (500, "Internal error occurred", Unavailable),
        (503, "the server is currently unable to handle the request", Unavailable),
    ],
)
async def test_each_injected_answer_reaches_the_caller_as_its_class(
    client: KubernetesAsyncioClient,
    sandbox: Any,
    status: int,
    message: str,
    kind: type[KrayneError],
) -> None:
    sandbox.faults.fail_next(1, status=status, message=message, path_contains="/pods")
    with pytest.raises(KrayneError) as err:
        await client.list_pods(NS)
    assert type(err.value) is kind
    assert err.value.status == status
    assert "items" in await client.list_pods(NS)  # one answer only: the next request works


async def test_a_429_carries_the_servers_retry_after(
    client: KubernetesAsyncioClient, sandbox: Any
) -> None:
    sandbox.faults.fail_next(1, status=429, retry_after=3, path_contains="/pods")
    with pytest.raises(TooManyRequests) as err:
        await client.list_pods(NS)
    assert err.value.retry_after == 3.0
    assert err.value.reason == "TooManyRequests"
    assert err.value.hint


async def test_a_429_on_a_watch_carries_the_servers_retry_after(
    client: KubernetesAsyncioClient, sandbox: Any
) -> None:
    sandbox.faults.fail_next(1, status=429, retry_after=2, path_contains="/pods")
    with pytest.raises(TooManyRequests) as err:
        async for _event in client.watch("pods", NS, timeout_seconds=1):
            pass
    assert err.value.retry_after == 2.0


async def test_permission_answers_are_still_permission_denied_and_5xx_still_connection_errors(
    client: KubernetesAsyncioClient, sandbox: Any
) -> None:
    """Code written against the older, coarser tree keeps working."""
    sandbox.faults.fail_next(1, status=403, path_contains="/pods")
    with pytest.raises(PermissionDeniedError):
        await client.list_pods(NS)
    sandbox.faults.fail_next(1, status=503, path_contains="/pods")
    with pytest.raises(KubeConnectionError):
        await client.list_pods(NS)


async def test_a_write_from_a_stale_read_is_a_conflict(
    client: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("cf")
    stale = await client.create_raycluster(build_raycluster(cluster_config(name)))
    await client.patch_raycluster(
        name, NS, {"metadata": {"labels": {"touched": "yes"}}}, patch_type="merge"
    )
    with pytest.raises(Conflict) as err:
        await client.replace_raycluster(stale)
    assert err.value.status == 409 and err.value.reason == "Conflict"


async def test_creating_a_taken_name_is_already_exists(
    client: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("ae")
    body = build_raycluster(cluster_config(name))
    await client.create_raycluster(body)
    with pytest.raises(ClusterAlreadyExistsError):
        await client.create_raycluster(body)
    # Not `name` itself: with token authentication the operator makes the Secret `<name>`.
    other = f"{name}-x"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": other, "namespace": NS}}
    await client.create_secret(secret)
    with pytest.raises(AlreadyExists) as err:
        await client.create_secret(secret)
    assert type(err.value) is AlreadyExists and err.value.reason == "AlreadyExists"
    await client.delete_secret(other, NS)


async def test_a_missing_object_is_not_found(
    client: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("nf")
    with pytest.raises(ClusterNotFoundError):
        await client.get_raycluster(name, NS)
    with pytest.raises(NotFound) as err:
        await client.get_secret(name, NS)
    assert type(err.value) is NotFound and err.value.status == 404
