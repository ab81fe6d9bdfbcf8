"""The layering rules of DESIGN §1 and the house lint rules hold for the whole tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def test_import_layers_bot_core_manifests_hold() -> None:
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_ruff_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "bot", "core", "manifests", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_product_and_fakes_are_mypy_strict_clean() -> None:
    result = subprocess.run(
        [_tool("mypy"), "--strict", "bot", "core", "manifests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_help_lists_every_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for command in ("serve", "shell", "sandbox", "manifest"):
        assert command in result.stdout


def _readme_map() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Architecture") :]
    return section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]


def test_the_readme_map_names_every_package_and_only_what_exists() -> None:
    tree = _readme_map()
    packages = sorted(
        str(init.parent.relative_to(ROOT))
        for top in ("bot", "core", "manifests")
        for init in (ROOT / top).rglob("__init__.py")
    )
    lines = tree.splitlines()
    for package in packages:
        leaf = package.rsplit("/", 1)[-1] + "/"
        assert any(line.strip().startswith(leaf) for line in lines), f"{package} not in the map"
    for word in tree.split():
        name = word.rstrip(",:")
        if name.endswith(".py") and "*" not in name:
            matches = list(ROOT.glob(f"*/**/{name}")) + list(ROOT.glob(f"*/{name}"))
            assert matches, f"the README map names {name}, which does not exist"
