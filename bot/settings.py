"""Bot settings: the environment of DESIGN §9, validated once at start-up.

Precedence is flags > environment > defaults: ``BotSettings.load(overrides)`` passes command-line
values as init arguments, which pydantic-settings ranks above environment variables. ``None``
overrides are dropped so an absent flag never hides an environment variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.status import StatusSettings
from manifests.raycluster import (
    DEFAULT_PYTHON_TAG,
    DEFAULT_RAY_VERSION,
    GPU_TYPE_LABEL,
    ManifestOptions,
)

SLACK_API_URL = "https://slack.com/api/"


_TAINT = re.compile(
    r"(?P<key>[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?)(=(?P<value>[-A-Za-z0-9_.]*))?"
    r":(?P<effect>NoSchedule|PreferNoSchedule|NoExecute)"
)


def parse_tolerations(text: str) -> tuple[dict[str, str], ...]:
    """``sku=gpu:NoSchedule,dedicated:NoExecute`` -> tolerations (``Equal`` with a value,
    ``Exists`` without), as a pod spec writes them."""
    found = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        match = _TAINT.fullmatch(entry)
        if match is None:
            raise ValueError(
                f"{entry!r} is not a taint: write key[=value]:NoSchedule|PreferNoSchedule|NoExecute"
            )
        toleration = {"key": match["key"], "effect": match["effect"]}
        if match["value"] is not None:
            toleration |= {"operator": "Equal", "value": match["value"]}
        else:
            toleration["operator"] = "Exists"
        found.append(toleration)
    return tuple(found)


def _seconds(default: float, name: str, why: str, *, zero_ok: bool = False) -> Any:
    """A positive number of seconds (or zero, where ``zero_ok``) read from ``KRAYNE_<NAME>``
    (or the ``name`` flag)."""
    return Field(
        default=default,
        ge=0 if zero_ok else None,
        gt=None if zero_ok else 0,
        validation_alias=AliasChoices(name, f"KRAYNE_{name.upper()}"),
        description=why,
    )


class BotSettings(BaseSettings):
    """Everything `krayne-bot serve` needs to know before it starts."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("slack_bot_token", "SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("slack_signing_secret", "SLACK_SIGNING_SECRET"),
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("slack_app_token", "SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(
        default=SLACK_API_URL,
        validation_alias=AliasChoices("slack_api_url", "KRAYNE_SLACK_API_URL"),
        description="Web API base URL; tests and the shell point it at the local Slack double.",
    )
    kubeconfig: str | None = Field(
        default=None, validation_alias=AliasChoices("kubeconfig", "KUBECONFIG")
    )
    kube_context: str | None = Field(
        default=None, validation_alias=AliasChoices("kube_context", "KRAYNE_KUBE_CONTEXT")
    )
    namespace: str = Field(
        default="default", validation_alias=AliasChoices("namespace", "KRAYNE_NAMESPACE")
    )
    watch_namespaces: str | None = Field(
        default=None,
        validation_alias=AliasChoices("watch_namespaces", "KRAYNE_WATCH_NAMESPACES"),
        description="Comma-separated namespaces whose clusters get live threads; '*' watches all "
        "(needs cluster-wide list/watch). Default: KRAYNE_NAMESPACE only, which namespaced RBAC "
        "allows.",
    )
    policy_file: str | None = Field(
        default=None,
        validation_alias=AliasChoices("policy_file", "KRAYNE_POLICY_FILE"),
        description="YAML access policy (admins, channel -> namespace, allowed users, quotas, "
        "image allowlist; README: Access policy). Re-read when it changes; a bad file stops "
        "the start, a bad change keeps the last good policy. Unset: everyone may do everything "
        "and only a cluster's owner may scale or delete it.",
    )
    policy_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias=AliasChoices("policy_poll_seconds", "KRAYNE_POLICY_POLL_SECONDS"),
        description="How often the policy file is checked for changes (a ConfigMap update "
        "reaches the pod within about a minute anyway).",
    )
    ray_version: str = Field(
        default=DEFAULT_RAY_VERSION,
        validation_alias=AliasChoices("ray_version", "KRAYNE_RAY_VERSION"),
    )
    python_tag: str = Field(
        default=DEFAULT_PYTHON_TAG,
        validation_alias=AliasChoices("python_tag", "KRAYNE_PYTHON_TAG"),
    )
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("log_format", "KRAYNE_LOG_FORMAT")
    )
    port: int = Field(
        default=3000, ge=0, le=65535, validation_alias=AliasChoices("port", "KRAYNE_PORT")
    )
    host: str = Field(default="0.0.0.0", validation_alias=AliasChoices("host", "KRAYNE_HOST"))
    socket_mode: bool = Field(
        default=False, validation_alias=AliasChoices("socket_mode", "KRAYNE_SOCKET_MODE")
    )
    card_interval: float = Field(
        default=1.0,
        validation_alias=AliasChoices("card_interval", "KRAYNE_CARD_INTERVAL"),
        gt=0,
        description="Seconds between two messages to one channel: Slack allows about one "
        "message per second per channel, and bursts beyond it are answered with 429.",
    )
    card_hold_seconds: float = _seconds(
        3.0,
        "card_hold_seconds",
        "How long a card's progress update may wait for a newer one to replace it (a "
        "cluster passing two phases in a second costs one chat.update, not two); ready, "
        "failures and deletions update the card at once.",
        zero_ok=True,
    )
    slack_rate_scale: float = Field(
        default=1.0,
        validation_alias=AliasChoices("slack_rate_scale", "KRAYNE_SLACK_RATE_SCALE"),
        gt=0,
        description="Divides Slack's per-method rate limit windows (Tier 3: 50 calls a "
        "minute, Tier 4: 100) the bot paces itself by. 1 against real Slack; tests set the "
        "speed of a Slack double whose limits run faster.",
    )
    slack_timeout: int = Field(
        default=15,
        ge=1,
        validation_alias=AliasChoices("slack_timeout", "KRAYNE_SLACK_TIMEOUT"),
        description="Seconds one Web API call may take (whole seconds: slack_sdk's unit). "
        "chat.* answers in well under a second when Slack is healthy; a message whose answer "
        "never came may still have been posted, so it is looked for before it is sent again.",
    )
    drain_timeout: float = Field(
        default=10.0,
        validation_alias=AliasChoices("drain_timeout", "KRAYNE_DRAIN_TIMEOUT"),
        ge=0,
        description="Seconds the outbox may spend sending what is queued when the bot stops.",
    )
    slack_team_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("slack_team_id", "KRAYNE_SLACK_TEAM_ID"),
        description="The workspace this bot serves (T...). Clusters whose krayne.io/slack-team "
        "names another workspace (a staging bot on the same namespace) get no thread replies "
        "from it. Unset: asked of Slack (auth.test) when the bot starts leading.",
    )
    leader_election: bool = Field(
        default=True,
        validation_alias=AliasChoices("leader_election", "KRAYNE_LEADER_ELECTION"),
        description="Elect one replica over a coordination.k8s.io Lease to watch clusters and "
        "post their threads; every replica answers commands. Off: this process always posts "
        "(one replica only; the shell turns it off).",
    )
    lease_name: str = Field(
        default="krayne-bot",
        min_length=1,
        validation_alias=AliasChoices("lease_name", "KRAYNE_LEASE_NAME"),
        description="The Lease the replicas compete for; bots that must not post together "
        "(two deployments for one workspace) share it.",
    )
    lease_namespace: str | None = Field(
        default=None,
        validation_alias=AliasChoices("lease_namespace", "KRAYNE_LEASE_NAMESPACE"),
        description="Where the Lease lives: the bot's own namespace (deploy/ sets it from the "
        "pod's). Unset: KRAYNE_NAMESPACE.",
    )
    lease_duration: int = Field(
        default=15,
        ge=2,
        validation_alias=AliasChoices("lease_duration", "KRAYNE_LEASE_DURATION"),
        description="Seconds a Lease not renewed stays its holder's: a killed leader is "
        "succeeded within about this long (client-go's default).",
    )
    renew_deadline: float = Field(
        default=10.0,
        ge=1,
        validation_alias=AliasChoices("renew_deadline", "KRAYNE_RENEW_DEADLINE"),
        description="Seconds a leader keeps failing to renew before it stops posting; shorter "
        "than the lease duration, so it stops before anyone else may start.",
    )
    retry_period: float = Field(
        default=2.0,
        ge=1,
        validation_alias=AliasChoices("retry_period", "KRAYNE_RETRY_PERIOD"),
        description="Seconds between two tries to take or renew the Lease (each try is bounded "
        "by it too).",
    )

    gpu_type_label: str = Field(
        default=GPU_TYPE_LABEL,
        min_length=1,
        validation_alias=AliasChoices("gpu_type_label", "KRAYNE_GPU_TYPE_LABEL"),
        description="The node label `--gpu-type` selects on: GKE's by default; "
        "`nvidia.com/gpu.product` with NVIDIA's GPU operator (any cloud), "
        "`karpenter.k8s.aws/instance-gpu-name` on EKS with Karpenter, "
        "`accelerator` on AKS GPU pools labelled by hand (README: GPUs on any cloud).",
    )
    gpu_tolerations: str = Field(
        default="",
        validation_alias=AliasChoices("gpu_tolerations", "KRAYNE_GPU_TOLERATIONS"),
        description="Taints of GPU nodes that GPU workers tolerate besides nvidia.com/gpu, as "
        "`key[=value]:Effect`, comma-separated: AKS's documented GPU pools use "
        "`sku=gpu:NoSchedule`.",
    )
    card_grace_seconds: float = _seconds(
        60.0,
        "card_grace_seconds",
        "A cluster created from Slack still without its card this long after its "
        "creation was left by a bot that died mid-create: the running bot finds or posts "
        "its card. A card waits its turn in the channel (about one post a second), and one "
        "created on another replica cannot be seen queued there: keep this above the "
        "number of clusters a channel may create at once, in seconds.",
    )
    node_grace_seconds: float = _seconds(
        600.0,
        "node_grace_seconds",
        "How long a pod may wait for a node where a node autoscaler acts before it "
        "is reported unschedulable (GPU nodes take minutes to boot).",
    )
    node_grace_without_autoscaler_seconds: float = _seconds(
        60.0,
        "node_grace_without_autoscaler_seconds",
        "The same where no node autoscaler was ever seen acting: nothing will add a "
        "node, so say so soon.",
    )
    retry_budget_seconds: float = _seconds(
        300.0,
        "retry_budget_seconds",
        "How long a passing pull or create error (a registry rate limit, a timeout) "
        "is shown as retrying before it is reported as a failure.",
    )
    init_stall_seconds: float = _seconds(
        300.0,
        "init_stall_seconds",
        "How long a worker may wait in Init for the head's GCS before it is reported as stalled.",
    )

    @model_validator(mode="after")
    def _lease_timing(self) -> BotSettings:
        # kubernetes-asyncio's ElectionConfig refuses anything else (with the jitter factor 1.2).
        if not self.lease_duration > self.renew_deadline > 1.2 * self.retry_period:
            raise ValueError(
                "leader election needs lease_duration > renew_deadline > 1.2 × retry_period "
                f"(got {self.lease_duration:g}, {self.renew_deadline:g}, {self.retry_period:g})"
            )
        return self

    def lease(self) -> tuple[str, str]:
        """(namespace, name) of the leader-election Lease."""
        return (self.lease_namespace or self.namespace, self.lease_name)

    def lease_timing(self) -> tuple[float, float, float]:
        """(lease duration, renew deadline, retry period): the Lease records whole seconds."""
        return (self.lease_duration, self.renew_deadline, self.retry_period)

    @field_validator("gpu_tolerations")
    @classmethod
    def _tolerations_parse(cls, value: str) -> str:
        parse_tolerations(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins "base_url + method", so the base must end with a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("kubeconfig", "kube_context", "watch_namespaces", "policy_file",
                     "slack_team_id", "lease_namespace", mode="before")  # fmt: skip
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def watched(self) -> list[str] | None:
        """The namespaces to watch; ``None`` means all of them."""
        raw = (self.watch_namespaces or "").strip()
        if raw == "*":
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        return names or [self.namespace]

    def watches(self, namespace: str) -> bool:
        watched = self.watched()
        return watched is None or namespace in watched

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> BotSettings:
        """Environment, then ``overrides`` (flag values; ``None`` means "flag not given")."""
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        return cls(**given)

    def manifest_options(self) -> ManifestOptions:
        return ManifestOptions(
            ray_version=self.ray_version,
            python_tag=self.python_tag,
            gpu_type_label=self.gpu_type_label,
            gpu_tolerations=parse_tolerations(self.gpu_tolerations),
        )

    def status_settings(self) -> StatusSettings:
        return StatusSettings(
            node_grace_with_autoscaler=timedelta(seconds=self.node_grace_seconds),
            node_grace_without_autoscaler=timedelta(
                seconds=self.node_grace_without_autoscaler_seconds
            ),
            retry_budget=timedelta(seconds=self.retry_budget_seconds),
            init_stall_after=timedelta(seconds=self.init_stall_seconds),
        )

    def faster(self, speed: float) -> BotSettings:
        """The waits divided by ``speed``: for a sandbox whose simulated time runs faster."""
        return self.model_copy(
            update={
                name: getattr(self, name) / speed
                for name in (
                    "node_grace_seconds",
                    "node_grace_without_autoscaler_seconds",
                    "retry_budget_seconds",
                    "init_stall_seconds",
                )
            }
        )

    def secret(self, name: Literal["bot_token", "signing_secret", "app_token"]) -> str | None:
        value: SecretStr | None = getattr(self, f"slack_{name}")
        return value.get_secret_value() if value is not None else None
