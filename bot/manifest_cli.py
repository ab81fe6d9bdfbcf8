"""`krayne-bot manifest`: print the RayCluster `/krayne create` would submit, create nothing.

    krayne-bot manifest NAME [create flags] [-f cluster.yaml] [-n NAMESPACE]
                             [--ray-version V] [--python-tag T]

The create flags are the Slack grammar's (same parser, same aliases), plus ``-f`` for a cluster
YAML that the flags override. Precedence: flags > file > environment (``KRAYNE_NAMESPACE``,
``KRAYNE_RAY_VERSION``, ``KRAYNE_PYTHON_TAG``) > defaults. Standard output gets the YAML and
nothing else, so it can be piped into ``kubectl apply -f -``; problems go to standard error, one
line each, with exit status 2.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from bot.grammar import ManifestCommand, UsageError, config_for, parse_create_args
from bot.settings import BotSettings
from core.config_yaml import load_yaml_mapping
from core.errors import ConfigValidationError
from manifests.raycluster import build_raycluster

USAGE = (
    "usage: krayne-bot manifest NAME [--workers N] [--gpus N] [--gpu-type T] [--cpus C]"
    " [--memory M] [--head-cpus C] [--head-memory M] [--head-runs-tasks] [--image IMG]"
    " [--min-workers N] [--max-workers N] [--no-autoscaling] [--no-notebook] [--no-code-server]"
    " [--no-ssh] [-f cluster.yaml] [-n NAMESPACE] [--ray-version V] [--python-tag T]"
)
_TAG_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_CLI_ONLY = {"--ray-version": "ray_version", "--python-tag": "python_tag"}


class _Problems(Exception):  # noqa: N818 - internal control flow, never escapes
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (the postStart script) as readable ``|`` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str)


def render_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML in the order it was built (kind and metadata first)."""
    return yaml.dump(manifest, Dumper=_LiteralDumper, sort_keys=False, width=100)


def _take_cli_options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Remove ``--ray-version`` / ``--python-tag`` (not create flags) from the arguments."""
    found: dict[str, str] = {}
    rest: list[str] = []
    words = iter(argv)
    for word in words:
        flag, eq, inline = word.partition("=")
        key = _CLI_ONLY.get(flag)
        if key is None:
            rest.append(word)
            continue
        value = inline if eq else next(words, "")
        if key in found:
            raise _Problems([f"`{flag}` is given twice: give it once."])
        if not _TAG_PART.fullmatch(value):
            example = "2.60.0" if key == "ray_version" else "py312"
            raise _Problems([f"`{flag}` needs a value such as `{flag} {example}`."])
        found[key] = value
    return found, rest


def _manifest(argv: list[str]) -> str:
    cli, rest = _take_cli_options(argv)
    try:
        name, namespace, options = parse_create_args(
            rest, command="manifest", allow_file=True, name_required=False
        )
    except UsageError as err:
        message = err.message.replace("`/krayne help manifest`", "`krayne-bot manifest --help`")
        raise _Problems([message.replace("/krayne manifest", "krayne-bot manifest")]) from None
    base = load_yaml_mapping(options.file) if options.file else {}
    if not name and "name" not in base:
        raise _Problems(["give the cluster a name: `krayne-bot manifest NAME`"])
    try:
        settings = BotSettings.load(cli)
    except ValidationError as err:
        raise _Problems(
            [f"environment: {e['loc'][-1] if e['loc'] else 'settings'}: {e['msg']}"
             for e in err.errors(include_url=False)]
        ) from None  # fmt: skip
    file_namespace = base.get("namespace")
    resolved = namespace or (file_namespace if isinstance(file_namespace, str) else None)
    cmd = ManifestCommand(name, namespace, options)
    config = config_for(cmd, namespace=resolved or settings.namespace, base=base)
    manifest = build_raycluster(config, **settings.manifest_options())
    return render_yaml(manifest)


def run_manifest(argv: list[str], *, stdout: TextIO, stderr: TextIO) -> int:
    """Entry point of `krayne-bot manifest`; returns the exit status (0, or 2 on bad input)."""
    if any(word in ("-h", "--help") for word in argv):
        stdout.write(USAGE + "\n")
        return 0
    try:
        text = _manifest(list(argv))
    except ConfigValidationError as err:
        lines = err.problems
    except _Problems as err:
        lines = err.lines
    else:
        stdout.write(text)
        return 0
    for line in lines:
        stderr.write(f"krayne-bot manifest: {line}\n")
    return 2
