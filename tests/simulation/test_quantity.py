"""Quantities read, add up and print as Go's ``resource.Quantity`` does, so the RayCluster's
``desiredCPU``/``desiredMemory`` are the strings KubeRay writes (``6G``, ``8Gi``, ``2500m``)."""

from __future__ import annotations

from typing import Any

import pytest

from core.sandbox.sim.kuberay_status import calculate_status
from core.sandbox.sim.quantity import milli, parse_quantity

from .conftest import raycluster

NOW = "2026-11-25T15:00:00Z"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("4Gi", "4Gi"), ("4096Mi", "4Gi"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"),
     ("0.5Gi", "512Mi"), ("100Ki", "100Ki"), ("0.5Ki", "512"), ("4G", "4G"), ("4000M", "4G"),
     ("5000000000", "5G"), ("1000", "1k"), ("1500m", "1500m"), ("1.5", "1500m"), ("0.5", "500m"),
     ("2", "2"), ("0", "0"), ("1e3", "1e3"), ("12e2", "1200"), ("1500e-3", "1500e-3"),
     ("0.1Ki", "102400m"), (" 3 ", "3"), ("1n", "1n"), ("0.0000000001", "1n")],
)  # fmt: skip
def test_a_parsed_quantity_prints_in_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_quantity(text)) == canonical


@pytest.mark.parametrize(
    ("parts", "total"),
    [(["4G", "1G", "1G"], "6G"), (["4Gi", "2Gi", "2Gi"], "8Gi"),
     (["4G", "1Gi", "1Gi"], "6147483648"), (["4Gi", "1G", "1G"], "6147429Ki"),
     (["0", "1Gi"], "1Gi"), (["500m", "1", "1"], "2500m"), (["1", "500m", "500m"], "2"),
     (["512Mi", "512Mi"], "1Gi")],
)  # fmt: skip
def test_a_sum_keeps_the_format_of_its_first_non_zero_addend(parts: list[str], total: str) -> None:
    quantities = [parse_quantity(p) for p in parts]
    result = quantities[0]
    for quantity in quantities[1:]:
        result = result + quantity
    assert str(result) == total


def test_milli_rounds_up() -> None:
    assert [milli("500m"), milli("2"), milli("1Ki"), milli("1u")] == [500, 2000, 1024000, 1]
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        milli("two")


def _cluster(head: dict[str, str], worker: dict[str, str], workers: int) -> dict[str, Any]:
    rc = raycluster(workers=workers)
    rc["metadata"].update(uid="0f1e2d3c-0000-4000-8000-000000000001", generation=1)
    spec = rc["spec"]
    head_container = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    head_container["resources"] = {"requests": head, "limits": head}
    worker_container = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    worker_container["resources"] = {"limits": worker}
    return rc


@pytest.mark.parametrize(
    ("head", "worker", "workers", "expected"),
    [({"cpu": "1", "memory": "4G"}, {"cpu": "1", "memory": "1G"}, 2, ("3", "6G", "0")),
     ({"cpu": "1", "memory": "4G"}, {"cpu": "1", "memory": "500M"}, 2, ("3", "5G", "0")),
     ({"cpu": "1", "memory": "4Gi"}, {"cpu": "1", "memory": "1Gi"}, 2, ("3", "6Gi", "0")),
     ({"cpu": "500m", "memory": "4Gi"}, {"cpu": "1", "memory": "2Gi"}, 2, ("2500m", "8Gi", "0")),
     ({"cpu": "1", "memory": "4G"}, {"cpu": "2", "memory": "2Gi"}, 0, ("1", "4G", "0")),
     ({"cpu": "1", "memory": "4Gi"},
      {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}, 3, ("13", "52Gi", "3"))],
)  # fmt: skip
def test_desired_resources_print_like_kuberay(
    head: dict[str, str], worker: dict[str, str], workers: int, expected: tuple[str, str, str]
) -> None:
    status = calculate_status(
        _cluster(head, worker, workers), [], None, replica_failure=None, now=NOW
    )
    assert (status["desiredCPU"], status["desiredMemory"], status["desiredGPU"]) == expected
