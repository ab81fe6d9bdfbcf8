"""The sandbox as a child process (what the shell runs): it serves once it says READY, stops
cleanly when closed, never outlives a parent that was killed, and a start that fails is one
sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from core.errors import SandboxError
from core.sandbox.process import SandboxProcess
from tests.sandbox_fixtures import wait_for

PARENT = """
import asyncio
from core.sandbox.process import SandboxProcess

async def main() -> None:
    sandbox = SandboxProcess(speed=50)
    await sandbox.start()
    await sandbox.wait_ready()
    print(sandbox.pid, sandbox.kubeconfig_path, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (an exited child its new parent has not reaped)."""
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(state) and not state.startswith("Z")


async def test_serves_the_api_once_ready_and_stops_cleanly_when_closed() -> None:
    async with SandboxProcess(speed=50) as sandbox:
        config = yaml.safe_load(sandbox.kubeconfig_path.read_text())
        token = config["users"][0]["user"]["token"]
        assert config["clusters"][0]["cluster"]["server"] == sandbox.url
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{sandbox.url}/api/v1/namespaces/default") as response,
        ):
            assert response.status == 200
        pid = sandbox.pid
        assert pid is not None
    assert sandbox.returncode == 0  # it stopped at its stdin's end, not killed
    assert not running(pid)
    assert not sandbox.kubeconfig_path.exists()


def test_a_killed_parent_leaves_no_sandbox_and_no_directory_behind() -> None:
    command = [sys.executable, "-c", PARENT]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            pid, kubeconfig = parent.stdout.readline().split()
            child = int(pid)
            assert running(child)
        finally:
            parent.kill()  # SIGKILL: no cleanup code of the parent runs
    wait_for(lambda: not running(child), timeout=10, what="the orphaned sandbox to exit")
    assert not Path(kubeconfig).parent.exists()  # its temporary directory went with it


async def test_a_start_past_its_deadline_is_one_sentence_and_leaves_nothing_running() -> None:
    sandbox = SandboxProcess(speed=50, start_timeout=0.01)
    await sandbox.start()
    pid = sandbox.pid
    assert pid is not None
    with pytest.raises(SandboxError, match=r"^the sandbox did not start within 0.01s: ") as err:
        await sandbox.wait_ready()
    await sandbox.aclose()
    assert "\n" not in str(err.value)
    assert not running(pid)
