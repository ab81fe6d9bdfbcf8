"""The `/krayne` grammar (DESIGN §7), pure: slash-command text → a ``Command`` or a ``UsageError``.

Slack mangles what people type (em dashes for ``--``, smart quotes, entities, links such as
``<http://docker.io/x|docker.io/x>``): ``normalize_slack_text`` (bot/slack_text.py) undoes that
before the words are split with shlex, so quoted values work. Krayne's own flag names are
accepted as aliases. Sizes are not checked here: ``config_for`` turns the options into
``build_config`` overrides, so flags and YAML meet exactly the same validation.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.create_options import CreateOptions, config_for, create_overrides
from bot.slack_text import normalize_slack_text
from core.config import MAX_REPLICAS, name_problem, namespace_problem
from core.errors import KrayneError, echo
from core.ttl import parse_duration

__all__ = [
    "ALIASES", "HELP_TEXT", "USAGE", "Command", "CreateCommand", "CreateFormCommand",
    "CreateOptions", "DeleteCommand",
    "DescribeCommand", "ExtendCommand", "HelpCommand", "ListCommand", "ManifestCommand",
    "ResumeCommand", "ScaleCommand", "SuspendCommand",
    "UsageError", "config_for", "create_overrides", "normalize_slack_text", "parse_command",
    "parse_create_args",
]  # fmt: skip

USAGE: dict[str, str] = {
    "help": "/krayne help [command]",
    "create": "/krayne create NAME [--workers N] [--gpus N] [--gpu-type T] [--cpus C] [--memory M]"
    " [--head-cpus C] [--head-memory M] [--head-runs-tasks] [--image IMG] [--min-workers N]"
    " [--max-workers N] [--no-autoscaling] [--no-notebook] [--no-code-server] [--no-ssh]"
    " [--ttl 8h] [-n NAMESPACE]",
    "list": "/krayne list [-n NAMESPACE | --all] [--mine]",
    "describe": "/krayne describe NAME [-n NAMESPACE] [--all]   (also: get NAME, status NAME)",
    "scale": "/krayne scale NAME --workers N [--group G] [--min N] [--max N] [-n NAMESPACE]",
    "delete": "/krayne delete NAME [-n NAMESPACE]",
    "suspend": "/krayne suspend NAME [-n NAMESPACE]   (pods stop, the definition stays)",
    "resume": "/krayne resume NAME [-n NAMESPACE]",
    "extend": "/krayne extend NAME [-n NAMESPACE]   (adds the default TTL to its expiry)",
    "manifest": "/krayne manifest NAME [create flags]   (shows the YAML, creates nothing)",
}
ALIASES = {"get": "describe", "status": "describe", "ls": "list", "rm": "delete"}

HELP_TEXT = """\
*krayne* — Ray clusters on Kubernetes, from Slack.
• `/krayne create` — a form; `/krayne create NAME` — a cluster with the defaults
• `/krayne create NAME --gpus 1` — one worker with a GPU, up when the cluster is ready
• `/krayne create NAME --workers 4 --cpus 8 --memory 32Gi --max-workers 10`
• `/krayne create NAME --gpus 2 --gpu-type nvidia-l4 --image rayproject/ray:2.60.0-py312-gpu`
• `/krayne list` (`--mine`, `--all`) · `/krayne describe NAME` · `/krayne delete NAME`
• `/krayne scale NAME --workers 8` — change the number of workers
• `/krayne create NAME --ttl 8h` — expires in 8 hours (`/krayne extend NAME` adds time)
• `/krayne suspend NAME` · `/krayne resume NAME` — stop the pods, keep the cluster
• `/krayne manifest NAME [create flags]` — show the RayCluster YAML without creating anything
Add `-n NAMESPACE` to work in another namespace; `/krayne help COMMAND` lists every flag.\
"""


class UsageError(KrayneError):
    """The text is not a valid `/krayne` command; ``usage`` is the usage line of the command."""

    def __init__(self, message: str, *, usage: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.usage = usage


# ---- commands ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HelpCommand:
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class CreateCommand:
    name: str
    namespace: str | None = None
    options: CreateOptions = field(default_factory=CreateOptions)


@dataclass(frozen=True, slots=True)
class ManifestCommand:
    name: str
    namespace: str | None = None
    options: CreateOptions = field(default_factory=CreateOptions)


@dataclass(frozen=True, slots=True)
class ListCommand:
    namespace: str | None = None
    all_namespaces: bool = False
    mine: bool = False


@dataclass(frozen=True, slots=True)
class DescribeCommand:
    name: str
    namespace: str | None = None
    include_unmanaged: bool = False  # `--all`: also a RayCluster krayne did not make


@dataclass(frozen=True, slots=True)
class ScaleCommand:
    name: str
    workers: int
    group: str | None = None
    min_workers: int | None = None
    max_workers: int | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class OneCluster:
    """A command about one cluster, named, in a namespace (default: the channel's)."""

    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteCommand(OneCluster):
    pass


@dataclass(frozen=True, slots=True)
class SuspendCommand(OneCluster):
    pass


@dataclass(frozen=True, slots=True)
class ResumeCommand(OneCluster):
    pass


@dataclass(frozen=True, slots=True)
class ExtendCommand(OneCluster):
    pass


@dataclass(frozen=True, slots=True)
class CreateFormCommand:
    """`/krayne create` alone: open the create form."""


Command = (
    HelpCommand | CreateCommand | ManifestCommand | ListCommand | DescribeCommand | ScaleCommand
    | DeleteCommand | SuspendCommand | ResumeCommand | ExtendCommand | CreateFormCommand
)  # fmt: skip
_BY_NAME: dict[str, type[SuspendCommand | ResumeCommand | ExtendCommand]] = {
    "suspend": SuspendCommand,
    "resume": ResumeCommand,
    "extend": ExtendCommand,
}


# ---- Slack text → words ------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    try:
        words = shlex.split(normalize_slack_text(text))
    except ValueError:
        raise UsageError(
            'A quote is not closed: put a matching `"` at the end of the value.',
            usage=USAGE["help"],
        ) from None
    if words and words[0].lower() in ("/krayne", "krayne"):
        words = words[1:]
    return words


# ---- flags -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Flag:
    key: str  # the option it sets
    kind: str  # "int", "text", "namespace", or "bool" (present → ``value``)
    example: str = ""
    value: bool = True


def _flags(key: str, kind: str, sample: str, *names: str, value: bool = True) -> dict[str, _Flag]:
    """One option under several names (ours first, then Krayne's or kubectl's)."""
    return {n: _Flag(key, kind, f"{n} {sample}".strip(), value) for n in names}


_NAME_FLAGS = _flags("namespace", "namespace", "ml-team", "-n", "--namespace")
_CREATE_FLAGS: dict[str, _Flag] = {
    **_flags("workers", "int", "2", "--workers"),
    **_flags("gpus", "int", "1", "--gpus", "--gpus-per-worker"),
    **_flags("gpu_type", "text", "nvidia-l4", "--gpu-type"),
    **_flags("cpus", "text", "4", "--cpus", "--cpus-per-worker"),
    **_flags("memory", "text", "16Gi", "--memory", "--memory-per-worker"),
    **_flags("head_cpus", "text", "2", "--head-cpus", "--cpus-in-head"),
    **_flags("head_memory", "text", "8Gi", "--head-memory", "--memory-in-head"),
    **_flags("head_runs_tasks", "bool", "", "--head-runs-tasks"),
    **_flags("image", "text", "rayproject/ray:2.60.0-py312", "--image"),
    **_flags("min_workers", "int", "0", "--min-workers"),
    **_flags("max_workers", "int", "4", "--max-workers"),
    **_flags("autoscaling", "bool", "", "--no-autoscaling", value=False),
    **_flags("notebook", "bool", "", "--no-notebook", value=False),
    **_flags("code_server", "bool", "", "--no-code-server", value=False),
    **_flags("ssh", "bool", "", "--no-ssh", value=False),
    **_flags("ttl", "text", "8h", "--ttl"),
    **_NAME_FLAGS,
}
_FILE_FLAGS = _flags("file", "text", "cluster.yaml", "-f", "--file")
_LIST_FLAGS = {
    **_NAME_FLAGS,
    **_flags("all_namespaces", "bool", "", "--all", "-A", "--all-namespaces"),
    **_flags("mine", "bool", "", "--mine"),
}
_DESCRIBE_FLAGS = {**_NAME_FLAGS, **_flags("include_unmanaged", "bool", "", "--all")}
_SCALE_FLAGS = {
    **_flags("workers", "int", "4", "--workers", "--replicas", "-r"),
    **_flags("group", "text", "gpu", "--group", "--worker-group", "-g"),
    **_flags("min_workers", "int", "1", "--min", "--min-workers", "--min-replicas"),
    **_flags("max_workers", "int", "8", "--max", "--max-workers", "--max-replicas"),
    **_NAME_FLAGS,
}
_INT = re.compile(r"[+-]?[0-9]+")
MAX_COMMAND_CHARS = 2_000
"""The longest text after `/krayne` that is parsed: every flag with a long value fits in 600."""
MAX_DIGITS = 12
"""Longer numbers are refused before ``int()`` (which gives up past 4,300 digits)."""


def _parse(
    words: list[str], flags: Mapping[str, _Flag], command: str
) -> tuple[list[str], dict[str, Any]]:
    """Split words into positionals and option values (``--flag v`` or ``--flag=v``)."""
    usage = USAGE.get(command, USAGE["help"])
    positionals: list[str] = []
    values: dict[str, Any] = {}
    given: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or len(word) == 1 or _INT.fullmatch(word):
            if word:  # an empty quoted word ("" or '') says nothing
                positionals.append(word)
            continue
        name, eq, inline = word.partition("=")
        spec = flags.get(name)
        if spec is None:
            raise UsageError(_unknown_flag(name, flags, command), usage=usage)
        if spec.key in given:
            raise UsageError(f"`{echo(name)}` is given twice: give it once.", usage=usage)
        given[spec.key] = name
        if spec.kind == "bool":
            if eq:
                shown = echo(name)
                raise UsageError(f"`{shown}` takes no value: write just `{shown}`.", usage=usage)
            values[spec.key] = spec.value
            continue
        if eq:
            value = inline
        elif index < len(words) and not (
            words[index] in flags or (words[index].startswith("--") and len(words[index]) > 2)
        ):
            value = words[index]
            index += 1
        else:
            raise UsageError(f"`{name}` needs a value, e.g. `{spec.example}`.", usage=usage)
        values[spec.key] = _value(name, spec, value, usage)
    return positionals, values


def _value(name: str, spec: _Flag, value: str, usage: str) -> Any:
    if spec.kind == "int":
        if not _INT.fullmatch(value.strip()):
            raise UsageError(
                f"`{name}` needs a whole number, e.g. `{spec.example}` (got `{echo(value)}`).",
                usage=usage,
            )
        if len(value.strip().lstrip("+-")) > MAX_DIGITS:
            raise UsageError(f"`{name}` is far too large (got `{echo(value.strip())}`).",
                             usage=usage)  # fmt: skip
        return int(value)
    if spec.kind == "namespace":
        problem = namespace_problem(value)
        if problem:
            raise UsageError(problem, usage=usage)
    if not value.strip():
        raise UsageError(f"`{name}` needs a value, e.g. `{spec.example}`.", usage=usage)
    return value.strip()


def _unknown_flag(name: str, flags: Mapping[str, _Flag], command: str) -> str:
    close = difflib.get_close_matches(name[:64], list(flags), n=1, cutoff=0.6)
    if close:
        return f"`/krayne {command}` has no option `{echo(name)}`: did you mean `{close[0]}`?"
    return f"`/krayne {command}` has no option `{echo(name)}`: see `/krayne help {command}`."


def _one_name(positionals: list[str], command: str, example: str) -> str:
    usage = USAGE[command]
    if not positionals:
        raise UsageError(
            f"`/krayne {command}` needs a cluster name, e.g. `/krayne {command} {example}`.",
            usage=usage,
        )
    if len(positionals) > 1:
        extra = echo(" ".join(positionals[1:]))
        raise UsageError(
            f"Unexpected `{extra}` after the cluster name: options start with `--`.", usage=usage
        )
    return positionals[0]


def _checked_name(name: str, command: str) -> str:
    problem = name_problem(name)
    if problem:
        raise UsageError(problem, usage=USAGE[command])
    return name


# ---- commands ----------------------------------------------------------------------------------
def parse_command(text: str) -> Command:
    """Parse the text after `/krayne`. Raises ``UsageError`` saying what to type instead."""
    if len(text) > MAX_COMMAND_CHARS:  # shlex takes ~2 ms per 1,000 characters, on the loop
        raise UsageError(
            f"That command is {len(text):,} characters long (`{echo(text)}`): a `/krayne`"
            f" command has at most {MAX_COMMAND_CHARS:,}.",
            usage=USAGE["help"],
        )
    words = _words(text)
    if not words:
        return HelpCommand(None)
    verb = words[0].lower()
    command = ALIASES.get(verb, verb)
    if command in USAGE and ("-h" in words[1:] or "--help" in words[1:]):
        return HelpCommand(command)
    return _command(command, words[1:])


def _command(command: str, rest: list[str]) -> Command:
    if command in ("help", "-h", "--help"):
        return _help(rest)
    if command == "create" and not rest:
        return CreateFormCommand()
    if command in ("create", "manifest"):
        name, namespace, options = parse_create_args(rest, command=command)
        cls = CreateCommand if command == "create" else ManifestCommand
        return cls(name, namespace, options)
    if command == "list":
        positionals, values = _parse(rest, _LIST_FLAGS, command)
        if positionals:
            raise UsageError(
                f"`/krayne list` takes no name (got `{echo(positionals[0])}`): "
                f"use `/krayne describe {echo(positionals[0])}` to see one cluster.",
                usage=USAGE["list"],
            )
        if values.get("namespace") and values.get("all_namespaces"):
            raise UsageError("Use either `-n NAMESPACE` or `--all`, not both.", usage=USAGE["list"])
        return ListCommand(values.get("namespace"), values.get("all_namespaces", False),
                           values.get("mine", False))  # fmt: skip
    if command in ("describe", "delete"):
        flags = _DESCRIBE_FLAGS if command == "describe" else _NAME_FLAGS
        positionals, values = _parse(rest, flags, command)
        name = _checked_name(_one_name(positionals, command, "my-cluster"), command)
        if command == "describe":
            return DescribeCommand(name, values.get("namespace"),
                                   values.get("include_unmanaged", False))  # fmt: skip
        return DeleteCommand(name, values.get("namespace"))
    if command == "scale":
        return _scale(rest)
    if command in _BY_NAME:
        positionals, values = _parse(rest, _NAME_FLAGS, command)
        name = _checked_name(_one_name(positionals, command, "my-cluster"), command)
        return _BY_NAME[command](name, values.get("namespace"))
    raise UsageError(_unknown_command(command), usage=USAGE["help"])


def _help(rest: list[str]) -> HelpCommand:
    if not rest:
        return HelpCommand(None)
    topic = ALIASES.get(rest[0].lower(), rest[0].lower())
    if topic not in USAGE:
        raise UsageError(_unknown_command(topic), usage=USAGE["help"])
    return HelpCommand(topic)


def _unknown_command(command: str) -> str:
    known = [c for c in USAGE if c != "help"]
    close = difflib.get_close_matches(command[:64], [*known, *ALIASES], n=1, cutoff=0.6)
    hint = f" Did you mean `{ALIASES.get(close[0], close[0])}`?" if close else ""
    listed = ", ".join(f"`{c}`" for c in [*known, "help"])
    return f"Unknown command `{echo(command)}`.{hint} Commands: {listed}."


def parse_create_args(
    words: list[str], *, command: str = "create", allow_file: bool = False,
    name_required: bool = True,
) -> tuple[str, str | None, CreateOptions]:  # fmt: skip
    """(name, namespace, options) from create flags; ``krayne-bot manifest`` allows ``-f`` and,
    with ``name_required=False``, no name (``""``: the file names the cluster)."""
    flags = {**_CREATE_FLAGS, **(_FILE_FLAGS if allow_file else {})}
    try:
        positionals, values = _parse(words, flags, command)
    except UsageError as err:
        if not allow_file and any(w in ("-f", "--file") or w.startswith("--file=") for w in words):
            raise UsageError(
                "`-f` works only with `krayne-bot manifest` on the command line: in Slack, pass"
                " the settings as flags.",
                usage=USAGE[command],
            ) from err
        raise
    name = ""
    if positionals or name_required:
        name = _one_name(positionals, command, "my-cluster --gpus 1")
    namespace = values.pop("namespace", None)
    if values.get("ttl") is not None:
        try:
            parse_duration(values["ttl"])
        except ValueError as err:
            raise UsageError(f"`--ttl`: {err}.", usage=USAGE[command]) from None
    return name, namespace, CreateOptions(**values)


def _scale(rest: list[str]) -> ScaleCommand:
    usage = USAGE["scale"]
    positionals, values = _parse(rest, _SCALE_FLAGS, "scale")
    name = _checked_name(_one_name(positionals, "scale", "my-cluster --workers 4"), "scale")
    workers = values.get("workers")
    if workers is None:
        raise UsageError(
            f"`/krayne scale` needs a number of workers, e.g. `/krayne scale {name} --workers 4`.",
            usage=usage,
        )
    low, high = values.get("min_workers"), values.get("max_workers")
    for flag, number in (("--workers", workers), ("--min", low), ("--max", high)):
        if number is not None and not 0 <= number <= MAX_REPLICAS:
            raise UsageError(
                f"`{flag}` must be between 0 and {MAX_REPLICAS}, got {number}.", usage=usage
            )
    if low is not None and low > workers:
        raise UsageError(f"`--min` ({low}) is more than `--workers` ({workers}).", usage=usage)
    if high is not None and high < workers:
        raise UsageError(f"`--max` ({high}) is less than `--workers` ({workers}).", usage=usage)
    return ScaleCommand(name, workers, values.get("group"), low, high, values.get("namespace"))
