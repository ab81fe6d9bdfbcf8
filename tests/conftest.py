"""Suite-wide checks: no test may leak an asyncio task (kopf's autouse fixture does the same)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

# Sandbox fixtures (sandbox, kubeconfig, bare, kube) for every test directory.
pytest_plugins = ["tests.sandbox_fixtures"]


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leaked = [
        t for t in asyncio.all_tasks() - before if t is not current and not t.done()
    ]
    if leaked:
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        names = ", ".join(sorted(t.get_name() for t in leaked))
        pytest.fail(f"test leaked {len(leaked)} asyncio task(s): {names}")
