"""The bot itself, from Slack, as the ServiceAccount deploy/ creates: nothing more is needed.

The running BotRuntime (watcher, notifier, commands, HTTP endpoint) gets a kubeconfig holding
only the ServiceAccount's token; a user drives it over signed HTTP requests as Slack would, and
the RBAC-enforcing sandbox refuses anything deploy/'s Role does not grant. No request may be
refused along the whole lifecycle.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.slack_double.server import SlackDouble
from tests.deploy.rbac_env import bot_account, deployed
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


async def test_bot_as_its_service_account_creates_scales_and_deletes_from_slack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with deployed(tmp_path, with_kubectl=True) as env, SlackDouble() as double:
        settings = BotSettings.load({
            "slack_bot_token": double.bot_token,
            "slack_signing_secret": SECRET,
            "slack_api_url": double.base_url,
            "kubeconfig": str(env.kubeconfig),
            "namespace": env.namespace,
            # As deploy/ sets it: the Lease in the bot's own namespace, where its Role allows.
            "lease_namespace": bot_account(env.objects)[0],
            "host": "127.0.0.1",
            "port": 0,
            "card_interval": 0.05,
            "drain_timeout": 5.0,
        })  # fmt: skip
        runtime = BotRuntime(settings)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(runtime.run(), name="bot-as-service-account")
            async with asyncio.timeout(WAIT):
                await runtime.started.wait()
            assert runtime.watcher is not None and await runtime.watcher.wait_synced(WAIT)
            url = f"http://127.0.0.1:{runtime.http_port}/slack/events"
            async with aiohttp.ClientSession() as session:
                slack = SlackClient(double, url, session)

                assert (await slack.slash("create demo --workers 1", user=ALICE)).status == 200
                card = await wait_created(double, "demo")
                ready = await wait_reply(double, card, "is ready")
                assert f"<@{ALICE}>" in ready.text

                await slack.slash("scale demo --workers 2", user=ALICE)
                await wait_reply(double, card, "scaled group `worker` to 2")

                for listing in ("list", "list --all"):  # --all stays within the granted namespace
                    before = len(double.ephemerals(ALICE))
                    await slack.slash(listing, user=ALICE)
                    await double.wait_for(
                        lambda n=before: any(
                            "demo" in all_text(m) for m in double.ephemerals(ALICE)[n:]
                        ),
                        WAIT,
                    )
                await slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
                await double.wait_for(lambda: double.published_views(ALICE), WAIT)

                await slack.click(current(double, card), "krayne_delete", user=ALICE)
                confirm = await double.wait_for(
                    lambda: next((m for m in reversed(double.ephemerals(ALICE))
                                  if "Delete cluster `demo`" in all_text(m)), None),
                    WAIT,
                )  # fmt: skip
                await slack.click(confirm, "krayne_delete_confirm", is_ephemeral=True)  # type: ignore[arg-type]
                await wait_reply(double, card, "Deleted by")
            runtime.stop()
            await task
    assert env.denied == [], "the bot was refused"
    refused = [r.getMessage() for r in caplog.records if "forbidden" in r.getMessage()]
    assert not refused, f"the bot was refused: {refused}"
    assert not env.sandbox.store.list("rayclusters", env.namespace)[0]
