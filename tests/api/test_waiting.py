"""wait_until_ready against a sandbox without the simulated operator: the test plays kubelet,
writing pod states into the store, so every path of the wait is driven on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from core.api import create_cluster, delete_cluster, wait_until_ready
from core.errors import ClusterFailedError, ClusterNotFoundError, ClusterTimeoutError
from core.kube_asyncio import KubernetesAsyncioClient
from core.status import Phase
from tests.api.conftest import cluster_config
from tests.sandbox_fixtures import put_pod

NS = "default"


async def _watching(bare: Any, started: int) -> None:
    """Until the wait has its three watches open: a condition polled under a deadline (the
    request log lives on the sandbox's thread, so there is no asyncio.Event to await)."""
    async with asyncio.timeout(10):
        while sum("watch=" in query for _m, _p, query in bare.requests[started:]) < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def _start_wait(
    bare: Any, kube: KubernetesAsyncioClient, name: str, **kwargs: Any
) -> asyncio.Task[Any]:
    started = len(bare.requests)
    task = asyncio.create_task(wait_until_ready(name, NS, client=kube, **kwargs))
    await _watching(bare, started)
    return task


async def test_wait_returns_ready_across_dropped_and_expired_watches(
    bare: Any, kube: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("w")
    await create_cluster(cluster_config(name), client=kube)
    started = len(bare.requests)
    task = await _start_wait(bare, kube, name, timeout=30)
    put_pod(bare, name, f"{name}-head-a", "head", phase="Pending", scheduled=False)
    bare.faults.expire_resource_versions()
    assert bare.faults.drop_watches() >= 1
    put_pod(bare, name, f"{name}-head-a", "head", ready=True)
    put_pod(bare, name, f"{name}-worker-worker-b", "worker", ready=True)
    status = await asyncio.wait_for(task, 20)
    assert status.phase is Phase.READY and status.ready_workers == 1
    snapshots = [p for m, p, q in bare.requests[started:] if m == "GET" and p.endswith(name)]
    assert len(snapshots) >= 2  # the dropped watches were followed by a fresh snapshot


async def test_wait_raises_not_found_when_the_cluster_is_deleted(
    bare: Any, kube: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("w")
    await create_cluster(cluster_config(name), client=kube)
    task = await _start_wait(bare, kube, name, timeout=30)
    await delete_cluster(name, NS, client=kube)
    with pytest.raises(ClusterNotFoundError, match=f"`{name}`"):
        await asyncio.wait_for(task, 10)


async def test_wait_fails_at_once_on_a_crash_loop(
    bare: Any, kube: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    from tests.unit.kube_objects import terminated, waiting

    name = unique_name("w")
    await create_cluster(cluster_config(name), client=kube)
    task = await _start_wait(bare, kube, name, timeout=30)
    crashed = waiting("ray-head", "CrashLoopBackOff", "back-off 40s restarting failed container",
                      restarts=3, last=terminated("Error", 1))  # fmt: skip
    put_pod(bare, name, f"{name}-head-a", "head", containers=[crashed])
    with pytest.raises(ClusterFailedError) as err:
        await asyncio.wait_for(task, 10)
    assert err.value.cluster_status.phase is Phase.CRASH_LOOP
    assert err.value.cluster_status.pod == f"{name}-head-a"


UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


async def test_unschedulable_keeps_waiting_and_the_timeout_names_the_scheduler_message(
    bare: Any, kube: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("w")
    await create_cluster(cluster_config(name), client=kube)
    put_pod(bare, name, f"{name}-head-a", "head", phase="Pending", scheduled=UNSCHEDULABLE)
    with pytest.raises(ClusterTimeoutError) as err:
        await wait_until_ready(name, NS, client=kube, timeout=1)
    assert f"Cluster `{name}` was not ready after 1 s: unschedulable" in err.value.message
    assert "Insufficient nvidia.com/gpu" in err.value.message


async def test_unschedulable_fails_after_the_grace_when_one_is_given(
    bare: Any, kube: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("w")
    await create_cluster(cluster_config(name), client=kube)
    task = await _start_wait(bare, kube, name, timeout=30, unschedulable_grace=0.3)
    put_pod(bare, name, f"{name}-head-a", "head", phase="Pending", scheduled=UNSCHEDULABLE)
    with pytest.raises(ClusterFailedError, match="cannot be scheduled") as err:
        await asyncio.wait_for(task, 10)
    assert err.value.cluster_status.phase is Phase.UNSCHEDULABLE


async def test_a_busy_api_server_delays_the_wait_by_its_retry_after_instead_of_failing_it(
    bare: Any, kube: KubernetesAsyncioClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("w")
    await create_cluster(cluster_config(name), client=kube)
    put_pod(bare, name, f"{name}-head-a", "head", ready=True)
    put_pod(bare, name, f"{name}-worker-worker-b", "worker", ready=True)
    bare.faults.fail_next(1, 429, retry_after=1, path_contains=f"/rayclusters/{name}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    status = await wait_until_ready(name, NS, client=kube, timeout=20)
    assert status.phase is Phase.READY
    assert loop.time() - started >= 1.0  # the snapshot after the 429 waited out Retry-After
