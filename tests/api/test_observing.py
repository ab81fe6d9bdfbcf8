"""What the API shows about clusters the simulated operator runs: waiting with create, warning
events in describe, the crashed container's log, and cleanup that follows the cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from core.api import create_cluster, delete_cluster, describe_cluster, wait_until_ready
from core.errors import ClusterFailedError, KubeApiError
from core.kube import KubeClient
from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE
from core.status import Phase
from manifests.raycluster import services_secret_name
from tests.api.conftest import cluster_config

NS = "default"


async def test_create_with_wait_returns_once_the_cluster_is_ready(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("cw")
    summary = await create_cluster(cluster_config(name), client=client, wait=True, timeout=60)
    assert summary.status.phase is Phase.READY
    assert (summary.ready_workers, summary.desired_workers) == (1, 1)


async def test_describe_shows_the_pull_failure_warnings_of_the_cluster(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("pw")
    config = cluster_config(name, head={"image": "docker.io/rayproject/ray:0.0.0-no-such-tag"})
    with pytest.raises(ClusterFailedError):
        await create_cluster(config, client=client, wait=True, timeout=60)
    details = await describe_cluster(name, NS, client=client)
    assert details.summary.status.phase is Phase.IMAGE_PULL_ERROR
    assert details.warning_events, "the kubelet's pull failure should be listed"
    assert all(e.type == "Warning" for e in details.warning_events)
    assert all(e.object_name.startswith(f"pod/{name}-") for e in details.warning_events)
    assert any("0.0.0-no-such-tag" in e.message for e in details.warning_events)


async def test_crash_loop_fails_the_wait_and_the_previous_log_is_readable(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("cl")
    await create_cluster(cluster_config(name, head={"image": CRASHING_DEMO_IMAGE}), client=client)
    with pytest.raises(ClusterFailedError) as err:
        await wait_until_ready(name, NS, client=client, timeout=60)
    status = err.value.cluster_status
    assert status.phase is Phase.CRASH_LOOP and status.pod
    log = await client.read_pod_log(
        status.pod, NS, container="ray-head", previous=True, tail_lines=3
    )
    assert "ModuleNotFoundError: No module named 'krayne_missing_dependency'" in log
    assert len(log.strip().splitlines()) <= 3


async def test_deleting_the_cluster_deletes_its_services_secret(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("gc")
    await create_cluster(cluster_config(name, services={}), client=client)
    await client.get_secret(services_secret_name(name), NS)
    await delete_cluster(name, NS, client=client)
    async with asyncio.timeout(10):
        while True:  # garbage collection is asynchronous on a real cluster; poll under a deadline
            try:
                await client.get_secret(services_secret_name(name), NS)
            except KubeApiError as gone:
                assert gone.status == 404
                break
            await asyncio.sleep(0.02)
