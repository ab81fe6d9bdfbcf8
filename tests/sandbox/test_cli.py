"""``krayne-bot sandbox`` serves until SIGTERM, tells the user how to connect, and exits 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

_RUN_CLI = (
    "import argparse, sys\n"
    "from core.sandbox import cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def test_sandbox_command_prints_usage_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    command = [
        sys.executable,
        "-c",
        _RUN_CLI,
        "--port",
        "0",
        "--kubeconfig-out",
        str(kubeconfig),
        "--speed",
        "20",
    ]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    ) as proc:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(6)]
        url = banner[0].strip().rsplit(" ", 1)[-1]
        config = yaml.safe_load(kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        request = urllib.request.Request(
            f"{url}/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            names = [ns["metadata"]["name"] for ns in json.loads(resp.read())["items"]]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert url.startswith("http://127.0.0.1:")
    assert config["current-context"] == "krayne-sandbox"
    assert config["clusters"][0]["cluster"]["server"] == url
    assert f"export KUBECONFIG={kubeconfig}\n" in banner[3]
    assert "kubectl get rayclusters" in banner[4]
    assert names == ["default", "kube-system"]
    assert out.strip().endswith("Sandbox stopped.")
