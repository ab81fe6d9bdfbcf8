"""The policy's rules, pure: a request and what is live in → ``None`` (allowed) or a ``Refusal``.

Every refusal names the rule (the policy key), the limit and the current usage, and says what to
do, so a user never has to ask an admin why. Usage is counted from live RayClusters by owner (the
``krayne.io/owner`` annotation, else its label): no database, so a deleted cluster frees its
quota at once, and one being deleted no longer counts.

What a cluster "asks for" is its ceiling: with autoscaling a group may grow to ``maxReplicas``
without the bot being asked, so quotas count that, not today's replicas. Admins may act in any
namespace and on anyone's cluster; quotas and the image allowlist apply to them too (they guard
against typos as much as against abuse).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase

from core.objects import RayClusterView
from core.policy import Policy
from core.quantity import quantity_or_none


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a command may not run: ``rule`` is the policy key, ``text`` the user-facing answer."""

    rule: str
    text: str


@dataclass(frozen=True, slots=True)
class Shape:
    """The most a cluster may ask for."""

    workers: int
    gpus_per_worker: int
    gpus: int
    cpus: Decimal
    memory: Decimal


@dataclass(frozen=True, slots=True)
class Usage:
    """What one user's live clusters hold."""

    clusters: int
    gpus: int


def _amount(text: str) -> Decimal:
    amount = quantity_or_none(text) if text else None
    return amount if amount is not None else Decimal(0)


def shape_of(view: RayClusterView) -> Shape:
    """The ceiling of a RayCluster (a built manifest or a live object, read the same way)."""
    workers, gpus = 0, view.head.gpus
    cpus, memory = _amount(view.head.cpus), _amount(view.head.memory)
    for group in view.groups:
        if group.suspended:
            continue
        most = group.max_replicas * group.num_of_hosts if view.autoscaling else group.desired
        most = max(most, group.desired)
        workers += most
        gpus += most * group.gpus
        cpus += most * _amount(group.cpus)
        memory += most * _amount(group.memory)
    per_worker = max((g.gpus for g in view.groups), default=0)
    return Shape(workers, per_worker, gpus, cpus, memory)


def usage_of(
    clusters: Iterable[RayClusterView], user: str, *, leaving_out: tuple[str, str] | None = None
) -> Usage:
    """``user``'s clusters (not those being deleted; ``leaving_out``: (namespace, name) of the one
    being changed, whose new shape is counted instead)."""
    count, gpus = 0, 0
    for view in clusters:
        if view.owner != user or view.deleting or (view.namespace, view.name) == leaving_out:
            continue
        count += 1
        gpus += shape_of(view).gpus
    return Usage(count, gpus)


# --- who and where -------------------------------------------------------------------------


def check_user(policy: Policy, user: str) -> Refusal | None:
    """``allowed_users``: empty lets everyone in; admins are always in."""
    if not policy.allowed_users or user in policy.allowed_users or policy.is_admin(user):
        return None
    admins = _mentions(policy.admins) or "an admin"
    return Refusal(
        "allowed_users",
        f":no_entry: You are not on krayne's list of allowed users (policy `allowed_users`): "
        f"ask {admins} to add you.",
    )


def check_channel(policy: Policy, channel: str, user: str) -> Refusal | None:
    """``strict_channels``: commands only from mapped channels (admins anywhere)."""
    if not policy.strict_channels or channel in policy.channels or policy.is_admin(user):
        return None
    mapped = ", ".join(f"<#{c}>" for c in sorted(policy.channels)) or "none yet"
    return Refusal(
        "strict_channels",
        ":no_entry: This channel is not set up for krayne (policy `strict_channels` is on; "
        f"channels set up: {mapped}). Use one of those, or ask an admin to map this channel "
        "to a namespace.",
    )


def home_namespace(policy: Policy, channel: str, fallback: str) -> str:
    """Where a channel's clusters live: its mapping, else ``default_namespace``, else the bot's."""
    rule = policy.channels.get(channel)
    if rule is not None:
        return rule.namespace
    return policy.default_namespace or fallback


def check_namespace(
    policy: Policy, *, user: str, channel: str, requested: str | None, fallback: str
) -> Refusal | None:
    """``-n`` to a namespace other than the channel's: admins only (when a policy maps any
    channel or names a default namespace; with neither, ``-n`` is free as before)."""
    if requested is None or policy.is_admin(user):
        return None
    if not policy.channels and policy.default_namespace is None:
        return None
    home = home_namespace(policy, channel, fallback)
    if requested == home:
        return None
    where = "this channel" if channel in policy.channels else "channels without a mapping"
    return Refusal(
        "channels",
        f":no_entry: Clusters of {where} live in namespace `{home}` (policy `channels`); "
        f"`-n {requested}` is for admins only. Leave out `-n`, or use the channel mapped to "
        f"`{requested}`.",
    )


def may_modify(policy: Policy, user: str, owner: str | None) -> bool:
    """Scale and delete: the owner, or an admin."""
    return policy.is_admin(user) or (owner is not None and owner == user)


# --- what a cluster asks for ---------------------------------------------------------------


def check_images(policy: Policy, images: Iterable[str]) -> Refusal | None:
    """Explicit images must match a pattern of ``images.allowed`` (empty: any image)."""
    patterns = policy.images.allowed
    if not patterns:
        return None
    for image in images:
        if not any(fnmatchcase(image, pattern) for pattern in patterns):
            allowed = ", ".join(f"`{p}`" for p in patterns)
            return Refusal(
                "images.allowed",
                f":no_entry: Image `{image}` is not allowed here (policy `images.allowed`: "
                f"{allowed}). Pick a matching image, or leave out `--image` for krayne's default.",
            )
    return None


def check_cluster(
    policy: Policy, name: str, shape: Shape, *, before: Shape | None = None
) -> Refusal | None:
    """``quotas.per_cluster``: each limit against the cluster's ceiling. With ``before`` (a
    scale), only what grows is checked: shrinking a cluster over a lowered limit is allowed."""
    limits = policy.quotas.per_cluster

    def over(key: str, limit: Decimal | int | None) -> bool:
        asked = getattr(shape, key)
        grew = before is None or asked > getattr(before, key)
        return limit is not None and asked > limit and grew

    if over("workers", limits.workers):
        return Refusal(
            "quotas.per_cluster.workers",
            f":no_entry: `{name}` may run up to {shape.workers} workers (limit {limits.workers} "
            f"per cluster, policy `quotas.per_cluster.workers`): ask for {limits.workers} or "
            "fewer with `--workers`/`--max-workers`.",
        )
    if over("gpus_per_worker", limits.gpus_per_worker):
        return Refusal(
            "quotas.per_cluster.gpus_per_worker",
            f":no_entry: `{name}` asks for {shape.gpus_per_worker} GPUs per worker (limit "
            f"{limits.gpus_per_worker}, policy `quotas.per_cluster.gpus_per_worker`): use "
            f"`--gpus {limits.gpus_per_worker}` or fewer and more workers.",
        )
    for key, asked, unit in (("cpus", shape.cpus, "CPUs"), ("memory", shape.memory, "memory")):
        limit = limits.amount(key)
        if over(key, limit):
            return Refusal(
                f"quotas.per_cluster.{key}",
                f":no_entry: `{name}` may use {_shown(asked, key)} {unit} in total, head and "
                f"every worker counted (limit {getattr(limits, key)} per cluster, policy "
                f"`quotas.per_cluster.{key}`): ask for fewer workers or smaller ones.",
            )
    return None


def check_user_quota(
    policy: Policy, name: str, usage: Usage, shape: Shape, *, before: Shape | None = None
) -> Refusal | None:
    """``quotas.per_user``: the user's other live clusters plus this one. ``before`` None: a new
    cluster; else a scale, refused only if it asks for more GPUs than the cluster had."""
    limits = policy.quotas.per_user
    new_cluster = before is None
    if new_cluster and limits.clusters is not None and usage.clusters + 1 > limits.clusters:
        return Refusal(
            "quotas.per_user.clusters",
            f":no_entry: You already have {usage.clusters} "
            f"cluster{'s' if usage.clusters != 1 else ''} (limit {limits.clusters}, policy "
            "`quotas.per_user.clusters`): delete one with `/krayne delete NAME`.",
        )
    grew = before is None or shape.gpus > before.gpus
    if limits.gpus is not None and grew and usage.gpus + shape.gpus > limits.gpus:
        return Refusal(
            "quotas.per_user.gpus",
            f":no_entry: `{name}` may use up to {shape.gpus} GPUs and your other clusters hold "
            f"{usage.gpus} (limit {limits.gpus} per user, policy `quotas.per_user.gpus`): "
            "scale one down with `/krayne scale NAME --workers 0` or delete one with "
            "`/krayne delete NAME`.",
        )
    return None


def _shown(amount: Decimal, key: str) -> str:
    """``64`` CPUs, ``300Gi`` memory: how a limit is written in the file."""
    if key == "memory":
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
            if amount >= size and amount % size == 0:
                return f"{amount // size}{unit}"
        return f"{amount.normalize():f}"
    return f"{amount.normalize():f}"


def _mentions(users: Iterable[str]) -> str:
    return ", ".join(f"<@{u}>" for u in users)
