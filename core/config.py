"""Cluster configuration: the Krayne model, validated strictly, loaded in layers.

Precedence is flags > YAML > defaults: ``build_config`` takes the YAML mapping and applies
dot-notation overrides (``head.cpus``, ``worker_groups.0.gpus``) on top before validating once, so a
value from a flag and the same value from a file meet exactly the same checks. Every model forbids
unknown keys (Krayne silently dropped typos in nested models). Problems surface as one
``ConfigValidationError`` with one line per problem, in the user's terms, never pydantic's text.

``manifests`` may import this module and nothing else of ``core``, which is why it re-exports the
Kubernetes quantity parser (``core.quantity``, a leaf shared with ``core.status_reasons``).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from core.config_yaml import load_yaml_mapping
from core.errors import ConfigValidationError, echo
from core.quantity import parse_quantity as parse_quantity  # re-exported for manifests

# ---- limits, and why ---------------------------------------------------------------------------
MAX_CLUSTER_NAME = 53  # KubeRay's ValidateRayClusterMetadata: DNS-1035 label of at most 53 chars
# Worker pods are named `<cluster>-<group>-worker-xxxxx` with the prefix cut at 50 characters
# (KubeRay utils.PodName). A short group name keeps the group visible in pod names for ordinary
# cluster names; the group is also a label value (`ray.io/group`) and a Ray node type.
MAX_GROUP_NAME = 15
MAX_NAMESPACE = 63  # DNS-1123 label
# Catches typos like 1e9; whether 64 GPUs fit is the scheduler's call, and it says why.
MAX_GPUS = 128
MAX_REPLICAS = 1000
MAX_IDLE_TIMEOUT = 7 * 24 * 3600
MAX_CPUS = Decimal(4096)
MAX_MEMORY = Decimal(2**50)  # 1Pi
MIN_CPUS = Decimal("0.001")  # Kubernetes resolves CPU to millicores
MIN_MEMORY = Decimal(2**20)  # below 1Mi the unit was forgotten (`--memory 4` is 4 bytes)

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
# distribution/reference, simplified: [registry[:port]/]path[:tag][@digest]
_IMAGE = re.compile(
    r"(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)


# ---- field validators (each raises one user-facing sentence) ---------------------------------
def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("krayne", "{problem}", {"problem": message})


def _shown(value: Any) -> str:
    """User input in a problem line: clipped, control characters escaped (``core.errors.echo``)."""
    return echo(value)


def _quantity(
    field: str, low: Decimal, high: Decimal, examples: str, tiny_hint: str
) -> BeforeValidator:
    def check(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _problem(f"{field} must be a quantity such as {examples}, got {_shown(value)}")
        if isinstance(value, int) and value.bit_length() > 256:  # str() gives up past 4,300 digits
            raise _problem(f"{field} {_shown(value)} is more than any node has")
        text = (repr(value) if isinstance(value, float) else str(value)).strip()
        try:
            amount = parse_quantity(text)
        except ValueError:
            raise _problem(
                f"{field} '{echo(text)}' is not a valid Kubernetes quantity: use a number with an"
                f" optional unit, such as {examples}"
            ) from None
        if amount <= 0:
            raise _problem(f"{field} must be more than zero, got {echo(text)}")
        if amount < low:
            raise _problem(f"{field} {echo(text)} is too small: {tiny_hint}")
        if amount > high:
            raise _problem(f"{field} {echo(text)} is more than any node has")
        return text

    return BeforeValidator(check)


def _whole(field: str, high: int) -> BeforeValidator:
    def check(value: Any) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,18}\s*", value):
            number = int(value)
        if number is None or not 0 <= number <= high:
            raise _problem(
                f"{field} must be a whole number between 0 and {high}, got {_shown(value)}"
            )
        return number

    return BeforeValidator(check)


def _boolean(field: str) -> BeforeValidator:
    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        raise _problem(f"{field} must be true or false, got {_shown(value)}")

    return BeforeValidator(check)


def _optional_text(field: str, pattern: re.Pattern[str], rule: str, limit: int) -> BeforeValidator:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > limit or not pattern.fullmatch(value):
            raise _problem(f"{field} '{_shown(value)}' is not valid: {rule}")
        return value

    return BeforeValidator(check)


def _name(
    field: str, pattern: re.Pattern[str], limit: int, first: str, example: str
) -> BeforeValidator:
    def check(value: Any) -> str:
        if value is None or value == "":
            raise _problem(f"{field} is empty: give one, e.g. `{example}`")
        if not isinstance(value, str) or len(value) > limit or not pattern.fullmatch(value):
            raise _problem(
                f"{field} '{_shown(value)}' is not valid: use lowercase letters, digits and '-',"
                f" starting with {first} (at most {limit} characters)"
            )
        return value

    return BeforeValidator(check)


_CLUSTER_NAME = _name("name", _DNS1035, MAX_CLUSTER_NAME, "a letter", "my-cluster")
_NAMESPACE = _name("namespace", _DNS1123, MAX_NAMESPACE, "a letter or digit", "ml-team")


def _problem_of(validator: BeforeValidator, value: str) -> str | None:
    try:
        validator.func(value)  # type: ignore[call-arg]
    except PydanticCustomError as err:
        return str((err.context or {}).get("problem", err))
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a cluster name (the sentence config validation gives), or None."""
    return _problem_of(_CLUSTER_NAME, name)


def namespace_problem(namespace: str) -> str | None:
    """Why ``namespace`` cannot be a namespace, or None."""
    return _problem_of(_NAMESPACE, namespace)


_CPU_EXAMPLES = "1, 500m or 2.5"
_MEM_EXAMPLES = "512Mi, 4Gi or 1.5G"
_TINY_CPU = "the smallest CPU amount is 1m (a thousandth of a CPU)"
_TINY_MEM = "that is less than 1Mi; did you forget the unit, e.g. 4Gi?"
_IMAGE_RULE = "use a container image reference such as rayproject/ray:2.60.0-py312"
_GPU_TYPE_RULE = "use a GPU model such as nvidia-tesla-t4 (letters, digits, '-', '_', '.')"

Cpus = Annotated[str, _quantity("cpus", MIN_CPUS, MAX_CPUS, _CPU_EXAMPLES, _TINY_CPU)]
Memory = Annotated[str, _quantity("memory", MIN_MEMORY, MAX_MEMORY, _MEM_EXAMPLES, _TINY_MEM)]
Image = Annotated[str | None, _optional_text("image", _IMAGE, _IMAGE_RULE, 512)]


class UpscalingMode(StrEnum):
    DEFAULT = "Default"
    AGGRESSIVE = "Aggressive"
    CONSERVATIVE = "Conservative"


def _upscaling_mode(value: Any) -> UpscalingMode:
    for mode in UpscalingMode:
        if isinstance(value, str) and value.strip().lower() == mode.value.lower():
            return mode
    choices = ", ".join(m.value for m in UpscalingMode)
    raise _problem(f"upscaling_mode must be one of {choices}, got {_shown(value)}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=False)


# ---- the models (DESIGN §2) ---------------------------------------------------------------------
class HeadNodeConfig(_Model):
    """The Ray head: a control plane by default (``runs_tasks=False`` → Ray ``num-cpus: "0"``)."""

    cpus: Cpus = "1"
    memory: Memory = "4Gi"
    image: Image = None
    runs_tasks: Annotated[bool, _boolean("runs_tasks")] = False


class WorkerGroupConfig(_Model):
    """One worker group: ``replicas > max_replicas`` raises the max; ``min > replicas`` fails."""

    name: Annotated[
        str, _name("group name", _DNS1123, MAX_GROUP_NAME, "a letter or digit", "gpu")
    ] = "worker"
    replicas: Annotated[int, _whole("replicas", MAX_REPLICAS)] = 0
    min_replicas: Annotated[int, _whole("min_replicas", MAX_REPLICAS)] = 0
    max_replicas: Annotated[int, _whole("max_replicas", MAX_REPLICAS)] = 1
    cpus: Cpus = "1"
    memory: Memory = "2Gi"
    gpus: Annotated[int, _whole("gpus", MAX_GPUS)] = 0
    gpu_type: Annotated[
        str | None, _optional_text("gpu_type", _LABEL_VALUE, _GPU_TYPE_RULE, 63)
    ] = None
    image: Image = None

    @model_validator(mode="after")
    def _bounds(self) -> WorkerGroupConfig:
        if self.min_replicas > self.replicas:
            raise _problem(
                f"min_replicas ({self.min_replicas}) is more than replicas ({self.replicas}):"
                f" ask for at least {self.min_replicas} workers or lower the minimum"
            )
        if self.replicas > self.max_replicas:
            self.max_replicas = self.replicas
        return self


class AutoscalerConfig(_Model):
    """Ray's in-tree autoscaler sidecar; ``cpu``/``memory`` size the sidecar container."""

    enabled: Annotated[bool, _boolean("enabled")] = True
    idle_timeout_seconds: Annotated[int, _whole("idle_timeout_seconds", MAX_IDLE_TIMEOUT)] = 60
    upscaling_mode: Annotated[UpscalingMode, BeforeValidator(_upscaling_mode)] = (
        UpscalingMode.DEFAULT
    )
    cpu: Annotated[str, _quantity("cpu", MIN_CPUS, MAX_CPUS, _CPU_EXAMPLES, _TINY_CPU)] = "500m"
    memory: Memory = "512Mi"


class ServicesConfig(_Model):
    """Developer services on the head: Jupyter (8888), code-server (8443), ssh (22)."""

    notebook: Annotated[bool, _boolean("notebook")] = True
    code_server: Annotated[bool, _boolean("code_server")] = True
    ssh: Annotated[bool, _boolean("ssh")] = True


class ClusterConfig(_Model):
    """A whole Ray cluster as the user describes it; ``manifests`` turns it into a RayCluster."""

    name: Annotated[str, _CLUSTER_NAME]
    namespace: Annotated[str, _NAMESPACE] = "default"
    head: HeadNodeConfig = Field(default_factory=HeadNodeConfig)
    worker_groups: list[WorkerGroupConfig] = Field(default_factory=lambda: [WorkerGroupConfig()])
    services: ServicesConfig = Field(default_factory=ServicesConfig)
    autoscaler: AutoscalerConfig = Field(default_factory=AutoscalerConfig)

    @model_validator(mode="after")
    def _groups(self) -> ClusterConfig:
        if not self.worker_groups:
            raise _problem("worker_groups must list at least one worker group")
        seen: set[str] = set()
        for group in self.worker_groups:
            if group.name in seen:
                raise _problem(f"worker group name {group.name!r} is used twice: names must differ")
            seen.add(group.name)
        return self


# ---- pydantic errors → one line each ----------------------------------------------------------
_SECTIONS: dict[str, type[BaseModel]] = {
    "head": HeadNodeConfig,
    "services": ServicesConfig,
    "autoscaler": AutoscalerConfig,
}


def _where(
    loc: tuple[int | str, ...], data: Any, field: str | None = None
) -> tuple[str, type[BaseModel] | None]:
    """The user's name for the model at ``loc`` (as a prefix) and its class; ``field`` is the
    key that failed inside it (a group whose own name failed is named by position)."""
    if not loc:
        return "", ClusterConfig
    head = loc[0]
    if head in _SECTIONS:
        return f"{head}: ", _SECTIONS[str(head)] if len(loc) <= 2 else None
    if head == "worker_groups" and len(loc) >= 2 and isinstance(loc[1], int):
        index = loc[1]
        raw = data.get("worker_groups") if isinstance(data, Mapping) else None
        group = raw[index] if isinstance(raw, list) and index < len(raw) else None
        name = group.get("name", "worker") if isinstance(group, Mapping) else None
        named = isinstance(name, str) and bool(_DNS1123.fullmatch(name)) and field != "name"
        label = f"worker group '{echo(name)}'" if named else f"worker group #{index + 1}"
        return f"{label}: ", WorkerGroupConfig if len(loc) <= 3 else None
    return "", ClusterConfig if len(loc) == 1 else None


def _line(error: Mapping[str, Any], data: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    field = str(loc[-1]) if loc else "configuration"
    if kind == "krayne":
        is_field = bool(loc) and isinstance(loc[-1], str)
        prefix, _ = _where(loc[:-1] if is_field else loc, data, field if is_field else None)
        return prefix + str(error["ctx"]["problem"])
    if kind == "extra_forbidden":
        prefix, model = _where(loc[:-1], data)
        known = list(model.model_fields) if model else []
        where = prefix
        close = difflib.get_close_matches(field[:64], known, n=1, cutoff=0.6)
        if close:
            return f"{where}unknown key '{echo(field)}' (did you mean {close[0]!r}?)"
        return f"{where}unknown key '{echo(field)}' (known keys: {', '.join(known)})"
    prefix, _ = _where(loc[:-1], data, field)
    if kind == "missing":
        example = ", e.g. `name: my-cluster`" if loc == ("name",) else ""
        return f"{prefix}{field} is required{example}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if loc[:1] == ("worker_groups",) and isinstance(loc[-1], int):
            field = f"worker group #{loc[-1] + 1}"
        return f"{prefix}{field} must be a mapping of keys to values, got {_shown(error['input'])}"
    if kind == "list_type":
        return f"{prefix}{field} must be a list of worker groups, got {_shown(error['input'])}"
    return f"{prefix}{field}: {error['msg']}"


def _problems(err: ValidationError, data: Any) -> list[str]:
    lines: list[str] = []
    for error in err.errors(include_url=False):
        line = " ".join(_line(error, data).split())  # one line, whatever the input held
        if line not in lines:
            lines.append(line)
    return lines


# ---- layering ---------------------------------------------------------------------------------
def _index(part: str) -> int:
    """``part`` of an override path as a list index, or -1 (only ASCII digits, not ``²``)."""
    return int(part) if re.fullmatch(r"[0-9]{1,6}", part) else -1


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a copy of ``data`` with dot-notation overrides applied (``None`` values skipped)."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    problems: list[str] = []
    for path, value in (overrides or {}).items():
        if value is None:
            continue
        parts = path.split(".")
        node: Any = result
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list) and 0 <= _index(part) <= len(node):
                if _index(part) == len(node):
                    node.append({})
                key: Any = _index(part)
            elif isinstance(node, dict):
                key = part
            else:
                problems.append(f"cannot set '{echo(path)}': '{echo('.'.join(parts[:depth]))}'"
                                f" has no '{echo(part)}'")  # fmt: skip
                break
            if last:
                node[key] = value
            else:
                if isinstance(node, dict) and key not in node:
                    node[key] = [] if _index(parts[depth + 1]) >= 0 else {}
                node = node[key]
                if not isinstance(node, (dict, list)):
                    problems.append(
                        f"cannot set '{echo(path)}': '{echo(here)}' is not a mapping or list"
                    )
                    break
    if problems:
        raise ConfigValidationError(problems)
    return result


def build_config(
    data: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> ClusterConfig:
    """Validate ``data`` (e.g. parsed YAML) with ``overrides`` on top; flags beat the file."""
    if not isinstance(data, Mapping):
        raise ConfigValidationError(
            [f"the configuration must be a mapping such as `name: my-cluster`, got {_shown(data)}"]
        )
    merged = apply_overrides(data, overrides)
    try:
        return ClusterConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigValidationError(_problems(err, merged)) from None


def load_config_from_yaml(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> ClusterConfig:
    """Load a cluster YAML file, apply overrides, validate; every failure is a problem line."""
    return build_config(load_yaml_mapping(path), overrides)
