"""Create flags → a validated ClusterConfig: the options the grammar parsed become dot-notation
``build_config`` overrides on top of an optional YAML mapping, so flags and files share one
validation (and one wording of every problem).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.config import ClusterConfig, build_config
from core.errors import ConfigValidationError

if TYPE_CHECKING:
    from bot.grammar import CreateCommand, ManifestCommand


@dataclass(frozen=True, slots=True)
class CreateOptions:
    """Create flags as typed; ``None`` means not given (the config default or the file wins)."""

    workers: int | None = None
    gpus: int | None = None
    gpu_type: str | None = None
    cpus: str | None = None
    memory: str | None = None
    head_cpus: str | None = None
    head_memory: str | None = None
    head_runs_tasks: bool = False
    image: str | None = None
    min_workers: int | None = None
    max_workers: int | None = None
    autoscaling: bool = True
    notebook: bool = True
    code_server: bool = True
    ssh: bool = True
    file: str | None = None  # only `krayne-bot manifest -f`
    ttl: str | None = None  # not part of the cluster: an expiry annotation (core.ttl)


def create_overrides(
    options: CreateOptions, *, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Dot-notation overrides for ``build_config``. Group flags apply to the first worker group;
    ``--image`` to the head and every group. ``--gpus N`` without ``--workers`` asks for one
    worker that stays up (replicas 1, min 1) unless the file or ``--min-workers`` says otherwise."""
    groups = (base or {}).get("worker_groups")
    first = (
        groups[0] if isinstance(groups, list) and groups and isinstance(groups[0], Mapping) else {}
    )
    count = len(groups) if isinstance(groups, list) and groups else 1
    o = options
    replicas, low = o.workers, o.min_workers
    if o.gpus and o.workers is None and "replicas" not in first:
        replicas = 1
        if low is None and "min_replicas" not in first:
            low = 1
    overrides: dict[str, Any] = {
        "head.cpus": o.head_cpus,
        "head.memory": o.head_memory,
        "head.runs_tasks": True if o.head_runs_tasks else None,
        "head.image": o.image,
        "worker_groups.0.replicas": replicas,
        "worker_groups.0.min_replicas": low,
        "worker_groups.0.max_replicas": o.max_workers,
        "worker_groups.0.gpus": o.gpus,
        "worker_groups.0.gpu_type": o.gpu_type,
        "worker_groups.0.cpus": o.cpus,
        "worker_groups.0.memory": o.memory,
        "autoscaler.enabled": None if o.autoscaling else False,
        "services.notebook": None if o.notebook else False,
        "services.code_server": None if o.code_server else False,
        "services.ssh": None if o.ssh else False,
    }
    for index in range(count):
        overrides[f"worker_groups.{index}.image"] = o.image
    return {k: v for k, v in overrides.items() if v is not None}


def config_for(
    cmd: CreateCommand | ManifestCommand, *, namespace: str, base: Mapping[str, Any] | None = None
) -> ClusterConfig:
    """The validated ClusterConfig for a create/manifest command (``base``: a YAML mapping that
    the flags override). Raises ``ConfigValidationError`` with one line per problem."""
    overrides = create_overrides(cmd.options, base=base)
    overrides["namespace"] = namespace
    if cmd.name:  # "" lets the YAML file name the cluster (`krayne-bot manifest -f`)
        overrides["name"] = cmd.name
    try:
        return build_config(dict(base or {}), overrides)
    except ConfigValidationError as err:
        raise ConfigValidationError(_one_line_per_flag(err.problems), hint=err.hint) from None


def _one_line_per_flag(problems: list[str]) -> list[str]:
    """``--image`` sets the head and every group: its problem is said once, not per group."""
    kept: list[str] = []
    seen: set[str] = set()
    for line in problems:
        _, _, rest = line.partition(": ")
        if rest.startswith("image ") and rest in seen:
            continue
        seen.add(rest)
        kept.append(rest if rest.startswith("image ") else line)
    return kept
