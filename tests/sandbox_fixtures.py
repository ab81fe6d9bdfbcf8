"""Sandbox fixtures any test directory can use: ``from tests.sandbox_fixtures import sandbox``.

``sandbox`` is a ``ThreadedSandbox``: a real HTTP API server in its own thread and event loop,
so tests may block (``subprocess.run(["kubectl", ...])``) without stalling it. Time runs fast
(``SANDBOX_SPEED``) so simulated pods settle in well under a second of wall time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from core.sandbox.runner import ThreadedSandbox, running_sandbox

SANDBOX_SPEED = 40.0
T = TypeVar("T")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    with running_sandbox(speed=SANDBOX_SPEED, kubeconfig_out=tmp_path / "kubeconfig") as sb:
        yield sb


@pytest.fixture
def kubeconfig(sandbox: ThreadedSandbox) -> Path:
    return sandbox.kubeconfig_path


def wait_for(condition: Callable[[], T | None], *, timeout: float = 10.0, what: str = "") -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.02)


def kubectl_path() -> str | None:
    return shutil.which("kubectl")


def kubectl_version() -> str:
    found = kubectl_path()
    if found is None:
        return "kubectl not found"
    out = subprocess.run(
        [found, "version", "--client"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else out.stderr.strip()
