"""Who may do what from Slack: the policy file (DESIGN §7), validated strictly, loaded once.

The file is YAML, read by ``load_policy``; every model forbids unknown keys and every problem is
one ``ConfigValidationError`` line naming the key (``quotas.per_user.gpus: ...``), so a typo in a
security setting is never silently ignored. No file means :data:`OPEN`: everyone may do
everything, and only a cluster's owner may scale or delete it (what the bot did before policies).

The rules themselves are pure and live in ``core.policy_rules``; the file is watched by
``core.policy_file``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from core.config_yaml import load_yaml_mapping
from core.errors import ConfigValidationError
from core.quantity import parse_quantity
from core.ttl import TtlPolicy

_SLACK_ID = re.compile(r"[A-Z0-9][A-Z0-9_]{1,40}")  # U0ADMIN, W123, C0MLTEAM, G0PRIV, D0DM
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _slack_id(kind: str, example: str) -> BeforeValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Slack {kind} ID: use the ID (e.g. {example}), not a name"
            )
        return value

    return BeforeValidator(check)


def _namespace(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a namespace name: lowercase letters, digits and '-', at most 63"
        )
    return value


def _quantity(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 64 or 256Gi")
    text = str(value).strip()
    try:
        amount = parse_quantity(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a Kubernetes quantity such as 64 or 256Gi") from None
    if amount <= 0:
        raise ValueError(f"{text!r} must be more than zero")
    return text


UserId = Annotated[str, _slack_id("user", "U0ADMIN")]
ChannelId = Annotated[str, _slack_id("channel", "C0MLTEAM")]
Namespace = Annotated[str, BeforeValidator(_namespace)]
Quantity = Annotated[str, BeforeValidator(_quantity)]
Count = Annotated[int, Field(ge=0, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelRule(_Model):
    """What a Slack channel's commands act on."""

    namespace: Namespace


class PerUser(_Model):
    """Counted over the user's live RayClusters (owner annotation): no database."""

    clusters: Count | None = None
    gpus: Count | None = None


class PerCluster(_Model):
    """The most one cluster may ask for: workers, GPUs per worker pod, and CPUs and memory
    summed over the head and the most workers it may run (autoscaling counts maxReplicas)."""

    workers: Count | None = None
    gpus_per_worker: Count | None = None
    cpus: Quantity | None = None
    memory: Quantity | None = None

    def amount(self, key: str) -> Decimal | None:
        value = self.cpus if key == "cpus" else self.memory
        return parse_quantity(value) if value is not None else None


class Quotas(_Model):
    per_user: PerUser = Field(default_factory=PerUser)
    per_cluster: PerCluster = Field(default_factory=PerCluster)


class Images(_Model):
    """Glob patterns (``fnmatch``) an explicit ``--image`` must match; empty allows any.
    The images krayne picks itself (``rayproject/ray:<version>-py<tag>``) are always allowed."""

    allowed: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)


class Policy(_Model):
    """The whole file; every key optional, defaults are the open behaviour."""

    admins: list[UserId] = Field(default_factory=list)
    default_namespace: Namespace | None = None
    channels: dict[ChannelId, ChannelRule] = Field(default_factory=dict)
    strict_channels: bool = False
    allowed_users: list[UserId] = Field(default_factory=list)
    quotas: Quotas = Field(default_factory=Quotas)
    images: Images = Field(default_factory=Images)
    ttl: TtlPolicy = Field(default_factory=TtlPolicy)

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    @property
    def limits_usage(self) -> bool:
        """Whether a per-user quota is set (so live clusters must be counted)."""
        return self.quotas.per_user.clusters is not None or self.quotas.per_user.gpus is not None


OPEN = Policy()
"""No policy file: everyone may do everything; scale and delete stay owner-only."""


_SHAPES = {
    "model_type": "must be a mapping of keys, e.g. `{namespace: ml-team}`",
    "dict_type": "must be a mapping, e.g. `{C0MLTEAM: {namespace: ml-team}}`",
    "list_type": "must be a list, e.g. `[U0ADMIN]`",
}


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _problems(err: ValidationError) -> list[str]:
    lines = []
    for error in err.errors():
        where = _where(error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key (a typo?)")
            continue
        if error["type"] in _SHAPES:
            got = repr(error["input"])
            got = got if len(got) <= 60 else got[:59] + "…"
            lines.append(f"{where}: {_SHAPES[error['type']]}, got {got}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return lines


def parse_policy(data: Any, *, source: str = "the policy") -> Policy:
    """A mapping (the parsed YAML) → ``Policy``; ``ConfigValidationError`` names each bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigValidationError([f"{source} must be a mapping such as `admins: [U0ADMIN]`"])
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        raise ConfigValidationError(
            [f"{source}: {line}" for line in _problems(err)],
            hint="Fix the policy file; the keys are described in the README (Access policy).",
        ) from None


def load_policy(path: str | Path | None) -> Policy:
    """The policy in ``path`` (``None``: :data:`OPEN`). Raises ``ConfigValidationError``."""
    if path is None:
        return OPEN
    data = load_yaml_mapping(path, example="admins: [U0ADMIN]")
    return parse_policy(data, source=f"policy file {str(path)!r}")
