"""core.objects is the one reader of cluster JSON: the card and `/krayne list` cannot disagree."""

from __future__ import annotations

from typing import Any

import pytest

from bot.facts import card_view
from core.cluster_info import summary_from
from core.objects import RayClusterView
from core.status import derive_status
from tests.unit.kube_objects import NOW, group, head, raycluster, worker

Obj = dict[str, Any]


def _gpu_group(name: str, replicas: int, gpus: int, **kwargs: Any) -> Obj:
    spec = group(name, replicas, **kwargs)
    container = spec["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return spec


CASES = {
    "replicas above max are clamped to max": [_gpu_group("g", 5, 2, max_replicas=2)],
    "replicas below min are raised to min": [_gpu_group("g", 0, 1, min_replicas=3)],
    "multi-host groups count every host": [_gpu_group("tpu", 2, 4, num_of_hosts=2)],
    "a suspended group asks for nothing": [
        _gpu_group("a", 2, 1),
        _gpu_group("b", 3, 8, suspend=True),
    ],
    "min above max: KubeRay takes max": [_gpu_group("g", 1, 1, min_replicas=5, max_replicas=3)],
    "a CPU group next to a GPU group": [group("cpu", 3), _gpu_group("gpu", 1, 4)],
}


@pytest.mark.parametrize("groups", CASES.values(), ids=CASES.keys())
def test_card_and_list_agree_on_workers_and_gpus(groups: list[Obj]) -> None:
    cluster = raycluster(groups=groups)
    pods = [head(), worker("a1")]
    status = derive_status(cluster, pods, [], NOW)
    card = card_view(cluster, status)
    row = summary_from(cluster, pods, [], NOW)
    assert (card.gpus, card.desired_workers) == (row.gpus, row.desired_workers)
    view = RayClusterView.parse(cluster)
    assert row.gpus == view.total_gpus
    assert row.desired_workers == view.desired_workers


@pytest.mark.parametrize(
    ("groups", "workers", "gpus"),
    [
        ([_gpu_group("g", 5, 2, max_replicas=2)], 2, 4),
        ([_gpu_group("tpu", 2, 4, num_of_hosts=2)], 4, 16),
        ([_gpu_group("a", 2, 1), _gpu_group("b", 3, 8, suspend=True)], 2, 2),
        ([_gpu_group("g", 1, 1, min_replicas=5, max_replicas=3)], 3, 3),
    ],
)
def test_desired_workers_and_gpus_follow_kuberays_clamp(
    groups: list[Obj], workers: int, gpus: int
) -> None:
    view = RayClusterView.parse(raycluster(groups=groups))
    assert (view.desired_workers, view.total_gpus) == (workers, gpus)


@pytest.mark.parametrize(
    "junk",
    [None, [], "x", {"metadata": None, "spec": {"workerGroupSpecs": [None, 3, {"replicas": "x"}]}}],
)
def test_reading_malformed_json_never_fails(junk: Any) -> None:
    view = RayClusterView.parse(junk)
    assert view.total_gpus >= 0 and view.desired_workers >= 0
    assert view.head.endpoint_ports["dashboard"] == 8265
