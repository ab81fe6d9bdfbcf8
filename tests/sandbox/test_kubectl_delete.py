"""kubectl delete against a sandbox whose kubelet takes time: Terminating pods, cascade policies."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.sandbox.runner import running_sandbox
from core.sandbox.sim.simconfig import SimConfig
from tests.sandbox.conftest import DATA, KubectlResult
from tests.sandbox_fixtures import wait_for

pytestmark = pytest.mark.kubectl
NAME = "raycluster-kuberay"

Run = Callable[..., KubectlResult]


@pytest.fixture
def kubectl_slow(kubectl_binary: str, tmp_path: Path) -> Iterator[Run]:
    """kubectl against a sandbox where stopping a pod's containers takes 60 simulated seconds."""
    config = SimConfig.model_validate({"timings": {"delete_grace": 60}})
    kubeconfig = tmp_path / "kubeconfig"
    with running_sandbox(config=config, speed=40.0, kubeconfig_out=kubeconfig):

        def run(*args: str, check: bool = True) -> KubectlResult:
            proc = subprocess.run(
                [kubectl_binary, "--kubeconfig", str(kubeconfig),
                 "--cache-dir", str(tmp_path / "cache"), *args],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if check and proc.returncode != 0:
                pytest.fail(f"kubectl {' '.join(args)} failed: {proc.stderr}")
            return KubectlResult(proc.returncode, proc.stdout, proc.stderr)

        yield run


def _ready(kubectl: Run) -> None:
    kubectl("apply", "-f", str(DATA / "raycluster.yaml"))
    wait_for(
        lambda: (
            kubectl("get", "raycluster", NAME, "-o", "jsonpath={.status.state}").stdout == "ready"
        ),
        timeout=20,
        what="the RayCluster to be ready",
    )


def _pod_rows(kubectl: Run) -> list[list[str]]:
    out = kubectl("get", "pods", "-l", f"ray.io/cluster={NAME}").stdout
    return [line.split() for line in out.strip().splitlines()[1:]]


def test_deleted_pod_shows_terminating_until_the_kubelet_is_done(kubectl_slow: Run) -> None:
    _ready(kubectl_slow)
    worker = next(r[0] for r in _pod_rows(kubectl_slow) if "-worker-" in r[0])
    kubectl_slow("delete", "pod", worker, "--wait=false", "--grace-period=120")
    row = next(r for r in _pod_rows(kubectl_slow) if r[0] == worker)
    assert row[2] == "Terminating"
    wait_for(
        lambda: worker not in [r[0] for r in _pod_rows(kubectl_slow)],
        timeout=15,
        what="the terminating pod to go",
    )


def test_foreground_cascade_keeps_the_raycluster_until_its_pods_are_gone(
    kubectl_slow: Run,
) -> None:
    _ready(kubectl_slow)
    kubectl_slow("delete", "raycluster", NAME, "--cascade=foreground", "--wait=false")
    finalizers = kubectl_slow(
        "get", "raycluster", NAME, "-o", "jsonpath={.metadata.finalizers}"
    ).stdout
    assert finalizers == '["foregroundDeletion"]'
    assert {r[2] for r in _pod_rows(kubectl_slow)} == {"Terminating"}
    wait_for(
        lambda: kubectl_slow("get", "rayclusters", "-o", "name").stdout.strip() == "",
        timeout=15,
        what="the RayCluster to go after its pods",
    )
    assert _pod_rows(kubectl_slow) == []


def test_orphan_cascade_leaves_the_pods_running(kubectl_slow: Run) -> None:
    _ready(kubectl_slow)
    kubectl_slow("delete", "raycluster", NAME, "--cascade=orphan")
    rows = _pod_rows(kubectl_slow)
    assert len(rows) == 3 and {r[2] for r in rows} == {"Running"}
