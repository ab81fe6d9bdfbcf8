"""What `/krayne scale` writes into a RayCluster: pure, so every rule is tested without a server.

KubeRay's target for a group is ``clamp(replicas, minReplicas, maxReplicas)`` (OPERATOR.md §5).
Without the in-tree autoscaler ``replicas`` is the truth, so scale sets it and widens min/max only
when the new count falls outside them. With the autoscaler the operator never deletes surplus pods
and the Ray autoscaler keeps at least ``minReplicas`` and at most ``maxReplicas`` workers, so a
lasting `--workers N` sets ``minReplicas = N`` (the workers stay up instead of idling out) and
raises ``maxReplicas`` to N if needed; scaling down lowers the floor and the autoscaler removes the
idle surplus. Explicit ``--min``/``--max`` always win; a stored bound that contradicts one
follows it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from core.config import MAX_REPLICAS
from core.errors import ConfigValidationError, echo

INT32_MAX = 2_147_483_647  # CRD default of maxReplicas


@dataclass(frozen=True, slots=True)
class GroupScale:
    """One worker group's scale numbers (before or after)."""

    replicas: int
    min_replicas: int
    max_replicas: int


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def group_names(raycluster: dict[str, Any]) -> list[str]:
    groups = (raycluster.get("spec") or {}).get("workerGroupSpecs") or []
    return [str(g.get("groupName", "")) for g in groups if isinstance(g, dict)]


def autoscaling_enabled(raycluster: dict[str, Any]) -> bool:
    return bool((raycluster.get("spec") or {}).get("enableInTreeAutoscaling"))


def pick_group(raycluster: dict[str, Any], group: str | None) -> int:
    """Index of ``group`` in ``workerGroupSpecs``; ``None`` means the only group there is."""
    name = (raycluster.get("metadata") or {}).get("name", "?")
    names = group_names(raycluster)
    if not names:
        raise ConfigValidationError([f"cluster `{name}` has no worker groups to scale"])
    listed = ", ".join(f"`{n}`" for n in names)
    if group is None:
        if len(names) == 1:
            return 0
        raise ConfigValidationError(
            [f"cluster `{name}` has several worker groups ({listed}): say which one with --group"]
        )
    if group not in names:
        raise ConfigValidationError(
            [f"group: cluster `{name}` has no worker group `{echo(group)}`;"
             f" its groups are {listed}"]  # fmt: skip
        )
    return names.index(group)


def current_scale(group_spec: dict[str, Any]) -> GroupScale:
    """The numbers as KubeRay reads them, CRD defaults applied."""
    return GroupScale(
        replicas=_int(group_spec.get("replicas"), 0),
        min_replicas=_int(group_spec.get("minReplicas"), 0),
        max_replicas=_int(group_spec.get("maxReplicas"), INT32_MAX),
    )


def _check_inputs(replicas: int | None, low: int | None, high: int | None) -> None:
    problems: list[str] = []
    for label, value in (("workers", replicas), ("min workers", low), ("max workers", high)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{label}: must be a whole number, got {value!r}")
        elif not 0 <= value <= MAX_REPLICAS:
            problems.append(f"{label}: must be between 0 and {MAX_REPLICAS}, got {value}")
    if problems:
        raise ConfigValidationError(problems)
    if replicas is None and low is None and high is None:
        raise ConfigValidationError(["nothing to change: give --workers N, --min N or --max N"])
    if low is not None and high is not None and low > high:
        problems.append(f"min workers ({low}) cannot be more than max workers ({high})")
    if replicas is not None and low is not None and replicas < low:
        problems.append(f"workers ({replicas}) cannot be fewer than min workers ({low})")
    if replicas is not None and high is not None and replicas > high:
        problems.append(f"workers ({replicas}) cannot be more than max workers ({high})")
    if problems:
        raise ConfigValidationError(problems)


def plan_scale(
    current: GroupScale,
    *,
    autoscaling: bool,
    replicas: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
) -> GroupScale:
    """The group's new numbers; ``ConfigValidationError`` (one line per problem) if impossible."""
    _check_inputs(replicas, min_replicas, max_replicas)
    if replicas is None:
        low = current.min_replicas if min_replicas is None else min_replicas
        high = current.max_replicas if max_replicas is None else max_replicas
        if low > high:  # the bound the user gave wins; the other one follows it
            low, high = (low, low) if min_replicas is not None else (high, high)
        return GroupScale(min(max(current.replicas, low), high), low, high)
    if autoscaling:
        low = replicas if min_replicas is None else min_replicas
    else:
        low = min(current.min_replicas, replicas) if min_replicas is None else min_replicas
    high = max(current.max_replicas, replicas) if max_replicas is None else max_replicas
    return GroupScale(replicas, low, high)


def apply_scale(
    raycluster: dict[str, Any],
    index: int,
    scale: GroupScale,
    *,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A copy of ``raycluster`` with group ``index`` set to ``scale`` (everything else kept),
    and ``annotations`` added in the same write."""
    updated = copy.deepcopy(raycluster)
    if annotations:
        meta = updated.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    spec = updated["spec"]["workerGroupSpecs"][index]
    spec["replicas"] = scale.replicas
    spec["minReplicas"] = scale.min_replicas
    spec["maxReplicas"] = scale.max_replicas
    return updated
