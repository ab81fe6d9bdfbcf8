"""GPU workers land on any cloud's GPU nodes: the selector label and the tolerations are settings.

GKE labels GPU nodes ``cloud.google.com/gke-accelerator`` and adds the GPU toleration itself
(ExtendedResourceToleration); elsewhere the label differs (NVIDIA GPU operator:
``nvidia.com/gpu.product``; Karpenter on EKS: ``karpenter.k8s.aws/instance-gpu-name``) and GPU
pools are tainted (``nvidia.com/gpu:NoSchedule``; AKS's documented pools ``sku=gpu:NoSchedule``).
"""

from __future__ import annotations

import pytest

from bot.settings import BotSettings, parse_tolerations
from core.config import build_config
from core.sandbox.apiserver.schema import validate_raycluster
from manifests.raycluster import build_raycluster

NVIDIA = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
AKS = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


def _groups(label: str, tolerations: str = "") -> list[dict[str, object]]:
    settings = BotSettings.load({"gpu_type_label": label, "gpu_tolerations": tolerations})
    config = build_config(
        {
            "name": "demo",
            "worker_groups": [
                {"name": "gpu", "replicas": 1, "gpus": 2, "gpu_type": "a100"},
                {"name": "cpu", "replicas": 1},
            ],
        }
    )
    manifest = build_raycluster(config, **settings.manifest_options())
    assert validate_raycluster(manifest) == []
    return [g["template"]["spec"] for g in manifest["spec"]["workerGroupSpecs"]]


@pytest.mark.parametrize(
    "label",
    [
        "cloud.google.com/gke-accelerator",
        "nvidia.com/gpu.product",
        "karpenter.k8s.aws/instance-gpu-name",
        "kubernetes.azure.com/accelerator",
    ],
)
def test_gpu_type_selects_on_the_configured_label(label: str) -> None:
    gpu, cpu = _groups(label)
    assert gpu["nodeSelector"] == {label: "a100"}
    assert "nodeSelector" not in cpu


def test_gpu_workers_always_tolerate_the_nvidia_taint_and_cpu_workers_do_not() -> None:
    gpu, cpu = _groups("nvidia.com/gpu.product")
    assert gpu["tolerations"] == [NVIDIA]
    assert "tolerations" not in cpu


def test_extra_gpu_tolerations_follow_the_setting() -> None:
    gpu, _ = _groups("kubernetes.azure.com/accelerator", "sku=gpu:NoSchedule")
    assert gpu["tolerations"] == [NVIDIA, AKS]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("sku=gpu:NoSchedule", (AKS,)),
        (
            "dedicated:NoExecute, a/b=c:PreferNoSchedule",
            (
                {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
                {"key": "a/b", "operator": "Equal", "value": "c", "effect": "PreferNoSchedule"},
            ),
        ),
    ],
)
def test_tolerations_are_written_as_taints(text: str, expected: tuple[dict[str, str], ...]) -> None:
    assert parse_tolerations(text) == expected


@pytest.mark.parametrize("bad", ["sku=gpu", "sku=gpu:Never", ":NoSchedule", "a b:NoSchedule"])
def test_a_malformed_toleration_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a taint"):
        BotSettings.load({"gpu_tolerations": bad})
