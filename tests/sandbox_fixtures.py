"""Sandbox fixtures for every test directory (a plugin of the root conftest) and helpers.

``sandbox`` is a ``ThreadedSandbox``: a real HTTP API server in its own thread and event loop,
so tests may block (``subprocess.run(["kubectl", ...])``) without stalling it. Time runs fast
(``SANDBOX_SPEED``) so simulated pods settle in well under a second of wall time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.kube_asyncio import KubernetesAsyncioClient, connect
from core.sandbox.runner import ThreadedSandbox, running_sandbox
from tests.unit.kube_objects import pod

SANDBOX_SPEED = 40.0
T = TypeVar("T")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    with running_sandbox(speed=SANDBOX_SPEED, kubeconfig_out=tmp_path / "kubeconfig") as sb:
        yield sb


@pytest.fixture
def kubeconfig(sandbox: ThreadedSandbox) -> Path:
    return sandbox.kubeconfig_path


@pytest.fixture(scope="module")
def bare() -> Iterator[ThreadedSandbox]:
    """A sandbox without the simulated operator: the test itself plays kubelet (``put_pod``)."""
    with running_sandbox(simulate=False) as sb:
        yield sb


@pytest.fixture
async def kube(bare: ThreadedSandbox) -> AsyncIterator[KubernetesAsyncioClient]:
    client = await connect(str(bare.kubeconfig_path), request_timeout=5)
    try:
        yield client
    finally:
        await client.close()


def put_pod(
    bare: ThreadedSandbox, cluster: str, name: str, node_type: str, *,
    namespace: str = "default", **state: Any,
) -> None:  # fmt: skip
    """Create the pod if needed, then write its status as the kubelet would."""
    body = pod(name, cluster=cluster, node_type=node_type, **state)
    try:
        current = bare.store.get("pods", namespace, name)
    except Exception:
        current = bare.store.create("pods", {k: v for k, v in body.items() if k != "status"})
    current["status"] = body["status"]
    bare.store.update("pods", current, subresource="status")


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
