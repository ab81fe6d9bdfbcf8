"""Shared helpers for the deployment tests: where deploy/ is, and rendering it with kustomize."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The newest Kubernetes release kubernetes-validate 1.37 ships schemas for (pinned, so a newer
# validator does not silently move the target; bump it deliberately).
KUBERNETES_VERSION = "1.37.0"
# deploy/ directories `kubectl apply -k` is pointed at, by variant name.
VARIANTS = {"http": DEPLOY, "socket-mode": DEPLOY / "socket-mode"}
# Kustomize components. Leader election is on in every variant (deploy/base lists it: two
# replicas elect the one that posts); the others are optional, enabled from an overlay.
COMPONENTS = {
    name: DEPLOY / "components" / name
    for name in ("leader-election", "network-policy", "ray-network-policy")
}
OPTIONAL_COMPONENTS = {name: path for name, path in COMPONENTS.items() if name != "leader-election"}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed (CI installs it: .ci/run)")
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize DIR``: the objects ``kubectl apply -k DIR`` would send."""
    return [doc for doc in yaml.safe_load_all(_kustomize(directory, _tree_stamp())) if doc]


def _tree_stamp() -> tuple[tuple[str, int], ...]:
    """deploy/'s files and modification times: a render is reused only while they are unchanged."""
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in DEPLOY.rglob("*.yaml")))


@functools.lru_cache(maxsize=32)
def _kustomize(directory: Path, _stamp: tuple[tuple[str, int], ...]) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def render_with(directory: Path, components: list[str], workdir: Path) -> list[dict[str, Any]]:
    """Render ``directory`` with ``components`` enabled, as an overlay in ``workdir`` would."""
    overlay = workdir / "overlay"
    overlay.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(directory, overlay)],
        "components": [os.path.relpath(COMPONENTS[c], overlay) for c in components],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(overlay)


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]
