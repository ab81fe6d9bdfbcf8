"""The thread tells the truth on an elastic, non-GKE cluster, end to end through Slack.

The sandbox here looks like the clusters most users run: CPU nodes, and one GPU pool that a
cluster-autoscaler grows from 0 nodes (its events as kubernetes/autoscaler writes them), GPU nodes
labelled ``nvidia.com/gpu.product`` and tainted ``nvidia.com/gpu:NoSchedule`` with
ExtendedResourceToleration off (the upstream default, unlike GKE), Ray's autoscaler rewriting
``replicas``, an image whose first pulls hit Docker Hub's rate limit, and pods that stay
Terminating for a while after a delete.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox, running_sandbox
from core.sandbox.sim.simconfig import SimConfig
from tests.scenarios.conftest import SPEED
from tests.scenarios.harness import (
    CHANNEL,
    WAIT,
    SlackClient,
    all_text,
    current,
    wait_card,
    wait_reply,
)

GPU_LABEL = "nvidia.com/gpu.product"  # NVIDIA GPU operator's feature discovery, any cloud
A100 = "NVIDIA-A100-SXM4-80GB"
RATE_LIMITED = "rayproject/ray:2.59.0-py312"
# What a failure looks like in Slack: the red marker, a failure phase, the scheduler's verdict.
ALARMS = re.compile(
    r"red_circle|`unschedulable`|`failed`|`image-pull-error`|`crash-loop`|cannot be scheduled"
)

ELASTIC = SimConfig.from_mapping(
    {
        "nodes": [
            {"name": "cpu-0", "cpu": "16", "memory": "64Gi"},
            {"name": "cpu-1", "cpu": "16", "memory": "64Gi"},
        ],
        "extended_resource_toleration": False,
        "node_pools": [
            {
                "name": "gpu-a100",
                "min": 0,
                "max": 1,
                "autoscaler": "cluster-autoscaler",
                "scale_up_seconds": 40,
                "node": {
                    "cpu": "16",
                    "memory": "64Gi",
                    "gpus": 8,
                    "labels": {GPU_LABEL: A100},
                    "taints": [
                        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
                    ],
                },
            }
        ],
        "ray_autoscaler": True,
        "images": {"rate_limited": {RATE_LIMITED: 2}},
        "timings": {"delete_grace": 40},  # a second of wall time: the pods are seen Terminating
    }
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    with running_sandbox(speed=SPEED, config=ELASTIC) as running:
        yield running


@pytest.fixture
def bot_extra() -> dict[str, object]:
    return {"gpu_type_label": GPU_LABEL}


def everything_said(double: SlackDouble, name: str) -> list[str]:
    """Every version of the card and every thread reply about ``name``, as posted."""
    said = [
        call.args.get("text", "") + json.dumps(call.args.get("blocks", []))
        for method in ("chat.postMessage", "chat.update")
        for call in double.calls_to(method)
        if name in call.args.get("text", "") or call.args.get("thread_ts")
    ]
    return said


async def pods_of(sandbox: ThreadedSandbox, namespace: str, name: str) -> list[dict[str, Any]]:
    items, _rv = await asyncio.to_thread(
        sandbox.store.list, "pods", namespace, label_selector=f"ray.io/cluster={name}"
    )
    return list(items)


async def events_about(sandbox: ThreadedSandbox, namespace: str, reason: str) -> list[str]:
    items, _rv = await asyncio.to_thread(sandbox.store.list, "events", namespace)
    return [str(e.get("message", "")) for e in items if e.get("reason") == reason]


async def test_a_gpu_cluster_on_a_pool_at_zero_nodes_gets_ready_without_crying_wolf(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash(f"create g --gpus 1 --gpu-type {A100}")
    card = await wait_card(double, "g")
    await wait_reply(double, card, "is ready")
    # The node autoscaler really was at work (and the GPU node's taint and label were met):
    assert await events_about(sandbox, namespace, "TriggeredScaleUp")
    [worker] = [
        p for p in await pods_of(sandbox, namespace, "g")
        if p["metadata"]["labels"]["ray.io/node-type"] == "worker"
    ]  # fmt: skip
    assert worker["spec"]["nodeSelector"] == {GPU_LABEL: A100}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in worker[
        "spec"
    ]["tolerations"]
    said = [s for s in everything_said(double, "g") if ALARMS.search(s)]
    assert said == [], said


async def test_more_gpus_than_any_node_has_is_unschedulable_in_the_autoscalers_words(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create huge --gpus 16")
    card = await wait_card(double, "huge")
    reply = await wait_reply(double, card, "cannot be scheduled")
    assert "didn't trigger scale-up" in all_text(reply)
    assert "16 nvidia.com/gpu" in all_text(reply)


async def test_the_ray_autoscaler_growing_a_ready_cluster_posts_no_thread_reply(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create elastic --workers 1 --max-workers 3")
    card = await wait_card(double, "elastic")
    await wait_reply(double, card, "is ready")
    replies = len(double.thread(CHANNEL, card.ts))
    demand = {"metadata": {"annotations": {"sandbox.krayne.io/ray-demand": '{"worker": 2}'}}}
    await asyncio.to_thread(sandbox.store.merge_patch, "rayclusters", namespace, "elastic", demand)
    await double.wait_for(lambda: "2/2 ready" in all_text(current(double, card)), WAIT)
    rc = next(
        c for c in (await asyncio.to_thread(sandbox.store.list, "rayclusters", namespace))[0]
        if c["metadata"]["name"] == "elastic"
    )
    assert rc["spec"]["workerGroupSpecs"][0]["replicas"] == 2  # Ray's autoscaler wrote it
    assert len(double.thread(CHANNEL, card.ts)) == replies


async def test_a_twice_rate_limited_image_ends_ready_with_no_red_message(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash(f"create pulled --image {RATE_LIMITED}")
    card = await wait_card(double, "pulled")
    await wait_reply(double, card, "is ready")
    failures = await events_about(sandbox, namespace, "Failed")
    assert any("toomanyrequests" in m for m in failures), failures
    said = [s for s in everything_said(double, "pulled") if ALARMS.search(s)]
    assert said == [], said


async def test_the_delete_reply_comes_only_after_the_pods_are_gone(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create doomed --gpus 1")
    card = await wait_card(double, "doomed")
    await wait_reply(double, card, "is ready")
    await asyncio.to_thread(sandbox.store.delete, "rayclusters", namespace, "doomed")
    deleting = await wait_reply(double, card, "is being deleted")
    assert "still shutting down" in all_text(deleting)
    assert await pods_of(sandbox, namespace, "doomed")  # Terminating, holding the GPU
    gone = await wait_reply(double, card, "Deleted outside Slack")
    assert await pods_of(sandbox, namespace, "doomed") == []
    assert "1 GPU freed" in all_text(gone)
