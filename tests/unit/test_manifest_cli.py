"""`krayne-bot manifest`: YAML on stdout and nothing else, or one line per problem and exit 2."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.manifest_cli import run_manifest
from core.config import build_config
from core.sandbox.apiserver.schema import validate_raycluster
from manifests.raycluster import build_raycluster


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_manifest(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KRAYNE_NAMESPACE", "KRAYNE_RAY_VERSION", "KRAYNE_PYTHON_TAG"):
        monkeypatch.delenv(name, raising=False)


def test_prints_the_manifest_create_would_submit() -> None:
    code, out, err = _run("demo", "--gpus", "1")
    assert (code, err) == (0, "")
    manifest = yaml.safe_load(out)
    one_gpu = {"gpus": 1, "replicas": 1, "min_replicas": 1}
    expected = build_config({"name": "demo", "worker_groups": [one_gpu]})
    assert manifest == build_raycluster(expected)
    assert validate_raycluster(manifest) == []
    assert out.startswith("apiVersion: ray.io/v1\nkind: RayCluster\n")


def test_script_is_a_readable_block() -> None:
    _, out, _ = _run("demo")
    assert "- |\n" in out


def test_file_with_flags_on_top_and_namespace_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "name: team\nnamespace: from-file\nworker_groups:\n- name: cpu\n  replicas: 2\n"
    )
    monkeypatch.setenv("KRAYNE_NAMESPACE", "from-env")
    _, out, _ = _run("-f", str(path), "--cpus", "4")
    manifest = yaml.safe_load(out)
    assert manifest["metadata"]["name"] == "team"
    assert manifest["metadata"]["namespace"] == "from-file"
    group = manifest["spec"]["workerGroupSpecs"][0]
    assert (group["groupName"], group["replicas"]) == ("cpu", 2)
    assert group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "4"
    _, out, _ = _run("other", "--file", str(path), "-n", "from-flag")
    metadata = yaml.safe_load(out)["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("other", "from-flag")
    _, out, _ = _run("plain")
    assert yaml.safe_load(out)["metadata"]["namespace"] == "from-env"


def test_ray_version_and_python_tag_from_flags_beat_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRAYNE_RAY_VERSION", "2.40.0")
    _, out, _ = _run("demo", "--gpus", "1")
    spec = yaml.safe_load(out)["spec"]
    assert spec["rayVersion"] == "2.40.0"
    _, out, _ = _run("demo", "--gpus", "1", "--ray-version=2.47.1", "--python-tag", "py312")
    spec = yaml.safe_load(out)["spec"]
    assert spec["rayVersion"] == "2.47.1"
    worker = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert worker["image"] == "rayproject/ray:2.47.1-py312-gpu"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["Bad_Name!"], ["name 'Bad_Name!' is not valid"]),
        (["demo", "--gpus", "1e9"], ["`--gpus` needs a whole number"]),
        (["demo", "--cpus", "lots", "--memory", "4Zi"], ["cpus 'lots'", "memory '4Zi'"]),
        (["demo", "--turbo"], ["has no option `--turbo`: see `krayne-bot manifest --help`"]),
        ([], ["give the cluster a name"]),
        (["demo", "-f", "/nonexistent/cluster.yaml"], ["was not found"]),
        (["demo", "--ray-version"], ["`--ray-version` needs a value"]),
        (["demo", "--ray-version", "2.5", "--ray-version", "2.6"], ["given twice"]),
    ],
)
def test_problems_go_to_stderr_one_line_each(argv: list[str], expected: list[str]) -> None:
    code, out, err = _run(*argv)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == len(expected)
    for line, fragment in zip(lines, expected, strict=True):
        assert line.startswith("krayne-bot manifest: ") and fragment in line


def test_unknown_yaml_key_in_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: a\nautoscaler:\n  idle: 5\n")
    code, _, err = _run("-f", str(path))
    assert code == 2 and err == "krayne-bot manifest: autoscaler: unknown key 'idle' " + (
        "(known keys: enabled, idle_timeout_seconds, upscaling_mode, cpu, memory)\n"
    )


def test_help() -> None:
    code, out, _ = _run("--help")
    assert code == 0 and out.startswith("usage: krayne-bot manifest NAME")


def test_console_script_pipes_clean_yaml() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "demo", "--no-ssh"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert validate_raycluster(yaml.safe_load(result.stdout)) == []
