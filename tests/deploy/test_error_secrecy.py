"""Errors shown in Slack never reveal where the API server is or who the bot is on it
(issue 12, hole 7). The logs keep both: they are for the operator.

Both failures are real: an API server address nobody listens on, and a 403 from the sandbox
enforcing RBAC on the bot's own ServiceAccount token.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.slack_double.server import SlackDouble
from tests.deploy.rbac_env import deployed, managed_role
from tests.scenarios.harness import SECRET, WAIT, SlackClient, all_text

ALICE = "U0001"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


@asynccontextmanager
async def _bot(double: SlackDouble, kubeconfig: Path, namespace: str) -> AsyncIterator[SlackClient]:
    settings = BotSettings.load({
        "slack_bot_token": double.bot_token, "slack_signing_secret": SECRET,
        "slack_api_url": double.base_url, "kubeconfig": str(kubeconfig),
        "namespace": namespace, "host": "127.0.0.1", "port": 0, "drain_timeout": 1.0,
    })  # fmt: skip
    runtime = BotRuntime(settings)
    task = asyncio.create_task(runtime.run(), name="bot-under-test")
    try:
        async with asyncio.timeout(WAIT):
            await runtime.started.wait()
        async with aiohttp.ClientSession() as session:
            yield SlackClient(double, f"http://127.0.0.1:{runtime.http_port}/slack/events",
                              session)  # fmt: skip
    finally:
        runtime.stop()
        async with asyncio.timeout(30):
            await task


async def _answer(slack: SlackClient, double: SlackDouble, text: str, needle: str) -> str:
    """What ``/krayne text`` finally tells Alice (the ack or the private follow-up)."""
    before = len(double.ephemerals(ALICE))
    ack = await slack.slash(text, user=ALICE)
    if needle in ack.text:
        return ack.text
    found = await double.wait_for(
        lambda: next((all_text(m) for m in double.ephemerals(ALICE)[before:]
                      if needle in all_text(m)), None),
        WAIT,
    )  # fmt: skip
    return str(found)


def _assert_secret(text: str, *, server: str) -> None:
    host_port = server.split("://", 1)[-1].rstrip("/")
    assert server not in text and host_port not in text, text
    assert "127.0.0.1" not in text and "serviceaccount" not in text, text


async def test_an_unreachable_api_server_is_not_named_in_slack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = f"https://127.0.0.1:{_closed_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": server,
                                                  "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
        "current-context": "gone",
    }))  # fmt: skip
    async with SlackDouble() as double, _bot(double, kubeconfig, "default") as slack:
        for command in ("list", "create demo"):
            text = await _answer(slack, double, command, "Kubernetes API")
            assert "connection refused" in text
            _assert_secret(text, server=server)
    assert any(server in r.getMessage() for r in caplog.records), "the logs name the server"


async def test_a_forbidden_request_does_not_name_the_service_account_in_slack(
    tmp_path: Path,
) -> None:
    async with deployed(tmp_path) as env, SlackDouble() as double:
        rules = managed_role(env.objects)["rules"]
        env.set_rules([
            {**rule, "verbs": [v for v in rule["verbs"] if v != "create"]}
            if "rayclusters" in rule["resources"] else rule
            for rule in rules
        ])  # fmt: skip
        async with _bot(double, env.kubeconfig, env.namespace) as slack:
            text = await _answer(slack, double, "create demo --no-notebook --no-code-server"
                                 " --no-ssh", "forbidden")  # fmt: skip
        assert any("system:serviceaccount:" in refusal for refusal in env.denied)
        assert "cannot create" in text
        _assert_secret(text, server=_server(env.kubeconfig))
