#!/usr/bin/env bash
# The container image's install steps without a container engine (see Dockerfile, stage 1):
# build the wheel from the package metadata, install it into a fresh virtual environment, and
# run the console script from outside the source tree, so only what the wheel ships is importable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Build from exactly what the Dockerfile copies into its build stage, in a clean directory: the
# wheel cannot pick up files the image would lack, nor stale modules from an old build/ here.
mkdir "$work/src"
cp -R pyproject.toml README.md bot core manifests "$work/src/"
find "$work/src" -name __pycache__ -type d -prune -exec rm -rf {} +
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheels" "$work/src"
wheels=("$work"/wheels/krayne_bot-*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
    echo "wheel-smoke: expected exactly one krayne_bot wheel, found: ${wheels[*]}" >&2
    exit 1
fi

"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "${wheels[0]}"

src="$PWD"
cd "$work"
"$work/venv/bin/krayne-bot" --help >/dev/null
# Whatever package data the source tree has (the sandbox's RayCluster CRD copy) must be in the
# wheel too, and the code must come from the installed wheel, not from a checkout on sys.path.
"$work/venv/bin/python" - "$src" <<'PY'
import importlib.util
import pathlib
import sys

source = pathlib.Path(sys.argv[1])
spec = importlib.util.find_spec("core")
assert spec is not None and spec.origin is not None
installed = pathlib.Path(spec.origin).parent.parent
if "site-packages" not in str(installed):
    sys.exit(f"wheel-smoke: core imported from {installed}, not from the installed wheel")
wanted = sorted(
    p.relative_to(source)
    for package in ("bot", "core", "manifests")
    for pattern in ("**/data/*.yaml", "**/data/*.md")
    for p in (source / package).glob(pattern)
)
missing = [str(p) for p in wanted if not (installed / p).is_file()]
if missing:
    sys.exit("wheel-smoke: package data missing from the wheel: " + ", ".join(missing))
print(f"wheel-smoke: ok, `krayne-bot --help` ran from a fresh venv; {len(wanted)} data file(s)")
PY
