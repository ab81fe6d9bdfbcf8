"""`krayne-bot serve` as an operator runs it: a process configured by the environment."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys

import aiohttp
import pytest

from bot.serve import JsonFormatter, load_settings, run_serve
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.harness import SECRET, SlackClient, wait_created, wait_reply

LISTENING = re.compile(rb"listening on http://[0-9.]+:(\d+)/slack/events")


def serve_env(
    sandbox: ThreadedSandbox,
    double: SlackDouble,
    namespace: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a `krayne-bot serve` against the sandbox and the Slack double."""
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": double.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "KRAYNE_SLACK_API_URL": double.base_url,
        "KUBECONFIG": str(sandbox.kubeconfig_path),
        "KRAYNE_NAMESPACE": namespace,
        "KRAYNE_CARD_INTERVAL": "0.05",
        **(extra or {}),
    }


async def spawn_serve(env: dict[str, str]) -> asyncio.subprocess.Process:
    """`krayne-bot serve` as its own process, its log on a pipe."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", "0", "--host", "127.0.0.1",
        env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    return process


async def listening_url(process: asyncio.subprocess.Process) -> str:
    """The URL the process says it listens on (port 0: the kernel chose)."""
    assert process.stderr is not None
    async with asyncio.timeout(30):
        while True:
            line = await process.stderr.readline()
            assert line, "krayne-bot serve exited before listening"
            if found := LISTENING.search(line):
                return f"http://127.0.0.1:{int(found.group(1))}"


async def until_ready(session: aiohttp.ClientSession, url: str) -> None:
    async with asyncio.timeout(30):
        while True:
            async with session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.05)  # polling a separate process's endpoint


async def test_serve_runs_from_the_environment_and_stops_cleanly_on_sigterm(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    env = serve_env(
        sandbox,
        double,
        namespace,
        {
            "KRAYNE_LOG_FORMAT": "text",
        },
    )
    process = await spawn_serve(env)
    try:
        url = await listening_url(process)
        async with aiohttp.ClientSession() as session:
            await until_ready(session, url)
            slack = SlackClient(double, f"{url}/slack/events", session)
            answer = await slack.slash("create served")
            assert answer.status == 200
            await wait_created(double, "served")
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_delivers_what_is_queued_then_hands_the_lease_over_and_exits(
    sandbox: ThreadedSandbox, double: SlackDouble, namespace: str
) -> None:
    """A thread note is stuck behind Slack's 429 when SIGTERM arrives: the process stops taking
    requests, sends the note once Slack allows, releases the Lease, and exits 0 within its
    drain bound."""
    drain = 5.0
    env = serve_env(
        sandbox,
        double,
        namespace,
        {
            "KRAYNE_DRAIN_TIMEOUT": str(drain),
            "KRAYNE_LEASE_DURATION": "2",
            "KRAYNE_RENEW_DEADLINE": "1.5",
            "KRAYNE_RETRY_PERIOD": "1",
        },
    )
    process = await spawn_serve(env)
    try:
        url = await listening_url(process)
        async with aiohttp.ClientSession() as session:
            await until_ready(session, url)
            slack = SlackClient(double, f"{url}/slack/events", session)
            assert (await slack.slash("create drained")).status == 200
            card = await wait_created(double, "drained")
            await wait_reply(double, card, "is ready")
            double.fail_next("chat.postMessage", "ratelimited", retry_after=2)
            assert (await slack.slash("scale drained --workers 1")).status == 200
            await double.wait_for(
                lambda: [c for c in double.calls_to("chat.postMessage") if c.status == 429],
                timeout=30,
            )
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(drain + 10):
            assert await process.wait() == 0
        assert loop.time() - signalled < drain + 5
        await wait_reply(double, card, "scaled")  # delivered before the exit, not lost
        lease = await asyncio.to_thread(sandbox.store.get, "leases", namespace, "krayne-bot")
        assert not lease["spec"].get("holderIdentity"), "the Lease was handed over"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("argv", "needed"),
    [([], ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]), (["--socket-mode"], ["SLACK_APP_TOKEN"])],
)
def test_serve_without_slack_credentials_says_which_are_missing(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needed: list[str],
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    if argv:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert run_serve(argv) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in needed)


def test_serve_rejects_an_invalid_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KRAYNE_LOG_FORMAT", "xml")
    assert run_serve([]) == 2
    assert "log_format" in capsys.readouterr().err


def test_flags_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAYNE_NAMESPACE", "from-env")
    monkeypatch.setenv("KUBECONFIG", "/env/kubeconfig")
    settings = load_settings(["--kubeconfig", "/flag/kubeconfig", "--port", "8080"])
    assert settings.kubeconfig == "/flag/kubeconfig"
    assert settings.namespace == "from-env"
    assert settings.port == 8080


def test_json_logs_are_one_object_per_line_with_the_exception_inside() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "bot.x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    line = formatter.format(record)
    entry = json.loads(line)
    assert entry["message"] == "failed here" and entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exc"] and "\n" not in line


def test_lease_timings_the_election_would_refuse_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """kubernetes-asyncio needs lease duration > renew deadline > 1.2 × retry period: said at
    start, not discovered when the first election begins."""
    monkeypatch.setenv("KRAYNE_LEASE_DURATION", "10")
    monkeypatch.setenv("KRAYNE_RENEW_DEADLINE", "10")
    assert run_serve([]) == 2
    assert "lease_duration > renew_deadline" in capsys.readouterr().err
