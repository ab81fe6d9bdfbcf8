"""Fixtures for the lifecycle API tests: a real KubernetesAsyncioClient on the running sandbox."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.config import ClusterConfig, build_config
from core.kube_asyncio import KubernetesAsyncioClient, connect

_serial = itertools.count()
NO_SERVICES = {"notebook": False, "code_server": False, "ssh": False}


@pytest.fixture
async def client(sandbox: Any) -> AsyncIterator[KubernetesAsyncioClient]:
    connected = await connect(str(sandbox.kubeconfig_path), request_timeout=5)
    try:
        yield connected
    finally:
        await connected.close()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Cluster names no other test (or earlier run on a shared sandbox) uses."""
    run = os.urandom(2).hex()

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{run}-{next(_serial)}"

    return make


def cluster_config(name: str, namespace: str = "default", **data: Any) -> ClusterConfig:
    """A small valid cluster; ``data`` is merged over it like a YAML file."""
    base: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "worker_groups": [{"name": "worker", "replicas": 1, "max_replicas": 4}],
        "services": NO_SERVICES,
    }
    return build_config({**base, **data})
