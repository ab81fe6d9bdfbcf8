"""Shared helpers for the deployment tests: where deploy/ is, and rendering it with kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The newest Kubernetes release kubernetes-validate ships schemas for; bump with the package.
KUBERNETES_VERSION = "1.37.0"
# deploy/ directories `kubectl apply -k` is pointed at, by variant name.
VARIANTS = {"http": DEPLOY, "socket-mode": DEPLOY / "socket-mode"}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed (CI installs it: .ci/run)")
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize DIR``: the objects ``kubectl apply -k DIR`` would send."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]
