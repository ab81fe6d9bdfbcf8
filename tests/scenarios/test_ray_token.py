"""After create the owner is told privately where the cluster's Ray token is (issue 12, hole
2); the channel never sees it, and the token itself never goes to Slack."""

from __future__ import annotations

import base64

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from manifests.raycluster import AUTH_TOKEN_KEY, auth_secret_name
from tests.scenarios.harness import WAIT, SlackClient, all_text, wait_created

ALICE = "U0001"
CHANNEL = "C0001"


async def test_the_owner_alone_learns_how_to_read_the_ray_token(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create locked", user=ALICE)
    howto = f"kubectl get secret {auth_secret_name('locked')} -n {namespace}"
    told = await double.wait_for(
        lambda: next((m for m in double.ephemerals(ALICE) if howto in all_text(m)), None), WAIT
    )
    assert AUTH_TOKEN_KEY in all_text(told) and "RAY_AUTH_TOKEN" in all_text(told)
    card = await wait_created(double, "locked")

    secret = sandbox.store.get("secrets", namespace, auth_secret_name("locked"))
    token = base64.b64decode(secret["data"][AUTH_TOKEN_KEY]).decode()
    public = [all_text(m) for m in double.messages(CHANNEL)]
    public += [all_text(m) for m in double.thread(CHANNEL, card.ts)]
    assert not any("kubectl get secret" in text for text in public)
    everything = public + [all_text(m) for m in double.ephemerals(ALICE)]
    assert not any(token in text for text in everything)
