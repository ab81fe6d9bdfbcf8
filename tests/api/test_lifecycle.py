"""The lifecycle API end to end: real kubernetes-asyncio over HTTP against the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from core.api import (
    annotate_cluster,
    create_cluster,
    delete_cluster,
    describe_cluster,
    get_cluster,
    list_clusters,
    scale_cluster,
    scale_group,
    wait_until_ready,
)
from core.errors import ClusterNotFoundError, KubeApiError
from core.kube import KubeClient, Obj
from core.state import SCALE_REQUESTS, SLACK_CHANNEL, SLACK_THREAD_TS
from core.status import Phase
from tests.api.conftest import cluster_config

NS = "default"


async def _until_deleted(client: KubeClient, name: str) -> None:
    """Wait (on a watch, under a deadline) until the RayCluster is gone."""
    async with asyncio.timeout(20):
        while True:
            try:
                current = await client.get_raycluster(name, NS)
            except ClusterNotFoundError:
                return
            rv = current["metadata"]["resourceVersion"]
            events = client.watch(
                "rayclusters", NS, field_selector=f"metadata.name={name}", resource_version=rv
            )
            async with contextlib.aclosing(events):  # type: ignore[type-var]
                async for event in events:
                    if event["type"] == "DELETED":
                        return


async def test_create_get_list_describe_scale_delete_round_trip(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("rt")
    created = await create_cluster(
        cluster_config(name), client=client, owner="U42", annotations={SLACK_CHANNEL: "C9"}
    )
    assert (created.name, created.namespace, created.owner) == (name, NS, "U42")
    assert created.slack is not None and created.slack.channel == "C9"

    ready = await wait_until_ready(name, NS, client=client, timeout=60)
    assert ready.phase is Phase.READY and ready.head_ready

    got = await get_cluster(name, NS, client=client)
    assert got.status.phase is Phase.READY and (got.ready_workers, got.desired_workers) == (1, 1)

    mine = await list_clusters(NS, client=client, owner="U42")
    assert [row.name for row in mine if row.name == name] == [name]
    assert name not in [row.name for row in await list_clusters(NS, client=client, owner="U0")]
    assert name in [row.name for row in await list_clusters(None, client=client)]

    details = await describe_cluster(name, NS, client=client)
    assert details.head.ready and details.head.pod_name
    assert [(g.name, g.replicas, g.ready) for g in details.worker_groups] == [("worker", 1, 1)]
    assert details.endpoints["dashboard"] == 8265

    scaled = await scale_cluster(name, NS, replicas=2, client=client)
    assert scaled.desired_workers == 2
    ready = await wait_until_ready(name, NS, client=client, timeout=60)
    assert ready.ready_workers == 2

    await annotate_cluster(name, NS, {SLACK_THREAD_TS: "1.2", SLACK_CHANNEL: None}, client=client)
    annotated = await get_cluster(name, NS, client=client)
    assert annotated.annotations.get(SLACK_THREAD_TS) == "1.2"
    assert annotated.slack is None  # the channel annotation was removed

    await delete_cluster(name, NS, client=client)
    await _until_deleted(client, name)
    with pytest.raises(ClusterNotFoundError):
        await get_cluster(name, NS, client=client)
    with pytest.raises(ClusterNotFoundError):
        await delete_cluster(name, NS, client=client)


@pytest.mark.parametrize("clusters", [1, 25])
async def test_list_clusters_makes_two_requests_whatever_the_number_of_clusters(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str], clusters: int
) -> None:
    names = [unique_name("ls") for _ in range(clusters)]
    await asyncio.gather(*(create_cluster(cluster_config(n), client=client) for n in names))
    sandbox.reset_requests()

    rows = await list_clusters(NS, client=client)

    assert set(names) <= {row.name for row in rows}
    assert len(sandbox.requests) == 2, sandbox.requests
    assert sorted(method for method, _path, _query in sandbox.requests) == ["GET", "GET"]
    assert [row.name for row in rows] == sorted(row.name for row in rows)


class CompetingWriter:
    """A real client (every call goes over HTTP) whose first write is preceded by a colleague's
    write to the same RayCluster — so the write carries a stale resourceVersion."""

    def __init__(self, inner: KubeClient, colleague: Callable[[], Awaitable[Any]]) -> None:
        self._inner = inner
        self._colleague: Callable[[], Awaitable[Any]] | None = colleague
        self.refusals: list[int | None] = []

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    async def replace_raycluster(self, body: Obj) -> Obj:
        if self._colleague is not None:
            colleague, self._colleague = self._colleague, None
            await colleague()
        try:
            return await self._inner.replace_raycluster(body)
        except KubeApiError as err:
            self.refusals.append(err.status)
            raise


async def test_scale_retries_a_conflict_and_keeps_the_concurrent_change(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("sc")
    groups = [{"name": "cpu", "replicas": 1, "max_replicas": 4},
              {"name": "big", "replicas": 0, "max_replicas": 2}]  # fmt: skip
    await create_cluster(cluster_config(name, worker_groups=groups), client=client)
    other_change = [{"op": "replace", "path": "/spec/workerGroupSpecs/1/maxReplicas", "value": 7}]
    racer = CompetingWriter(
        client, lambda: client.patch_raycluster(name, NS, other_change, patch_type="json")
    )
    sandbox.reset_requests()

    await scale_cluster(name, NS, "cpu", 3, client=racer)

    # The colleague's write made the first PUT stale; the simulated operator's status writes may
    # make a retry stale too (they bump the resourceVersion), and each is retried the same way.
    assert racer.refusals and set(racer.refusals) == {409}
    puts = [p for method, p, _q in sandbox.requests if method == "PUT" and p.endswith(name)]
    assert len(puts) == len(racer.refusals) + 1  # every refused write, then the one that landed
    cpu, big = (await client.get_raycluster(name, NS))["spec"]["workerGroupSpecs"]
    assert (cpu["replicas"], cpu["minReplicas"], cpu["maxReplicas"]) == (3, 3, 4)
    assert big["maxReplicas"] == 7  # the colleague's change survived


async def test_concurrent_scales_of_two_groups_both_take_effect(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("cc")
    groups = [{"name": "a", "replicas": 0, "max_replicas": 5},
              {"name": "b", "replicas": 0, "max_replicas": 5}]  # fmt: skip
    await create_cluster(cluster_config(name, worker_groups=groups), client=client)
    sandbox.faults.set_latency(0.05)  # both reads land before either write
    try:
        await asyncio.gather(
            scale_cluster(name, NS, "a", 2, client=client),
            scale_cluster(name, NS, "b", 3, client=client),
        )
    finally:
        sandbox.faults.set_latency(0)
    a, b = (await client.get_raycluster(name, NS))["spec"]["workerGroupSpecs"]
    assert (a["replicas"], b["replicas"]) == (2, 3)


async def test_two_scales_of_one_slack_request_racing_write_once(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    """Two replicas handling the same click (Slack's retry) at once, each having computed +1
    from what it read: the loser's write conflicts, its re-read finds the request written."""
    name = unique_name("rq")
    await create_cluster(cluster_config(name, worker_groups=[{"name": "w", "replicas": 1}]),
                         client=client)  # fmt: skip
    sandbox.faults.set_latency(0.05)  # both reads land before either write
    try:
        results = await asyncio.gather(
            scale_group(name, NS, "w", 2, client=client, by="U1", request="trigger-1"),
            scale_group(name, NS, "w", 3, client=client, by="U1", request="trigger-1"),
        )
    finally:
        sandbox.faults.set_latency(0)
    assert sorted(r.repeated for r in results) == [False, True]
    written = next(r for r in results if not r.repeated)
    [group] = (await client.get_raycluster(name, NS))["spec"]["workerGroupSpecs"]
    assert group["replicas"] == written.after.replicas


async def test_two_different_plus_one_clicks_racing_add_two_workers(
    client: KubeClient, sandbox: Any, unique_name: Callable[[str], str]
) -> None:
    """Two people press "Add worker" at once (two requests, maybe on two replicas): the +1 is
    applied to what each write's read found, so the loser's re-read adds its own worker."""
    name = unique_name("pl")
    await create_cluster(cluster_config(name, worker_groups=[{"name": "w", "replicas": 1}]),
                         client=client)  # fmt: skip
    sandbox.faults.set_latency(0.05)  # both reads land before either write
    try:
        await asyncio.gather(
            scale_group(name, NS, "w", None, client=client, by="U1", request="t-a", delta=1),
            scale_group(name, NS, "w", None, client=client, by="U2", request="t-b", delta=1),
        )
    finally:
        sandbox.faults.set_latency(0)
    [group] = (await client.get_raycluster(name, NS))["spec"]["workerGroupSpecs"]
    assert group["replicas"] == 3


async def test_a_cluster_remembers_the_last_eight_scale_requests(
    client: KubeClient, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("rk")
    await create_cluster(cluster_config(name), client=client)
    for n in range(10):
        await scale_group(name, NS, None, n % 2 + 1, client=client, request=f"t{n}")
    notes = (await client.get_raycluster(name, NS))["metadata"]["annotations"]
    assert notes[SCALE_REQUESTS].split() == [f"t{n}" for n in range(2, 10)]
    again = await scale_group(name, NS, None, 5, client=client, request="t9")
    assert again.repeated and again.after.replicas == 2
