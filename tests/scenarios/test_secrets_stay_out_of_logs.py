"""A whole create → ready → delete flow through signed Slack requests, logged at DEBUG, never
writes the Slack signing secret, the bot token, or any token of the cluster (notebook token,
code-server password, Ray's auth token) to the logs (issue 12)."""

from __future__ import annotations

import base64
import logging

import pytest
import yaml

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from manifests.raycluster import auth_secret_name, services_secret_name
from tests.scenarios.conftest import RunningBot
from tests.scenarios.harness import (
    SECRET,
    WAIT,
    SlackClient,
    all_text,
    current,
    wait_created,
    wait_reply,
)

ALICE = "U0001"


def _secret_values(sandbox: ThreadedSandbox, namespace: str, name: str) -> list[str]:
    stored = sandbox.store.get("secrets", namespace, name)
    return [base64.b64decode(v).decode() for v in (stored.get("data") or {}).values()]


async def test_a_full_cluster_lifecycle_logs_no_secret(
    caplog: pytest.LogCaptureFixture,
    bot: RunningBot,
    slack: SlackClient,
    double: SlackDouble,
    sandbox: ThreadedSandbox,
    namespace: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    await slack.slash("create hush", user=ALICE)
    card = await wait_created(double, "hush")
    await wait_reply(double, card, "is ready")
    tokens = _secret_values(sandbox, namespace, services_secret_name("hush"))
    tokens += _secret_values(sandbox, namespace, auth_secret_name("hush"))
    assert len(tokens) == 3 and all(len(t) >= 24 for t in tokens)  # notebook, code-server, Ray

    await slack.click(current(double, card), "krayne_delete", user=ALICE)
    confirm = await double.wait_for(
        lambda: next((m for m in reversed(double.ephemerals(ALICE))
                      if "Delete cluster `hush`" in all_text(m)), None),
        WAIT,
    )  # fmt: skip
    await slack.click(confirm, "krayne_delete_confirm", is_ephemeral=True)  # type: ignore[arg-type]
    await wait_reply(double, card, "Deleted by")

    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert "Sending a request" in logged, "slack_sdk's DEBUG lines were captured"
    secrets = {"signing secret": SECRET, "bot token": double.bot_token}
    kubeconfig = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    for user in kubeconfig.get("users") or ():
        if (user.get("user") or {}).get("token"):
            secrets[f"Kubernetes token of {user['name']}"] = user["user"]["token"]
    secrets |= {f"cluster token {i}": token for i, token in enumerate(tokens)}
    leaked = [what for what, value in secrets.items() if value in logged]
    assert leaked == [], f"in the logs: {leaked}"
