"""The 3-second rule under a burst of commands, and Kubernetes failures told as reasons with
hints: never a traceback or a Python repr, and never a half-created cluster or Secret."""

from __future__ import annotations

import asyncio
import re
import socket
import statistics
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.runtime import BotRuntime
from bot.slack_double.records import EphemeralMessage
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.conftest import bot_settings
from tests.scenarios.harness import (
    CHANNEL,
    WAIT,
    SlackClient,
    rayclusters,
    wait_card,
    wait_created,
)

USER = "U0001"
LEAKS = re.compile(r"Traceback|Error\(|object at 0x|File \"|\{'|kubernetes_asyncio|aiohttp\.")


async def test_twenty_concurrent_creates_are_each_acknowledged_within_three_seconds(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    names = [f"burst-{i:02d}" for i in range(20)]
    bodies = [slack.command_body(f"create {name} --workers 0") for name in names]
    answers = await asyncio.gather(*(slack.post(body) for body in bodies))
    seconds = sorted(a.seconds for a in answers)
    print(
        f"\n20 concurrent /krayne create acks: median {statistics.median(seconds):.3f}s, "
        f"max {seconds[-1]:.3f}s"
    )
    assert [a.status for a in answers] == [200] * 20
    assert seconds[-1] < 3.0, seconds
    for name in names:
        await wait_card(double, name)
    cards = [m.text.split(":")[0] for m in double.messages(CHANNEL)]
    assert sorted(cards) == sorted(f"Ray cluster {name}" for name in names)
    created = [c["metadata"]["name"] for c in await rayclusters(sandbox, namespace)]
    assert sorted(created) == names


def _assert_told_with_reason(note: EphemeralMessage, command: str) -> None:
    assert note.text.startswith(":warning:"), (command, note.text)
    assert "\n_" in note.text, ("no hint", command, note.text)  # the hint line, in italics
    assert "Usage" not in note.text, (command, note.text)  # nothing was mistyped
    assert not LEAKS.search(note.text), (command, note.text)


async def _answer_to(slack: SlackClient, double: SlackDouble, text: str) -> EphemeralMessage:
    """The ephemeral answer that follows the ack of ``/krayne text``."""
    before = len(double.ephemerals(USER))
    answer = await slack.slash(text)
    assert answer.status == 200, (text, answer.body)

    def told() -> EphemeralMessage | None:
        # The work may answer through response_url before the double shows the ack itself.
        later = [e for e in double.ephemerals(USER)[before:] if e.text != answer.text]
        return later[-1] if later else None

    return await double.wait_for(told, timeout=WAIT)


# `list` and `describe` of the watched namespace read the watcher's cache (the test below);
# these ask the API: `--all` lists clusters krayne did not make; a name not in the cache is
# looked up.
COMMANDS = ["list --all", "describe gone", "scale steady --workers 2", "delete steady"]


async def test_kubernetes_errors_are_told_with_a_reason_and_change_nothing(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create steady --workers 1")
    await wait_created(double, "steady")  # its thread is recorded before the API starts failing
    await asyncio.to_thread(sandbox.faults.fail_next, 10**6, 500, path_contains="/rayclusters")
    try:
        for text in [*COMMANDS, "create broken"]:
            _assert_told_with_reason(await _answer_to(slack, double, text), text)
    finally:
        await asyncio.to_thread(sandbox.faults.clear)
    (steady,) = await rayclusters(sandbox, namespace)
    assert steady["metadata"]["name"] == "steady"
    assert steady["spec"]["workerGroupSpecs"][0]["replicas"] == 1  # the failed scale did nothing


async def test_list_and_describe_of_a_watched_namespace_answer_while_the_api_fails(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox
) -> None:
    await slack.slash("create cached --workers 1")
    await wait_created(double, "cached")
    await asyncio.to_thread(sandbox.faults.fail_next, 10**6, 500, path_contains="/rayclusters")
    try:
        listed = await _answer_to(slack, double, "list")
        described = await _answer_to(slack, double, "describe cached")
    finally:
        await asyncio.to_thread(sandbox.faults.clear)
    assert "1 cluster(s)" in listed.text and "cached" in listed.text
    assert described.text.startswith("Ray cluster cached:"), described.text


@pytest.mark.parametrize("resource", ["secrets", "rayclusters"])
async def test_a_refused_create_leaves_no_cluster_and_posts_no_card(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str,
    resource: str,
) -> None:  # fmt: skip
    # Every write of ``resource`` fails. (Whether the services Secret goes once the RayCluster
    # POST fails is core's rule, tested in tests/api: only when the cluster is surely absent.)
    await asyncio.to_thread(
        sandbox.faults.fail_next, 10**6, 500, path_contains=f"/namespaces/{namespace}/{resource}"
    )
    try:
        _assert_told_with_reason(await _answer_to(slack, double, "create broken"), "create")
    finally:
        await asyncio.to_thread(sandbox.faults.clear)
    assert await rayclusters(sandbox, namespace) == []
    if resource == "secrets":  # the first write failed: nothing at all was made
        secrets, _rv = await asyncio.to_thread(sandbox.store.list, "secrets", namespace)
        assert secrets == []
    assert double.messages(CHANNEL) == []  # no card for a cluster that does not exist


async def test_a_card_that_cannot_be_linked_says_the_cluster_exists_nonetheless(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    # Only requests naming the cluster fail: the POST that creates it succeeds, the PATCH
    # recording its card's ts as the thread does not.
    await asyncio.to_thread(
        sandbox.faults.fail_next, 10**6, 500, path_contains="/rayclusters/halfway"
    )
    try:
        note = await _answer_to(slack, double, "create halfway")
    finally:
        await asyncio.to_thread(sandbox.faults.clear)
    assert "`halfway` was created and its card posted" in note.text
    assert not LEAKS.search(note.text)
    await wait_card(double, "halfway")
    assert [c["metadata"]["name"] for c in await rayclusters(sandbox, namespace)] == ["halfway"]


@pytest.fixture
async def unreachable_slack(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str, tmp_path: Path
) -> AsyncIterator[SlackClient]:
    """A bot whose Kubernetes API server is a closed port (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    settings = bot_settings(sandbox, double, namespace, kubeconfig=str(kubeconfig))
    runtime = BotRuntime(settings)
    task = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(30):
            await runtime.started.wait()
        async with aiohttp.ClientSession() as session:
            yield SlackClient(double, f"http://127.0.0.1:{runtime.http_port}/slack/events", session)
    finally:
        runtime.stop()
        async with asyncio.timeout(30):
            await task


@pytest.mark.parametrize("text", [*COMMANDS, "create nowhere"])
async def test_an_unreachable_kubernetes_is_told_with_a_reason_and_a_hint(
    unreachable_slack: SlackClient, double: SlackDouble, text: str
) -> None:
    note = await _answer_to(unreachable_slack, double, text)
    _assert_told_with_reason(note, text)
