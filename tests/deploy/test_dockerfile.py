"""The image matches the Deployment that runs it: user, port, command, and nothing extra inside.

No container engine runs here, so the Dockerfile is checked as text against deploy/ and
pyproject.toml; .ci/wheel-smoke.sh runs its install steps for real.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib
from dataclasses import dataclass, field
from typing import Any

from tests.deploy.deployfiles import DEPLOY, ROOT, render


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def _stages() -> list[Stage]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arg.split()
            stages.append(Stage(words[0], words[2] if len(words) > 2 else None))
        elif stages:
            stages[-1].instructions.append((keyword, arg.strip()))
    return stages


def _exec_form(arg: str) -> list[str]:
    value = json.loads(arg)
    assert isinstance(value, list), f"use the exec form (JSON list): {arg}"
    return [str(v) for v in value]


def _container() -> dict[str, Any]:
    (deployment,) = [o for o in render(DEPLOY) if o["kind"] == "Deployment"]
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_image_is_built_in_one_stage_and_run_from_a_clean_one() -> None:
    build, final = _stages()
    assert build.name is not None and final.name is None
    assert build.base == final.base == "${PYTHON_IMAGE}", "both stages on the same slim Python"
    (copy,) = final.all("COPY")
    assert copy.startswith(f"--from={build.name} "), "the final stage copies only the venv"
    for run in final.all("RUN"):
        for tool in ("pip", "apt-get", "gcc", "build-essential", "apk"):
            assert tool not in shlex.split(run), f"build tool in the final stage: {run}"


def test_base_image_is_a_slim_python_the_package_supports() -> None:
    (default,) = [
        line.split("=", 1)[1] for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("ARG PYTHON_IMAGE=")
    ]
    assert default.startswith("python:") and "-slim" in default
    version = default.removeprefix("python:").split("-")[0]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))


def test_dependencies_come_from_the_package_metadata() -> None:
    build, _ = _stages()
    runs = " ".join(build.all("RUN"))
    assert "pip wheel" in runs and "--no-deps" in runs, "the wheel is built from pyproject.toml"
    assert "requirements" not in runs, "no second list of dependencies to drift"
    assert any(c.startswith("pyproject.toml") for c in build.all("COPY"))


def test_image_runs_as_the_non_root_user_the_deployment_expects() -> None:
    _, final = _stages()
    (user,) = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so the kubelet can verify runAsNonRoot"
    pod = _container()
    assert int(uid) == pod["securityContext"]["runAsUser"]
    assert int(gid) == pod["securityContext"]["runAsGroup"]


def test_default_command_is_krayne_bot_serve_on_the_deployments_port() -> None:
    _, final = _stages()
    (entrypoint,) = final.all("ENTRYPOINT")
    (cmd,) = final.all("CMD")
    assert _exec_form(entrypoint) == ["krayne-bot"]
    assert _exec_form(cmd)[0] == "serve"
    (container,) = _container()["containers"]
    (port,) = container["ports"]
    assert final.all("EXPOSE") == [str(port["containerPort"])]
    assert container["args"][0] == "serve"
    assert container["args"][container["args"].index("--port") + 1] == str(port["containerPort"])


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    rules = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "ignore everything, then allow what the build needs"

    def sent(path: str) -> bool:
        keep = True
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                keep = negate
        return keep

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for needed in ["pyproject.toml", project["project"]["readme"],
                   *(f"{p}/__init__.py" for p in packages)]:
        assert sent(needed), f"{needed} is not sent to the build"
    for secret_or_noise in (".venv/bin/python", ".git/config", "tests/conftest.py",
                            "deploy/secret.example.yaml", "core/__pycache__/x.pyc"):
        assert not sent(secret_or_noise), f"{secret_or_noise} is sent to the build"


def test_ci_smoke_test_builds_from_exactly_what_the_image_copies() -> None:
    build, _ = _stages()
    copied = {src for arg in build.all("COPY") for src in shlex.split(arg)[:-1]}
    script = (ROOT / ".ci" / "wheel-smoke.sh").read_text()
    (line,) = [ln for ln in script.splitlines() if ln.startswith("cp -R ")]
    assert set(shlex.split(line)[2:-1]) == copied
