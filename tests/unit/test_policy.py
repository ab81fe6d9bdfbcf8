"""The policy file and its rules, as tables: what is refused, by which rule, and what it says."""

from __future__ import annotations

import asyncio
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import build_config
from core.errors import ConfigValidationError
from core.objects import RayClusterView
from core.policy import OPEN, load_policy, parse_policy
from core.policy_file import PolicyFile
from core.policy_rules import (
    Shape,
    Usage,
    check_channel,
    check_cluster,
    check_images,
    check_namespace,
    check_user,
    check_user_quota,
    home_namespace,
    may_modify,
    shape_of,
    usage_of,
)
from manifests.raycluster import build_raycluster

EXAMPLE = """\
admins: [U0ADMIN]                      # Slack user IDs
default_namespace: default
channels:                              # Slack channel ID -> namespace
  C0MLTEAM: {namespace: ml-team}
strict_channels: false
allowed_users: []
quotas:
  per_user: {clusters: 3, gpus: 8}
  per_cluster: {workers: 16, gpus_per_worker: 8, cpus: "64", memory: 256Gi}
images:
  allowed: ["rayproject/ray:*"]
"""

POLICY = parse_policy(
    {
        "admins": ["U0ADMIN"],
        "default_namespace": "default",
        "channels": {"C0MLTEAM": {"namespace": "ml-team"}},
        "quotas": {
            "per_user": {"clusters": 3, "gpus": 8},
            "per_cluster": {"workers": 16, "gpus_per_worker": 8, "cpus": "64", "memory": "256Gi"},
        },
        "images": {"allowed": ["rayproject/ray:*"]},
    }
)


def test_the_issue_example_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(EXAMPLE)
    policy = load_policy(path)
    assert policy.admins == ["U0ADMIN"]
    assert policy.channels["C0MLTEAM"].namespace == "ml-team"
    assert policy.quotas.per_user.gpus == 8
    assert policy.quotas.per_cluster.amount("memory") == Decimal(256 * 2**30)


def test_no_file_is_the_open_policy() -> None:
    assert load_policy(None) == OPEN
    assert OPEN.admins == [] and not OPEN.strict_channels and not OPEN.limits_usage


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"admin": ["U1"]}, "admin: unknown key"),
        ({"admins": ["alice"]}, "admins.0: 'alice' is not a Slack user ID"),
        ({"channels": {"general": {"namespace": "x"}}}, "channels.general"),
        ({"channels": {"C1": {"namespace": "ML_Team"}}}, "channels.C1.namespace"),
        ({"channels": {"C1": {"namspace": "x"}}}, "channels.C1.namspace: unknown key"),
        ({"quotas": {"per_user": {"gpus": -1}}}, "quotas.per_user.gpus"),
        ({"quotas": {"per_user": {"gpus": "eight"}}}, "quotas.per_user.gpus"),
        ({"quotas": {"per_cluster": {"memory": "lots"}}}, "quotas.per_cluster.memory"),
        ({"quotas": {"per_cluster": {"cpus": 0}}}, "quotas.per_cluster.cpus"),
        ({"quotas": {"per_users": {}}}, "quotas.per_users: unknown key"),
        ({"images": {"allowed": "rayproject/*"}}, "images.allowed"),
        ({"strict_channels": "sometimes"}, "strict_channels"),
        ({"default_namespace": "Not A Namespace"}, "default_namespace"),
        ({"admins": "U0ADMIN"}, "admins: must be a list, e.g. `[U0ADMIN]`, got 'U0ADMIN'"),
        ({"channels": {"C1": "ml"}}, "channels.C1: must be a mapping of keys"),
    ],
)
def test_a_bad_policy_names_the_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        parse_policy(data)
    assert any(named in line for line in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("- a list\n", "must hold a mapping such as `admins: \\[U0ADMIN\\]`"),
        ("admins: [U1\n", "not valid YAML"),
        ("admins: [U1]\nadmins: [U2]\n", "duplicate key"),
    ],
)
def test_a_bad_policy_file_says_why(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigValidationError, match=named):
        load_policy(path)


def test_a_missing_policy_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError, match="was not found"):
        PolicyFile.open(tmp_path / "nope.yaml")


def test_a_changed_file_is_reloaded_and_a_bad_change_keeps_the_last_good_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("admins: [U1]\n")
    watched = PolicyFile.open(path)
    assert watched.current.admins == ["U1"]
    assert watched.reload_if_changed() is False  # unchanged

    path.write_text("admins: [U1, U2]\n")
    os.utime(path, ns=(1, 1))  # a different stamp even within the filesystem's time resolution
    assert watched.reload_if_changed() is True
    assert watched.current.admins == ["U1", "U2"]

    with caplog.at_level(logging.ERROR, logger="core.policy_file"):
        path.write_text("admins: [U1, U2]\nquotas: {per_user: {gpus: many}}\n")
        os.utime(path, ns=(2, 2))
        assert watched.reload_if_changed() is False
    assert watched.current.admins == ["U1", "U2"]
    assert "quotas.per_user.gpus" in caplog.text and "keeping the last good policy" in caplog.text
    assert watched.last_error is not None


async def test_the_watch_task_puts_a_changed_policy_in_force(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("admins: [U1]\n")
    changed = asyncio.Event()
    watched = PolicyFile.open(path, interval=0.01, on_change=lambda _policy: changed.set())
    task = asyncio.create_task(watched.run())
    try:
        path.write_text("admins: [U2]\n")
        os.utime(path, ns=(3, 3))
        async with asyncio.timeout(5):
            await changed.wait()
        assert watched.current.admins == ["U2"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --- who and where --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "user", "refused"),
    [([], "U9", False), (["U1"], "U1", False), (["U1"], "U9", True), (["U1"], "U0ADMIN", False)],
)
def test_allowed_users(allowed: list[str], user: str, refused: bool) -> None:
    policy = POLICY.model_copy(update={"allowed_users": allowed})
    refusal = check_user(policy, user)
    assert (refusal is not None) is refused
    if refusal:
        assert "allowed_users" in refusal.text and "<@U0ADMIN>" in refusal.text


@pytest.mark.parametrize(
    ("strict", "channel", "user", "refused"),
    [
        (False, "C0OTHER", "U1", False),
        (True, "C0MLTEAM", "U1", False),
        (True, "C0OTHER", "U1", True),
        (True, "C0OTHER", "U0ADMIN", False),
    ],
)
def test_strict_channels(strict: bool, channel: str, user: str, refused: bool) -> None:
    policy = POLICY.model_copy(update={"strict_channels": strict})
    refusal = check_channel(policy, channel, user)
    assert (refusal is not None) is refused
    if refusal:
        assert refusal.rule == "strict_channels" and "<#C0MLTEAM>" in refusal.text


@pytest.mark.parametrize(
    ("channel", "requested", "user", "refused"),
    [
        ("C0MLTEAM", None, "U1", False),
        ("C0MLTEAM", "ml-team", "U1", False),
        ("C0MLTEAM", "default", "U1", True),
        ("C0MLTEAM", "default", "U0ADMIN", False),
        ("C0OTHER", "default", "U1", False),
        ("C0OTHER", "ml-team", "U1", True),
    ],
)
def test_namespace_follows_the_channel(
    channel: str, requested: str | None, user: str, refused: bool
) -> None:
    refusal = check_namespace(
        POLICY, user=user, channel=channel, requested=requested, fallback="bot-ns"
    )
    assert (refusal is not None) is refused
    if refusal:
        assert refusal.rule == "channels" and f"-n {requested}" in refusal.text


def test_without_mappings_any_namespace_may_be_asked_for() -> None:
    assert check_namespace(OPEN, user="U1", channel="C1", requested="x", fallback="y") is None


@pytest.mark.parametrize(
    ("channel", "expected"), [("C0MLTEAM", "ml-team"), ("C0OTHER", "default")]
)
def test_home_namespace(channel: str, expected: str) -> None:
    assert home_namespace(POLICY, channel, "bot-ns") == expected
    assert home_namespace(OPEN, channel, "bot-ns") == "bot-ns"


@pytest.mark.parametrize(
    ("user", "owner", "allowed"),
    [("U1", "U1", True), ("U2", "U1", False), ("U0ADMIN", "U1", True), ("U1", None, False)],
)
def test_owner_or_admin_may_modify(user: str, owner: str | None, allowed: bool) -> None:
    assert may_modify(POLICY, user, owner) is allowed


# --- what a cluster asks for ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "refused"),
    [
        ([], False),
        (["rayproject/ray:2.53.0-py311"], False),
        (["evil/miner:latest"], True),
        (["rayproject/ray:2.53.0", "docker.io/rayproject/ray:2.53.0"], True),
    ],
)
def test_explicit_images_must_match_the_allowlist(images: list[str], refused: bool) -> None:
    refusal = check_images(POLICY, images)
    assert (refusal is not None) is refused
    if refusal:
        assert refusal.rule == "images.allowed" and "`rayproject/ray:*`" in refusal.text
    assert check_images(OPEN, images) is None


def _shape(**flags: Any) -> Shape:
    group = {"name": "worker", **flags}
    config = build_config({"name": "demo", "worker_groups": [group]})
    return shape_of(RayClusterView.parse(build_raycluster(config)))


def test_shape_counts_the_most_a_cluster_may_run() -> None:
    shape = _shape(replicas=2, max_replicas=4, gpus=2, cpus="4", memory="16Gi")
    assert shape.workers == 4  # autoscaling may grow it to maxReplicas
    assert shape.gpus == 8 and shape.gpus_per_worker == 2
    assert shape.cpus == 1 + 4 * 4  # the head's CPU too
    assert shape.memory == 4 * 2**30 + 4 * 16 * 2**30


@pytest.mark.parametrize(
    ("flags", "rule", "says"),
    [
        ({"replicas": 20}, "quotas.per_cluster.workers", "up to 20 workers (limit 16"),
        ({"replicas": 1, "gpus": 16}, "quotas.per_cluster.gpus_per_worker", "16 GPUs per worker"),
        ({"replicas": 10, "cpus": "8"}, "quotas.per_cluster.cpus",
         "81 CPUs in total, head and every worker counted (limit 64"),
        ({"replicas": 10, "memory": "32Gi"}, "quotas.per_cluster.memory", "324Gi memory"),
        ({"replicas": 16, "cpus": "3", "memory": "8Gi"}, None, ""),
    ],
)  # fmt: skip
def test_per_cluster_limits(flags: dict[str, Any], rule: str | None, says: str) -> None:
    refusal = check_cluster(POLICY, "demo", _shape(**flags))
    assert (refusal.rule if refusal else None) == rule
    if refusal:
        assert says in refusal.text, refusal.text


def test_a_scale_is_refused_only_for_what_grows() -> None:
    big = _shape(replicas=20)
    assert check_cluster(POLICY, "demo", _shape(replicas=18), before=big) is None
    assert check_cluster(POLICY, "demo", _shape(replicas=21), before=big) is not None


@pytest.mark.parametrize(
    ("usage", "gpus", "before_gpus", "rule", "says"),
    [
        (Usage(3, 0), 0, None, "quotas.per_user.clusters",
         "You already have 3 clusters (limit 3, policy `quotas.per_user.clusters`): "
         "delete one with `/krayne delete NAME`."),
        (Usage(2, 4), 4, None, None, ""),
        (Usage(2, 4), 5, None, "quotas.per_user.gpus", "your other clusters hold 4 (limit 8"),
        (Usage(3, 8), 2, 1, "quotas.per_user.gpus", "up to 2 GPUs"),
        (Usage(3, 8), 1, 2, None, ""),  # scaling down is always allowed
    ],
)  # fmt: skip
def test_per_user_quotas(
    usage: Usage, gpus: int, before_gpus: int | None, rule: str | None, says: str
) -> None:
    shape = Shape(1, gpus, gpus, Decimal(1), Decimal(1))
    before = None if before_gpus is None else Shape(1, 1, before_gpus, Decimal(1), Decimal(1))
    refusal = check_user_quota(POLICY, "demo", usage, shape, before=before)
    assert (refusal.rule if refusal else None) == rule
    if refusal:
        assert says in refusal.text, refusal.text


def test_usage_counts_the_users_live_clusters_only() -> None:
    def cluster(name: str, owner: str, gpus: int, deleting: bool = False) -> RayClusterView:
        config = build_config({"name": name, "worker_groups": [{"replicas": 1, "gpus": gpus}]})
        body = build_raycluster(config, owner=owner)
        if deleting:
            body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        return RayClusterView.parse(body)

    live = [
        cluster("a", "U1", 2),
        cluster("b", "U1", 1),
        cluster("c", "U2", 4),
        cluster("d", "U1", 8, deleting=True),
    ]
    assert usage_of(live, "U1") == Usage(2, 3)
    assert usage_of(live, "U1", leaving_out=("default", "a")) == Usage(1, 1)
    assert usage_of(live, "U3") == Usage(0, 0)
