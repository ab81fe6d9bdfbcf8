"""One shell session: sandbox (unless a kubeconfig is given), Slack double, the real bot runtime,
and the user's lines turned into signed Slack requests.

The bot is the same ``BotRuntime`` as ``krayne-bot serve`` minus its HTTP listener: requests go
through ``BotRuntime.dispatch`` (bolt's HTTP pipeline, signature check included) and the Web API
client points at the double. ``ShellRuntime`` only adds a count of commands in flight, so piped
input can run each line after the previous one's work finished.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import re
import secrets
import sys
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from typing import Any

from bot import facts
from bot.blocks import card_text, parse_ref
from bot.facts import NOTIFIED, SLACK_CHANNEL, SLACK_THREAD_TS, CardView
from bot.grammar import CreateCommand, DeleteCommand, ScaleCommand, UsageError, parse_command
from bot.notifier import parse_record
from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.shell import PROMPT_HELP, ShellStartupError
from bot.shell_transcript import Transcript
from bot.signing import (
    JSON,
    app_home_opened_event,
    block_actions_body,
    event_body,
    signed_headers,
    slash_command_body,
)
from bot.slack_double import SlackDouble
from bot.slack_records import Channel, User
from core.errors import KrayneError
from core.status import ClusterStatus, Phase

log = logging.getLogger(__name__)

USER_ID, CHANNEL_ID, TEAM_ID = "U0001", "C0001", "T0001"
BOT_TOKEN = "xoxb-krayne-shell"
STARTUP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
_CLICK = re.compile(r"^\d+(\.\d+)?$")


class ShellRuntime(BotRuntime):
    """``BotRuntime`` that knows when no command's slow half is running any more."""

    def __init__(self, settings: BotSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.busy = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        async def tracked() -> None:
            try:
                await work
            finally:
                self._finished()

        wrapper = tracked()
        self.busy += 1
        self.idle.clear()
        super().spawn(wrapper, name)
        if inspect.getcoroutinestate(wrapper) == inspect.CORO_CLOSED:  # refused: stopping
            work.close()
            self._finished()

    def _finished(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            self.idle.set()


class ShellSession:
    """Start with ``start()``, feed lines to ``run_line()``, end with ``close()``."""

    def __init__(self, args: argparse.Namespace, *, write: Callable[[str], None]) -> None:
        self.args = args
        self._write = write
        self._secret = secrets.token_hex(16)
        self._stack = AsyncExitStack()
        self._run_task: asyncio.Task[None] | None = None
        self._touched: set[tuple[str, str]] = set()
        self._cards: dict[tuple[str, str], tuple[str, str]] = {}
        self.double: SlackDouble | None = None
        self.runtime: ShellRuntime | None = None
        self.transcript: Transcript | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="[%(levelname)s %(name)s] %(message)s"
        )
        try:
            await self._start()
        except KrayneError as err:
            hint = f" ({err.hint})" if err.hint else ""
            raise ShellStartupError(f"{err.message}{hint}") from err
        except OSError as err:
            raise ShellStartupError(f"could not start: {err}") from err

    async def _start(self) -> None:
        kubeconfig, context = self.args.kubeconfig, self.args.context
        if not kubeconfig:
            from core.sandbox.runner import Sandbox

            sandbox = await self._stack.enter_async_context(Sandbox(speed=self.args.speed))
            kubeconfig, context = str(sandbox.kubeconfig_path), None
        double = self.double = SlackDouble(
            bot_token=BOT_TOKEN,
            team_id=TEAM_ID,
            channels=[Channel(CHANNEL_ID, self.args.channel)],
            users=[User(USER_ID, self.args.user, self.args.user.title())],
        )
        await self._stack.enter_async_context(double)
        self.transcript = Transcript(double, user_id=USER_ID, write=self._write)
        self._stack.callback(double.on_event(self.transcript.handle))
        settings = BotSettings.load(
            {
                "slack_bot_token": BOT_TOKEN,
                "slack_signing_secret": self._secret,
                "slack_api_url": double.base_url,
                "kubeconfig": kubeconfig,
                "kube_context": context,
                "socket_mode": False,
            }
        )
        runtime = self.runtime = ShellRuntime(settings, http=False)
        self._run_task = asyncio.create_task(runtime.run(), name="krayne-bot")
        self._stack.push_async_callback(self._stop_runtime)
        await self._until_ready(runtime, self._run_task, where=self.args.kubeconfig)

    @staticmethod
    async def _until_ready(
        runtime: ShellRuntime, run_task: asyncio.Task[None], *, where: str | None
    ) -> None:
        async def synced() -> None:
            await runtime.started.wait()
            assert runtime.watcher is not None
            await runtime.watcher.wait_synced(STARTUP_TIMEOUT)

        ready = asyncio.create_task(synced(), name="shell-ready")
        try:
            done, _ = await asyncio.wait(
                {ready, run_task}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if run_task in done:
            error = run_task.exception()
            if isinstance(error, BaseExceptionGroup) and error.exceptions:
                error = error.exceptions[0]
            raise ShellStartupError(f"the bot stopped while starting: {error}") from error
        if ready not in done or ready.exception() is not None:
            raise ShellStartupError(
                f"Kubernetes ({where or 'the sandbox'}) did not answer within "
                f"{STARTUP_TIMEOUT:g}s; check --kubeconfig and --context"
            )

    async def _stop_runtime(self) -> None:
        if self.runtime is None or self._run_task is None:
            return
        self.runtime.stop()
        if self._run_task.done():  # it failed while starting; that error was reported
            if not self._run_task.cancelled():
                self._run_task.exception()
            return
        try:
            await asyncio.wait_for(self._run_task, timeout=self.runtime.settings.drain_timeout + 5)
        except (TimeoutError, asyncio.CancelledError):
            self._run_task.cancel()
        except Exception as err:  # the bot failed while stopping: say so, still tear down
            self._write(f"(the bot stopped with an error: {err})")

    async def close(self) -> None:
        await self._stack.aclose()

    # --- lines ------------------------------------------------------------------------------

    async def run_line(self, line: str, *, wait: bool) -> bool:
        """Handle one typed line; False when the user asked to leave."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        if text in ("exit", "quit"):
            return False
        if text in ("help", "?"):
            self._write(PROMPT_HELP)
        elif text.split()[0] == "/krayne":
            await self.command(text.removeprefix("/krayne").strip())
        elif text.startswith("/"):
            self._write(f"(Slack: {text.split()[0]} is not a valid command; this app has /krayne)")
        elif _CLICK.match(text):
            await self.click(text)
        elif text == "home":
            await self.open_home()
        else:
            self._write("(krayne only reads /krayne commands here; type `help`)")
        if wait and self.runtime is not None:
            await self._commands_done()
        return True

    async def command(self, text: str) -> None:
        """Send ``/krayne <text>`` as Slack would, and show the acknowledgement."""
        double, transcript = self._parts()
        transcript.new_action()
        self._remember_target(text)
        body = slash_command_body(
            text=text,
            user_id=USER_ID,
            user_name=self.args.user,
            channel_id=CHANNEL_ID,
            channel_name=self.args.channel,
            team_id=TEAM_ID,
            response_url=double.new_response_url(channel=CHANNEL_ID, user=USER_ID),
            trigger_id=double.new_trigger_id(USER_ID),
        )
        await self._dispatch(body, signed_headers(self._secret, body), ack_visible=True)

    async def click(self, spec: str) -> None:
        """Click the button ``spec`` names: a signed ``block_actions`` request."""
        double, transcript = self._parts()
        found = transcript.find(spec)
        if isinstance(found, str):
            self._write(f"({found})")
            return
        target, button = found
        message = None if target.is_ephemeral else double.message(target.channel, target.message_ts)
        value = str(button.element.get("value", ""))
        if "/" in value:
            self._touched.add(parse_ref(value))
        body = block_actions_body(
            user_id=USER_ID,
            user_name=self.args.user,
            team_id=TEAM_ID,
            channel_id=target.channel,
            channel_name=self.args.channel,
            action=button.element,
            block_id=button.block_id,
            message_ts=target.message_ts,
            message=message.to_api(TEAM_ID) if message else None,
            is_ephemeral=target.is_ephemeral,
            response_url=double.new_response_url(
                channel=target.channel,
                user=USER_ID,
                message_ts=target.message_ts,
                is_ephemeral=target.is_ephemeral,
                thread_ts=target.thread_ts,
            ),
            trigger_id=double.new_trigger_id(USER_ID),
            thread_ts=target.thread_ts,
        )
        self._write(f"(you clicked “{button.label}”)")
        transcript.new_action()
        await self._dispatch(body, signed_headers(self._secret, body), ack_visible=False)

    async def open_home(self) -> None:
        self._parts()[1].new_action()
        body = event_body(app_home_opened_event(USER_ID), team_id=TEAM_ID, bot_user_id="UBOT")
        headers = signed_headers(self._secret, body, content_type=JSON)
        await self._dispatch(body, headers, ack_visible=False)

    async def _dispatch(
        self, body: bytes, headers: Mapping[str, str], *, ack_visible: bool
    ) -> None:
        double, transcript = self._parts()
        assert self.runtime is not None
        transcript.hold()
        try:
            status, response_headers, raw = await self.runtime.dispatch(body, headers)
            if status != 200:
                self._write(f"(the bot answered HTTP {status}; Slack shows the request failed)")
            elif raw.strip() and ack_visible:
                double.deliver_ack(
                    channel=CHANNEL_ID, user=USER_ID, payload=_ack_payload(response_headers, raw)
                )
        finally:
            transcript.release()

    def _remember_target(self, text: str) -> None:
        try:
            cmd = parse_command(text)
        except UsageError:
            return
        if isinstance(cmd, CreateCommand | DeleteCommand | ScaleCommand):
            assert self.runtime is not None
            self._touched.add((cmd.namespace or self.runtime.settings.namespace, cmd.name))

    def _parts(self) -> tuple[SlackDouble, Transcript]:
        if self.double is None or self.transcript is None:
            raise RuntimeError("the shell session is not started")
        return self.double, self.transcript

    async def _commands_done(self) -> None:
        assert self.runtime is not None
        try:
            await asyncio.wait_for(self.runtime.idle.wait(), COMMAND_TIMEOUT)
        except TimeoutError:
            self._write(f"(the command is still running after {COMMAND_TIMEOUT:g}s)")

    # --- settling ---------------------------------------------------------------------------

    def _pending(self) -> list[str]:
        """Touched clusters that are not settled yet, or whose news is not all posted."""
        assert self.runtime is not None and self.runtime.watcher is not None
        waiting = []
        for key in sorted(self._touched):
            namespace, name = key
            change = self.runtime.watcher.get(namespace, name)
            if change is None or change.deleted:
                if not self._card_says_gone(key):
                    waiting.append(f"{name} (deleted, card not updated yet)")
                continue
            phase = change.status.phase
            # mypy takes facts.annotations for that module's `from __future__ import annotations`
            notes: dict[str, str] = facts.annotations(change.raycluster)  # type: ignore[attr-defined,operator]
            if notes.get(SLACK_THREAD_TS):
                self._cards[key] = (notes.get(SLACK_CHANNEL, CHANNEL_ID), notes[SLACK_THREAD_TS])
            record = parse_record(notes.get(NOTIFIED))
            announced = not notes.get(SLACK_THREAD_TS) or (
                record is not None and record["phase"] == phase.value
            )
            if not phase.is_settled or not announced:
                waiting.append(f"{name} ({phase.value})")
        return waiting

    def _card_says_gone(self, key: tuple[str, str]) -> bool:
        """The deleted cluster's card (if it had one) shows it is gone."""
        if key not in self._cards or self.double is None:
            return True
        channel, ts = self._cards[key]
        message = self.double.message(channel, ts)
        gone = CardView(key[1], key[0], None, ClusterStatus(Phase.DELETING, ""), None, 0, 0, 0,
                        gone=True)  # fmt: skip
        return message is None or message.text == card_text(gone)

    def unsettled(self) -> str:
        return ", ".join(self._pending()) or "messages still being posted"

    async def settle(self, within: float) -> bool:
        """Wait until every touched cluster settled and all the bot had to say was posted."""
        runtime = self.runtime
        assert runtime is not None and runtime.watcher is not None and runtime.notifier is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        changed = asyncio.Event()

        async def pump(changes: Any) -> None:
            async for _change in changes:
                changed.set()

        async with runtime.watcher.subscribe() as changes:
            pumping = asyncio.create_task(pump(changes), name="shell-settle")
            try:
                while (remaining := deadline - loop.time()) > 0:
                    changed.clear()
                    if self._pending():
                        # Woken by the next cluster change (a 1 s re-check guards the rest).
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
                        continue
                    try:
                        async with asyncio.timeout(remaining):
                            await runtime.idle.wait()
                            await runtime.notifier.wait_idle()
                    except TimeoutError:
                        return False
                    drained = await runtime.outbox.drain(max(0.0, deadline - loop.time()))
                    if drained and runtime.idle.is_set() and not self._pending():
                        return True
                return False
            finally:
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping


def _ack_payload(headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """A slash command's HTTP answer as Slack reads it: JSON message or plain text."""
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "json" in content_type:
        payload = json.loads(raw)
        if isinstance(payload, dict):
            return payload
    return {"text": raw.decode()}
