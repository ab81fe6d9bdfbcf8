"""Sandbox test fixtures: a thread-hosted sandbox, its kubeconfig, kubectl, an HTTP client."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from core.sandbox.runner import Sandbox
from tests.sandbox.apiclient import Api
from tests.sandbox_fixtures import kubectl_path, kubectl_version

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def kubectl_binary(request: pytest.FixtureRequest) -> str:
    """The kubectl binary; its version is printed once per session, absence skips the test."""
    binary = kubectl_path()
    if binary is None:
        pytest.skip("kubectl is not installed (needed to drive the sandbox like a user would)")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nsandbox tests drive {binary}: {kubectl_version()}")
    return binary


@dataclass(frozen=True)
class KubectlResult:
    returncode: int
    stdout: str
    stderr: str


Kubectl = Callable[..., KubectlResult]


@pytest.fixture
def kubectl(kubectl_binary: str, kubeconfig: Path) -> Kubectl:
    """Run the real kubectl against the sandbox: ``kubectl("get", "pods", check=True)``."""
    binary = kubectl_binary
    cache_dir = kubeconfig.parent / "kubectl-cache"  # not ~/.kube/cache: every sandbox is new

    def run(*args: str, check: bool = True, timeout: float = 30.0) -> KubectlResult:
        proc = subprocess.run(
            [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache_dir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = KubectlResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return result

    return run


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """An in-loop sandbox without simulation and an HTTP client authenticated to it."""
    async with Sandbox(simulate=False) as sandbox, aiohttp.ClientSession() as session:
        yield Api(sandbox, session)
