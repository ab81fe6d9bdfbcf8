"""One shell session: sandbox (unless a kubeconfig is given; a child process of its own), Slack
double, the real bot runtime, and the user's lines turned into signed Slack requests.

The bot is the same ``BotRuntime`` as ``krayne-bot serve`` minus its HTTP listener: requests go
through ``BotRuntime.dispatch`` (bolt's HTTP pipeline, signature check included) and the Web API
client points at the double. ``ShellRuntime`` (``bot/shell/runtime.py``) only adds a count of
commands in flight, so piped input can run each line after the previous one's work finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

from bot.blocks import parse_ref
from bot.create_form import CREATE_FORM
from bot.grammar import CreateCommand, DeleteCommand, ScaleCommand, UsageError, parse_command
from bot.settings import BotSettings
from bot.shell.cli import PROMPT_HELP, ShellStartupError
from bot.shell.forms import FormFill
from bot.shell.runtime import Settling, ShellRuntime
from bot.shell.signing import (
    JSON,
    app_home_opened_event,
    block_actions_body,
    event_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from bot.shell.transcript import Transcript
from bot.slack_double.records import Channel, SlackError, User, ViewOpened
from bot.slack_double.server import SlackDouble
from core.errors import KrayneError
from core.sandbox.process import SandboxProcess

log = logging.getLogger(__name__)

USER_ID, CHANNEL_ID, TEAM_ID = "U0001", "C0001", "T0001"
BOT_TOKEN = "xoxb-krayne-shell"
STARTUP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
_CLICK = re.compile(r"\d+(\.\d+)?")


class ShellSession:
    """Start with ``start()``, feed lines to ``run_line()``, end with ``close()``."""

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        write: Callable[[str], None],
        sandbox: SandboxProcess | None = None,
    ) -> None:
        """``sandbox``: one already started (``SandboxProcess.start``); the session stops it.
        Without ``--kubeconfig`` and without one, ``start`` starts its own."""
        self.args = args
        self._write = write
        self._secret = secrets.token_hex(16)
        self._stack = AsyncExitStack()
        self._sandbox = sandbox
        if sandbox is not None:
            self._stack.push_async_callback(sandbox.aclose)
        self._run_task: asyncio.Task[None] | None = None
        self._touched: set[tuple[str, str]] = set()
        self._settle: Settling | None = None
        self.double: SlackDouble | None = None
        self.runtime: ShellRuntime | None = None
        self.transcript: Transcript | None = None
        self._form: FormFill | None = None

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
        sandbox = self._sandbox
        if not kubeconfig and sandbox is None:
            sandbox = self._sandbox = SandboxProcess(speed=self.args.speed)
            self._stack.push_async_callback(sandbox.aclose)
        if sandbox is not None:
            await sandbox.start()  # a process of its own: a big simulation cannot starve the bot
        double = self.double = SlackDouble(
            bot_token=BOT_TOKEN,
            team_id=TEAM_ID,
            channels=[Channel(CHANNEL_ID, self.args.channel)],
            users=[User(USER_ID, self.args.user, self.args.user.title())],
        )
        await self._stack.enter_async_context(double)
        self.transcript = Transcript(double, user_id=USER_ID, write=self._write)
        self._stack.callback(double.on_event(self.transcript.handle))
        self._stack.callback(double.on_event(self._form_opened))
        if sandbox is not None:
            await sandbox.wait_ready()
            kubeconfig, context = str(sandbox.kubeconfig_path), None
        settings = BotSettings.load(
            {
                "slack_bot_token": BOT_TOKEN,
                "slack_signing_secret": self._secret,
                "slack_api_url": double.base_url,
                "kubeconfig": kubeconfig,
                "kube_context": context,
                "socket_mode": False,
                # One process talking to its own double: nobody to elect against.
                "leader_election": False,
            }
        )
        if not self.args.kubeconfig:
            # The embedded sandbox's time runs --speed times faster; so do the bot's waits.
            settings = settings.faster(self.args.speed)
        runtime = self.runtime = ShellRuntime(settings, http=False)
        self._run_task = asyncio.create_task(runtime.run(), name="krayne-bot")
        self._stack.push_async_callback(self._stop_runtime)
        await self._until_ready(runtime, self._run_task, where=self.args.kubeconfig)
        self._settle = Settling(runtime, double, self._touched, channel=CHANNEL_ID)

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
        if self._form is not None and not text.startswith(("/", "#")):
            await self._form.answer(line)
            if not self._form.asking:
                self._form = None
            if wait and self.runtime is not None:
                await self._commands_done()
            return True
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
        elif _CLICK.fullmatch(text):
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

    def _form_opened(self, event: object) -> None:
        if isinstance(event, ViewOpened) and event.user == USER_ID and event.view.get(
            "callback_id"
        ) == CREATE_FORM:
            self._form = FormFill(event.view, write=self._write, submit=self._submit_form)

    async def _submit_form(
        self, view: dict[str, Any], values: dict[str, Any]
    ) -> tuple[int, bytes]:
        assert self.runtime is not None
        body = view_submission_body(
            user_id=USER_ID, user_name=self.args.user, team_id=TEAM_ID, view=view, values=values
        )
        headers = signed_headers(self._secret, body)
        status, _headers, raw = await self.runtime.dispatch(body, headers)
        return status, raw

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
                payload = _ack_payload(response_headers, raw)
                try:
                    double.deliver_ack(channel=CHANNEL_ID, user=USER_ID, payload=payload)
                except SlackError as err:
                    problems = "; ".join(err.messages)
                    self._write(f"(Slack refused the bot's answer: {err.code} {problems})".strip())
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

    def unsettled(self) -> str:
        return self._settle.describe() if self._settle else "the bot did not start"

    async def settle(self, within: float) -> bool:
        """Wait until every touched cluster settled and all the bot had to say was posted."""
        if self._settle is None:
            return True
        return await self._settle.wait(within)


def _ack_payload(headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """A slash command's HTTP answer as Slack reads it: JSON message or plain text."""
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "json" in content_type:
        payload = json.loads(raw)
        if isinstance(payload, dict):
            return payload
    return {"text": raw.decode()}
