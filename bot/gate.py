"""The policy at the door of every command: who may act, where, and how big; and the audit.

``Commands`` asks the gate before any Kubernetes write (create, scale, delete, and the buttons
that do them); the rules themselves are pure (``core.policy_rules``), and usage is counted from
live RayClusters (``core.policy_usage``). Every mutating action, refused ones included, leaves
an audit line and, when its cluster exists, an Event on it (``core.audit``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot import messages as msg
from bot.grammar import Command
from bot.settings import BotSettings
from core import policy_rules
from core.api import ClusterSummary
from core.audit import AuditRecord, audit, write_line
from core.config import ClusterConfig
from core.errors import KrayneError
from core.kube import KubeClient, Obj
from core.objects import RayClusterView
from core.policy import OPEN, Policy
from core.policy_rules import Refusal, shape_of
from core.policy_usage import live_clusters
from core.scaling import apply_scale, autoscaling_enabled, current_scale, pick_group, plan_scale
from manifests.raycluster import build_raycluster

MUTATING = ("create", "scale", "delete")


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who asked, where: the parts of a Slack request the commands need."""

    user: str
    channel: str
    team: str | None
    command: str = ""  # what was typed (`/krayne create demo`) or clicked (`button delete`)
    request: str | None = None  # Slack's trigger_id: the same on its retries of this request


class Gate:
    """The policy in force (``policy()`` reads the current one: the file may be reloaded)."""

    def __init__(
        self, *, kube: KubeClient, settings: BotSettings,
        policy: Callable[[], Policy] = lambda: OPEN,
    ) -> None:  # fmt: skip
        self._kube = kube
        self._settings = settings
        self._policy = policy

    @property
    def policy(self) -> Policy:
        return self._policy()

    def namespace(self, requested: str | None, inv: Invocation | None) -> str:
        """``-n``, else the channel's namespace (policy), else the default one."""
        if requested:
            return requested
        channel = inv.channel if inv is not None else ""
        return policy_rules.home_namespace(self._policy(), channel, self._settings.namespace)

    def may_not_modify(self, action: str, user: str, cluster: ClusterSummary) -> Refusal | None:
        """Only the owner or an admin may scale or delete, and only clusters krayne made."""
        if not cluster.managed:
            return Refusal("managed-by", msg.not_managed(cluster.name, cluster.namespace))
        if policy_rules.may_modify(self._policy(), user, cluster.owner):
            return None
        return Refusal("owner", msg.not_owner(action, cluster.name, cluster.owner))

    def admit(self, cmd: Command, inv: Invocation, what: str) -> str | None:
        """The policy's answer before the ack (no Kubernetes call): who may use krayne, from
        which channel, in which namespace. ``None``: go on; else the refusal, audited if
        ``what`` mutates."""
        policy = self._policy()
        namespace = getattr(cmd, "namespace", None)
        refusal = policy_rules.check_user(policy, inv.user) or policy_rules.check_channel(
            policy, inv.channel, inv.user
        )
        if refusal is None and what in MUTATING:
            refusal = policy_rules.check_namespace(
                policy, user=inv.user, channel=inv.channel, requested=namespace,
                fallback=self._settings.namespace,
            )  # fmt: skip
        if refusal is None:
            return None
        if what in MUTATING:
            name = str(getattr(cmd, "name", ""))
            self.audit_now(what, inv, name, self.namespace(namespace, inv), refusal)
        return refusal.text

    async def refuse_create(self, config: ClusterConfig, inv: Invocation) -> Refusal | None:
        policy = self._policy()
        body = build_raycluster(config, owner=inv.user, **self._settings.manifest_options())
        shape = shape_of(RayClusterView.parse(body))
        explicit = [i for i in (config.head.image, *(g.image for g in config.worker_groups)) if i]
        refusal = policy_rules.check_images(policy, explicit) or policy_rules.check_cluster(
            policy, config.name, shape
        )
        if refusal is not None or not policy.limits_usage:
            return refusal
        live = await live_clusters(
            self._settings.watched(), client=self._kube, also=config.namespace
        )
        usage = policy_rules.usage_of(live, inv.user)
        return policy_rules.check_user_quota(policy, config.name, usage, shape)

    async def refuse_scale(
        self, raw: Obj, group: str | None, workers: int | None, min_workers: int | None,
        max_workers: int | None,
    ) -> Refusal | None:  # fmt: skip
        """The cluster as it would be after the scale, against the quotas (only growth counts)."""
        policy = self._policy()
        index = pick_group(raw, group)
        spec = raw["spec"]["workerGroupSpecs"][index]
        after = plan_scale(
            current_scale(spec), autoscaling=autoscaling_enabled(raw), replicas=workers,
            min_replicas=min_workers, max_replicas=max_workers,
        )  # fmt: skip
        view = RayClusterView.parse(raw)
        before = shape_of(view)
        shape = shape_of(RayClusterView.parse(apply_scale(raw, index, after)))
        refusal = policy_rules.check_cluster(policy, view.name, shape, before=before)
        if refusal is not None or not policy.limits_usage or view.owner is None:
            return refusal
        live = await live_clusters(self._settings.watched(), client=self._kube, also=view.namespace)
        usage = policy_rules.usage_of(live, view.owner, leaving_out=(view.namespace, view.name))
        return policy_rules.check_user_quota(policy, view.name, usage, shape, before=before)

    def _record(
        self, what: str, inv: Invocation, name: str, namespace: str, result: str | Refusal
    ) -> AuditRecord:
        outcome = f"refused:{result.rule}" if isinstance(result, Refusal) else result
        return AuditRecord(
            action=what, user=inv.user, team=inv.team, channel=inv.channel,
            command=inv.command or what, cluster=name, namespace=namespace, result=outcome,
        )  # fmt: skip

    def audit_now(
        self, what: str, inv: Invocation, name: str, namespace: str, result: str | Refusal
    ) -> None:
        """The log line only (no cluster to put an Event on): synchronous, before the ack."""
        write_line(self._record(what, inv, name, namespace, result))

    async def audit(
        self, what: str, inv: Invocation, name: str, namespace: str, result: str | Refusal,
        raw: Obj | None = None,
    ) -> None:  # fmt: skip
        """The log line, and an Event on the RayCluster (read now if ``raw`` is not given)."""
        if raw is None:
            try:
                raw = await self._kube.get_raycluster(name, namespace)
            except KrayneError:
                raw = None
        await audit(self._record(what, inv, name, namespace, result), client=self._kube,
                    raycluster=raw)  # fmt: skip
