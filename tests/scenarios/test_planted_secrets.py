"""From Slack, a create whose Secret name is taken by someone else's Secret is refused in a
private, friendly line that names the Secret and what to do; nothing is created (issue 12,
hole 1)."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from manifests.raycluster import auth_secret_name, services_secret_name
from tests.scenarios.harness import WAIT, SlackClient, all_text, rayclusters

ALICE = "U0001"


@pytest.mark.parametrize("secret_of", [services_secret_name, auth_secret_name],
                         ids=["services", "ray-token"])  # fmt: skip
async def test_a_create_over_someone_elses_secret_is_refused_privately(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str,
    secret_of: object,
) -> None:  # fmt: skip
    assert callable(secret_of)
    secret = secret_of("db")
    planted = {"metadata": {"name": secret, "namespace": namespace},
               "stringData": {"notebook-token": "attacker", "auth_token": "attacker"}}  # fmt: skip
    await asyncio.to_thread(sandbox.store.create, "secrets", planted)

    await slack.slash("create db", user=ALICE)
    told = await double.wait_for(
        lambda: next((all_text(m) for m in double.ephemerals(ALICE)
                      if f"`{secret}` already exists" in all_text(m)), None),
        WAIT,
    )  # fmt: skip
    assert f"kubectl delete secret {secret} -n {namespace}" in str(told)
    assert "nothing was created" in str(told)
    assert not [c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "db"]
    kept = sandbox.store.get("secrets", namespace, secret)
    assert not kept["metadata"].get("ownerReferences")
