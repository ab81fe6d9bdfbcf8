"""What goes wrong reaches the caller as the right KrayneError — and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from core.api import create_cluster, get_cluster, list_clusters, wait_until_ready
from core.errors import (
    ClusterAlreadyExistsError,
    ClusterFailedError,
    KubeApiError,
    KubeConnectionError,
    NamespaceNotFoundError,
    PermissionDeniedError,
)
from core.kube import KubeClient
from core.kube_asyncio import connect
from core.status import Phase
from manifests.raycluster import NOTEBOOK_TOKEN_KEY, services_secret_name
from tests.api.conftest import NO_SERVICES, cluster_config

NS = "default"
PULL_ERRORS = {"ErrImagePull", "ImagePullBackOff"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_names_the_api_address(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{_closed_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    client = await connect(str(kubeconfig), context="c", request_timeout=2)
    try:
        with pytest.raises(KubeConnectionError) as err:
            await list_clusters(NS, client=client)
    finally:
        await client.close()
    assert err.value.message == f"Cannot reach the Kubernetes API at {server}: connection refused"
    assert isinstance(err.value.__cause__, aiohttp.ClientConnectorError)
    assert err.value.hint


async def test_missing_kubeconfig_is_a_connection_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(KubeConnectionError, match="Cannot load the Kubernetes configuration"):
        await connect(str(tmp_path / "nope.yaml"))


async def test_without_any_kubeconfig_outside_a_pod_the_error_says_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeConnectionError, match="in-cluster service account") as err:
        await connect()
    assert err.value.hint and "--kubeconfig" in err.value.hint


async def test_kubeconfig_from_the_environment_and_an_unknown_context(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(sandbox.kubeconfig_path))
    client = await connect()
    try:
        assert client.server == sandbox.url
        assert await list_clusters(NS, client=client) == []
    finally:
        await client.close()
    with pytest.raises(KubeConnectionError, match="no-such-context"):
        await connect(context="no-such-context")


async def test_forbidden_answer_is_permission_denied(client: KubeClient, sandbox: Any) -> None:
    sandbox.faults.fail_next(1, status=403, message='rayclusters.ray.io is forbidden: User "x"')
    with pytest.raises(PermissionDeniedError, match="is forbidden"):
        await list_clusters(NS, client=client)


@pytest.mark.parametrize("services", [NO_SERVICES, {}], ids=["no-secret", "with-secret"])
async def test_missing_namespace_is_named(
    client: KubeClient, unique_name: Callable[[str], str], services: dict[str, bool]
) -> None:
    config = cluster_config(unique_name("ns"), namespace="no-such-team", services=services)
    with pytest.raises(NamespaceNotFoundError, match="`no-such-team`"):
        await create_cluster(config, client=client)


async def _secret_exists(client: KubeClient, name: str) -> bool:
    try:
        await client.get_secret(services_secret_name(name), NS)
    except KubeApiError as err:
        assert err.status == 404
        return False
    return True


async def test_services_secret_holds_tokens_and_is_owned_by_the_cluster(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("sec")
    await create_cluster(cluster_config(name, services={}), client=client)
    secret = await client.get_secret(services_secret_name(name), NS)
    raycluster = await client.get_raycluster(name, NS)
    assert NOTEBOOK_TOKEN_KEY in (secret.get("data") or secret.get("stringData") or {})
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("RayCluster", raycluster["metadata"]["uid"])


async def test_duplicate_create_is_refused_and_keeps_the_original_secret(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("dup")
    await create_cluster(cluster_config(name, services={}), client=client)
    original = await client.get_secret(services_secret_name(name), NS)

    with pytest.raises(ClusterAlreadyExistsError, match=f"`{name}` already exists"):
        await create_cluster(cluster_config(name, services={}), client=client)

    after = await client.get_secret(services_secret_name(name), NS)
    assert after["metadata"]["uid"] == original["metadata"]["uid"]
    assert after.get("data") == original.get("data")


async def test_duplicate_create_removes_the_secret_it_made(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("dup")
    await create_cluster(cluster_config(name), client=client)  # no services: no Secret
    with pytest.raises(ClusterAlreadyExistsError):
        await create_cluster(cluster_config(name, services={}), client=client)
    assert not await _secret_exists(client, name)


async def test_rejected_raycluster_leaves_no_secret_behind(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("rej")
    sandbox.faults.fail_next(
        1, status=422, message="spec.headGroupSpec: Required value", path_contains="/rayclusters"
    )
    with pytest.raises(KubeApiError) as err:
        await create_cluster(cluster_config(name, services={}), client=client)
    assert err.value.status == 422
    assert not await _secret_exists(client, name)
    with pytest.raises(Exception, match="not found"):
        await get_cluster(name, NS, client=client)


async def test_after_a_server_error_the_secret_goes_only_once_the_cluster_is_surely_absent(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("srv")
    sandbox.faults.fail_next(1, status=503, path_contains="/rayclusters")
    with pytest.raises(KubeConnectionError, match="failed \\(503\\)"):
        await create_cluster(cluster_config(name, services={}), client=client)
    assert not await _secret_exists(client, name)  # a GET proved no RayCluster was made


async def _first_pull_error(client: KubeClient, name: str) -> float:
    """When (loop time) a pod of ``name`` first shows an image pull error."""
    loop = asyncio.get_running_loop()
    events = client.watch("pods", NS, label_selector=f"ray.io/cluster={name}")
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            statuses = (event["object"].get("status") or {}).get("containerStatuses") or []
            waiting = [(s.get("state") or {}).get("waiting") or {} for s in statuses]
            if {w.get("reason") for w in waiting} & PULL_ERRORS:
                return loop.time()
    raise AssertionError("the watch ended before any pull error")


async def test_wait_fails_fast_on_an_image_pull_error(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("pull")
    config = cluster_config(name, head={"image": "docker.io/rayproject/ray:0.0.0-no-such-tag"})
    await create_cluster(config, client=client)
    observer = asyncio.create_task(_first_pull_error(client, name))
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(ClusterFailedError) as err:
            await wait_until_ready(name, NS, client=client, timeout=60)
        raised_at = loop.time()
        async with asyncio.timeout(10):
            appeared_at = await observer
    finally:
        observer.cancel()
        await asyncio.gather(observer, return_exceptions=True)
    assert err.value.cluster_status.phase is Phase.IMAGE_PULL_ERROR
    assert name in err.value.message and err.value.hint
    # Generous sanity bound: the raise follows the pod's pull error by well under a few seconds.
    assert raised_at - appeared_at < 2.0, (raised_at, appeared_at)
