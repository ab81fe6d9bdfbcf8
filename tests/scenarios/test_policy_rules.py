"""The access policy end to end: signed Slack requests into the running bot, the sandbox behind.

Each refused command is answered with the rule, the limit and the usage, and creates nothing:
after the refusal has arrived, the sandbox holds no such RayCluster. Allowed actions leave an
audit Event on the RayCluster that `kubectl describe` shows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.blocks import DELETE, DELETE_CONFIRM
from bot.runtime import BotRuntime
from bot.slack_double.records import Channel, Message, User
from bot.slack_double.server import SlackDouble
from core.config import build_config
from core.errors import ConfigValidationError
from core.sandbox.runner import ThreadedSandbox
from manifests.raycluster import build_raycluster
from tests.sandbox_fixtures import kubectl_path
from tests.scenarios.conftest import RunningBot, bot_settings
from tests.scenarios.harness import (
    WAIT,
    SlackClient,
    all_text,
    current,
    rayclusters,
    wait_created,
)

ALICE, BOB, ADMIN = "U0001", "U0002", "U0ADMIN"
GENERAL, ML = "C0001", "C0MLTEAM"


@pytest.fixture
async def double() -> AsyncIterator[SlackDouble]:
    """The workspace: alice, bob and an admin; #general (unmapped) and #ml-team (mapped)."""
    async with SlackDouble(
        channels=(Channel(GENERAL, "general"), Channel(ML, "ml-team")),
        users=(
            User(ALICE, "alice", "Alice Example"),
            User(BOB, "bob", "Bob Example"),
            User(ADMIN, "root", "Rita Admin"),
        ),
    ) as running:
        yield running


@pytest.fixture
async def ml_namespace(sandbox: ThreadedSandbox) -> str:
    name = f"ml-{secrets.token_hex(4)}"
    await asyncio.to_thread(sandbox.store.create, "namespaces", {"metadata": {"name": name}})
    return name


Start = Callable[..., Any]


@pytest.fixture
async def policy_bot(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str, ml_namespace: str,
    tmp_path: Path,
) -> AsyncIterator[Start]:  # fmt: skip
    """``await start(**policy)``: the bot with that policy file, and a signed Slack client."""
    running: list[RunningBot] = []
    session = aiohttp.ClientSession()

    async def start(**policy: Any) -> SlackClient:
        path = tmp_path / "policy.yaml"
        document = {
            "admins": [ADMIN],
            "default_namespace": namespace,
            "channels": {ML: {"namespace": ml_namespace}},
            **policy,
        }
        path.write_text(yaml.safe_dump(document))
        settings = bot_settings(
            sandbox, double, namespace, policy_file=str(path),
            watch_namespaces=f"{namespace},{ml_namespace}",
        )  # fmt: skip
        bot = RunningBot(settings)
        await bot.start()
        running.append(bot)
        return SlackClient(double, f"{bot.url}/slack/events", session)

    try:
        yield start
    finally:
        for bot in running:
            await bot.stop()
        await session.close()


def ephemeral(double: SlackDouble, user: str, needle: str) -> Callable[[], Message | None]:
    def find() -> Message | None:
        for message in reversed(double.ephemerals(user)):
            if needle in all_text(message):
                return message  # type: ignore[return-value]
        return None

    return find


async def refused(double: SlackDouble, user: str, needle: str) -> str:
    """The refusal ``user`` was shown (it says ``needle``)."""
    return all_text(await double.wait_for(ephemeral(double, user, needle), WAIT))


async def names(sandbox: ThreadedSandbox, namespace: str) -> set[str]:
    return {c["metadata"]["name"] for c in await rayclusters(sandbox, namespace)}


def audit_events(sandbox: ThreadedSandbox, namespace: str, name: str) -> list[dict[str, Any]]:
    items, _ = sandbox.store.list("events", namespace)
    return [
        e for e in items
        if e["involvedObject"].get("name") == name and e.get("reason", "").startswith("Slack")
    ]  # fmt: skip


# --- admin vs owner vs other -------------------------------------------------------------------


async def test_only_the_owner_or_an_admin_may_scale_or_delete(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger="krayne.audit")
    slack = await policy_bot()
    await slack.slash("create owned --workers 1", user=ALICE)
    card = await wait_created(double, "owned")

    await slack.slash("scale owned --workers 3", user=BOB)
    said = await refused(double, BOB, "Only the owner of `owned`")
    assert "<@U0001>" in said
    await slack.click(current(double, card), DELETE, user=BOB)
    await refused(double, BOB, "may delete it")
    (cluster,) = await rayclusters(sandbox, namespace)
    assert cluster["spec"]["workerGroupSpecs"][0]["replicas"] == 1, "bob changed nothing"

    await slack.slash("scale owned --workers 2", user=ADMIN)
    await refused(double, ADMIN, "Scaled `owned`")  # the admin's success note
    (cluster,) = await rayclusters(sandbox, namespace)
    assert cluster["spec"]["workerGroupSpecs"][0]["replicas"] == 2

    await slack.click(current(double, card), DELETE, user=ADMIN)
    confirm = await double.wait_for(ephemeral(double, ADMIN, "Delete cluster `owned`"), WAIT)
    await slack.click(confirm, DELETE_CONFIRM, user=ADMIN, is_ephemeral=True)
    await double.wait_for(ephemeral(double, ADMIN, "Deleting `owned`"), WAIT)

    lines = [r.getMessage() for r in caplog.records if r.name == "krayne.audit"]
    assert any(
        'action="scale"' in line and 'user="U0002"' in line and 'result="refused:owner"' in line
        and 'team="T0001"' in line and 'channel="C0001"' in line
        and f'namespace="{namespace}"' in line and 'cluster="owned"' in line
        and 'command="/krayne scale owned --workers 3"' in line
        for line in lines
    ), lines
    assert any('action="delete"' in line and 'user="U0ADMIN"' in line and 'result="ok"' in line
               and 'command="button krayne_delete_confirm' in line for line in lines), lines

    events = audit_events(sandbox, namespace, "owned")
    told = [(e["reason"], e["message"]) for e in events]
    assert any(r == "SlackCreate" and "U0001" in m for r, m in told), told
    assert any(r == "SlackScaleRefused" and "U0002" in m for r, m in told), told
    assert any(r == "SlackDeleteRefused" and "U0002" in m for r, m in told), told
    assert any(r == "SlackScale" and "U0ADMIN" in m for r, m in told), told
    assert any(r == "SlackDelete" and "U0ADMIN" in m for r, m in told), told


# --- quotas ------------------------------------------------------------------------------------


async def test_a_user_over_the_cluster_or_gpu_quota_is_refused_and_nothing_is_created(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    slack = await policy_bot(quotas={"per_user": {"clusters": 2, "gpus": 2}})
    await slack.slash("create gpu-one --gpus 2", user=ALICE)
    await wait_created(double, "gpu-one")

    await slack.slash("create gpu-two --gpus 1", user=ALICE)
    said = await refused(double, ALICE, "quotas.per_user.gpus")
    assert "`gpu-two` may use up to 1 GPUs and your other clusters hold 2 (limit 2" in said
    assert "gpu-two" not in await names(sandbox, namespace)

    await slack.slash("create cpu-one", user=ALICE)
    await wait_created(double, "cpu-one")
    await slack.slash("create cpu-two", user=ALICE)
    said = await refused(double, ALICE, "quotas.per_user.clusters")
    assert "You already have 2 clusters (limit 2" in said
    assert "delete one with `/krayne delete NAME`" in said
    assert await names(sandbox, namespace) == {"gpu-one", "cpu-one"}

    await slack.slash("create bobs --gpus 2", user=BOB)  # the quota is per user
    await wait_created(double, "bobs")


async def test_scaling_past_the_gpu_quota_is_refused_and_changes_nothing(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    slack = await policy_bot(quotas={"per_user": {"gpus": 2}})
    await slack.slash("create gpus --gpus 1", user=ALICE)
    await wait_created(double, "gpus")
    await slack.slash("scale gpus --workers 3", user=ALICE)
    said = await refused(double, ALICE, "quotas.per_user.gpus")
    assert "up to 3 GPUs" in said and "(limit 2" in said
    (cluster,) = await rayclusters(sandbox, namespace)
    assert cluster["spec"]["workerGroupSpecs"][0]["replicas"] == 1


async def test_the_thousand_worker_cluster_of_the_issue_is_refused(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    slack = await policy_bot(
        quotas={"per_cluster": {"workers": 16, "gpus_per_worker": 8, "cpus": "64",
                                "memory": "256Gi"}}
    )  # fmt: skip
    await slack.slash("create demo3 --workers 1000 --gpus 128", user=ALICE)
    said = await refused(double, ALICE, "quotas.per_cluster.workers")
    assert "up to 1000 workers (limit 16 per cluster" in said
    await slack.slash("create demo4 --workers 2 --gpus 16", user=ALICE)
    said = await refused(double, ALICE, "quotas.per_cluster.gpus_per_worker")
    assert "16 GPUs per worker (limit 8" in said
    assert await names(sandbox, namespace) == set()


# --- images ------------------------------------------------------------------------------------


async def test_an_image_outside_the_allowlist_is_refused(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    slack = await policy_bot(images={"allowed": ["rayproject/ray:*"]})
    await slack.slash("create miner --image docker.io/evil/miner:latest", user=ALICE)
    said = await refused(double, ALICE, "images.allowed")
    assert "Image `docker.io/evil/miner:latest` is not allowed here" in said
    assert "`rayproject/ray:*`" in said
    assert await names(sandbox, namespace) == set()

    await slack.slash("create plain", user=ALICE)  # krayne's own default image is always fine
    await wait_created(double, "plain")


# --- channels and namespaces -------------------------------------------------------------------


async def test_strict_mode_refuses_an_unmapped_channel_at_once(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str,
    ml_namespace: str,
) -> None:  # fmt: skip
    slack = await policy_bot(strict_channels=True)
    answer = await slack.slash("create stray", user=ALICE, channel=GENERAL)
    assert answer.status == 200
    assert "policy `strict_channels` is on" in answer.text and f"<#{ML}>" in answer.text
    await slack.slash("list", user=ALICE, channel=GENERAL)
    await refused(double, ALICE, "strict_channels")
    assert await names(sandbox, namespace) == set()
    assert await names(sandbox, ml_namespace) == set()

    admin = await slack.slash("list", user=ADMIN, channel=GENERAL)  # admins may use any channel
    assert "strict_channels" not in admin.text


async def test_a_mapped_channel_creates_in_its_namespace_and_keeps_others_out(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str,
    ml_namespace: str,
) -> None:  # fmt: skip
    slack = await policy_bot()
    await slack.slash("create team-job", user=ALICE, channel=ML)
    await double.wait_for(
        lambda: next((m for m in double.messages(ML) if "team-job" in m.text), None), WAIT
    )
    assert await names(sandbox, ml_namespace) == {"team-job"}
    assert await names(sandbox, namespace) == set()

    answer = await slack.slash(f"create sneaky -n {namespace}", user=ALICE, channel=ML)
    assert "policy `channels`" in answer.text
    assert f"-n {namespace}` is for admins only" in answer.text
    assert "sneaky" not in await names(sandbox, namespace)

    await slack.slash(f"create ops -n {namespace}", user=ADMIN, channel=ML)
    await double.wait_for(
        lambda: next((m for m in double.messages(ML) if "ops" in m.text), None), WAIT
    )
    assert await names(sandbox, namespace) == {"ops"}


async def test_allowed_users_keeps_everyone_else_out(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    slack = await policy_bot(allowed_users=[ALICE])
    answer = await slack.slash("create bobs", user=BOB)
    assert "policy `allowed_users`" in answer.text and f"<@{ADMIN}>" in answer.text
    await slack.slash("create alices", user=ALICE)
    await wait_created(double, "alices")
    assert await names(sandbox, namespace) == {"alices"}


# --- the policy file itself, and the audit trail -----------------------------------------------


def test_a_bad_policy_file_stops_the_bot_before_it_serves(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("admins: [U0ADMIN]\nquotas: {per_user: {gpu: 8}}\n")
    settings = bot_settings(sandbox, double, namespace, policy_file=str(path))
    with pytest.raises(ConfigValidationError) as caught:
        BotRuntime(settings)
    assert any("quotas.per_user.gpu: unknown key" in p for p in caught.value.problems)


@pytest.mark.skipif(kubectl_path() is None, reason="kubectl is not installed")
async def test_kubectl_describe_shows_who_did_what_from_slack(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    slack = await policy_bot()
    await slack.slash("create traced --workers 1", user=ALICE)
    await wait_created(double, "traced")
    await slack.slash("scale traced --workers 2", user=BOB)
    await refused(double, BOB, "Only the owner")
    binary = kubectl_path()
    assert binary is not None
    described = await asyncio.to_thread(
        subprocess.run,
        [binary, "--kubeconfig", str(sandbox.kubeconfig_path), "describe", "raycluster",
         "traced", "-n", namespace],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    out = described.stdout
    assert "SlackCreate" in out and "create by Slack user U0001" in out, out
    assert "SlackScaleRefused" in out and "scale (refused:owner) by Slack user U0002" in out, out


# --- clusters krayne did not make --------------------------------------------------------------


async def test_list_and_describe_show_krayne_clusters_unless_asked_for_all(
    policy_bot: Start, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    foreign = build_raycluster(build_config({"name": "foreign", "namespace": namespace}))
    foreign["metadata"]["labels"] = {"team": "data"}  # applied with kubectl, not by krayne
    await asyncio.to_thread(sandbox.store.create, "rayclusters", foreign)
    slack = await policy_bot()
    await slack.slash("create ours", user=ALICE)
    await wait_created(double, "ours")

    await slack.slash("list", user=ALICE)
    table = await refused(double, ALICE, "1 cluster(s)")
    assert "ours" in table and "foreign" not in table
    await slack.slash("list --all", user=ALICE)
    table = await refused(double, ALICE, "2 cluster(s)")
    assert "foreign" in table and "not managed by krayne" in table

    await slack.slash("describe foreign", user=ALICE)
    said = await refused(double, ALICE, "was not made by krayne")
    assert "`/krayne describe foreign --all`" in said
    await slack.slash("describe foreign --all", user=ALICE)
    shown = await refused(double, ALICE, "Ray cluster foreign")
    assert "not managed by krayne" in shown

    await slack.slash("delete foreign", user=ADMIN)  # not even an admin: krayne leaves it alone
    await refused(double, ADMIN, "krayne leaves it alone")
    assert "foreign" in await names(sandbox, namespace)
