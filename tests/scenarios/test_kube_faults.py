"""The bot while Kubernetes misbehaves (the sandbox's fault injection), seen from Slack.

- A watch stream failing (500s on every pods request, dropped watches): ``/readyz`` says the
  watches are not synced while the informer backs off, and ready again once it has re-listed.
- The API server gone: a command is still acknowledged within Slack's budget, then answered
  privately with "Kubernetes is not reachable", and nothing is half-created (no RayCluster,
  no Secret, no card).
"""

from __future__ import annotations

import asyncio

import aiohttp

from bot.readiness import ReadinessSettings
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.conftest import RunningBot, bot_settings
from tests.scenarios.harness import CHANNEL, SlackClient, rayclusters

FAST = ReadinessSettings(interval=0.05, timeout=2.0, stale_after=10.0)
ACK_BUDGET = 3.0


async def _readyz(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def _until(session: aiohttp.ClientSession, url: str, status: int, within: float = 30) -> str:
    async with asyncio.timeout(within):
        while True:
            answer, body = await _readyz(session, url)
            if answer == status:
                return body
            await asyncio.sleep(0.02)  # asking another server: a condition with a deadline


async def test_readyz_says_unsynced_while_a_watch_backs_off_and_ready_once_it_relisted(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    running = RunningBot(bot_settings(sandbox, double, namespace), readiness=FAST)
    await running.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{running.url}/readyz"
            assert await _readyz(session, url) == (200, "ready\n")
            # Pods requests fail; the readiness probe (a RayCluster GET) still gets answers.
            await asyncio.to_thread(
                sandbox.faults.fail_next, 1_000_000, 500, path_contains="/pods"
            )
            await asyncio.to_thread(sandbox.faults.drop_watches)
            try:
                body = await _until(session, url, 503)
            finally:
                await asyncio.to_thread(sandbox.faults.clear)
            assert body.startswith("not ready: Kubernetes watches are not synced")
            assert await _until(session, url, 200) == "ready\n"
    finally:
        await running.stop()


async def test_with_the_api_server_down_a_command_says_kubernetes_is_not_reachable(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    running = RunningBot(bot_settings(sandbox, double, namespace), readiness=FAST)
    await running.start()
    try:
        # Every request now fails as an API server that is down behind its load balancer does.
        await asyncio.to_thread(sandbox.faults.fail_next, 1_000_000, 503)
        try:
            async with aiohttp.ClientSession() as session:
                slack = SlackClient(double, f"{running.url}/slack/events", session)
                answer = await slack.slash("create unreachable")
                assert answer.status == 200
                assert answer.seconds < ACK_BUDGET
                told = await double.wait_for(
                    lambda: [e for e in double.ephemerals("U0001")
                             if "not reachable" in e.text],  # fmt: skip
                    timeout=30,
                )
        finally:
            await asyncio.to_thread(sandbox.faults.clear)
        assert "Kubernetes is not reachable" in told[0].text
        assert await rayclusters(sandbox, namespace) == []
        secrets, _ = await asyncio.to_thread(sandbox.store.list, "secrets", namespace)
        assert [s for s in secrets if "unreachable" in s["metadata"]["name"]] == []
        assert not [m for m in double.messages(CHANNEL) if "unreachable" in m.text]
    finally:
        await running.stop()
