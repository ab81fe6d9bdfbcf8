"""`krayne-bot shell`: the real bot in a terminal, like Hubot's Shell adapter.

Each ``/krayne ...`` line becomes a signed slash-command request dispatched through the same Bolt
pipeline as HTTP mode; the bot's Web API calls go to an in-process Slack double whose every
message is printed (``bot/shell/transcript.py``); Kubernetes is the sandbox, run as a child
process (``core/sandbox/process.py``) so that a big cluster's simulation cannot starve the bot,
unless ``--kubeconfig`` is given. Typing a button's number sends a signed ``block_actions`` click.

With a TTY: a prompt_toolkit prompt (history, line editing) appears at once while the sandbox and
the bot start behind it. With piped input: lines run in order, each after the previous one's
work finished; then the shell waits until every cluster it touched has settled and everything
was posted, and exits 0 (non-zero only when the shell itself failed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prompt_toolkit.history import History

    from bot.shell.session import ShellSession
    from core.sandbox.process import SandboxProcess

PROMPT_HELP = """\
Type what you would type in Slack:
  /krayne help                     the bot's help
  /krayne create demo --gpus 1     create a cluster; its card and thread appear below
  1, 2 ...                         click a button of the last answer shown to you
  3.1, 3.2 ...                     click a button of message 3 (a card or a thread reply)
  home                             open the bot's App Home tab
  exit (or Ctrl-D)                 stop the bot and the sandbox"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="krayne-bot shell",
        description="The bot in your terminal: type /krayne commands, read the channel.",
    )
    parser.add_argument("--kubeconfig", help="use this cluster instead of the embedded sandbox")
    parser.add_argument("--context", help="kubeconfig context (with --kubeconfig)")
    parser.add_argument("--user", default="alice", help="your Slack user name (default: alice)")
    parser.add_argument("--channel", default="general", help="the channel (default: general)")
    parser.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="sandbox time compression: 10 means pods start ten times faster (default: 10)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=180.0,
        help="piped input: seconds to wait for clusters to settle before exiting (default: 180)",
    )
    args = parser.parse_args(list(argv))
    if args.speed <= 0:
        parser.error("--speed must be positive")
    args.user, args.channel = args.user.lstrip("@"), args.channel.lstrip("#")
    if not args.user or not args.channel:
        parser.error("--user and --channel need a name")
    return args


def run_shell(argv: Sequence[str]) -> int:
    """Entry point of `krayne-bot shell`; returns the process exit code."""
    args = parse_args(argv)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        return asyncio.run(_interactive(args) if interactive else _piped(args))
    except KeyboardInterrupt:
        return 130


def _write(line: str) -> None:
    print(line, flush=True)


class ShellStartupError(Exception):
    """The sandbox, the Slack double or the bot could not start; the message says why."""


async def _spawn_sandbox(args: argparse.Namespace) -> SandboxProcess | None:
    """Start the sandbox's process first: it starts while this one imports the bot."""
    if args.kubeconfig:
        return None
    from core.sandbox.process import SandboxProcess

    sandbox = SandboxProcess(speed=args.speed)
    try:
        await sandbox.start()
    except OSError as err:
        await sandbox.aclose()
        raise ShellStartupError(f"could not start the sandbox: {err}") from err
    return sandbox


async def _piped(args: argparse.Namespace) -> int:
    session: ShellSession | None = None
    sandbox: SandboxProcess | None = None
    try:
        sandbox = await _spawn_sandbox(args)
        from bot.shell.session import ShellSession

        session = ShellSession(args, write=_write, sandbox=sandbox)
        await session.start()
        # Line by line, as they come: a slow producer's later lines wait for it, not the start.
        lines = _stdin_lines()
        while (line := await lines.get()) is not None:
            if line.strip():
                _write(f"{args.user}> {line.strip()}")
            if not await session.run_line(line, wait=True):
                break
        if not await session.settle(args.timeout):
            _write(f"(gave up waiting after {args.timeout:g}s for: {session.unsettled()})")
    except ShellStartupError as err:
        print(f"krayne-bot shell: {err}", file=sys.stderr)
        return 1
    finally:
        if session is not None:
            await session.close()  # the sandbox with it
        elif sandbox is not None:
            await sandbox.aclose()
    return 0


def _stdin_lines() -> asyncio.Queue[str | None]:
    """stdin's lines (then None) from a daemon thread, so Ctrl-C never waits on a read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the shell is gone
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="shell-stdin", daemon=True).start()
    return queue


def _preload() -> None:
    """The heavy imports (Bolt, kubernetes-asyncio), done on a worker thread so the prompt is
    drawn at once instead of after them. The sandbox is imported by its own process."""
    import importlib

    for module in ("bot.shell.session", "core.kube_asyncio"):
        importlib.import_module(module)


async def _start_session(args: argparse.Namespace) -> ShellSession:
    sandbox = await _spawn_sandbox(args)
    try:
        await asyncio.to_thread(_preload)
        from bot.shell.session import ShellSession

        session = ShellSession(args, write=_write, sandbox=sandbox)
    except BaseException:
        if sandbox is not None:
            await sandbox.aclose()
        raise
    try:
        await session.start()
    except BaseException:
        await session.close()
        raise
    _write(f"ready: you are @{args.user} in #{args.channel}.")
    return session


async def _interactive(args: argparse.Namespace) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.patch_stdout import patch_stdout

    prompt: PromptSession[str] = PromptSession(history=_history())
    with patch_stdout(raw=True):
        where = "" if args.kubeconfig else " and the sandbox"
        _write(f"krayne-bot shell: starting the bot{where}; `help` for help, `exit` to leave.")
        starting = asyncio.create_task(_start_session(args), name="shell-start")
        starting.add_done_callback(_report_startup_failure)
        session: ShellSession | None = None
        try:
            while True:
                try:
                    line = await prompt.prompt_async(f"{args.user}> ")
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    return 0
                text = line.strip()
                if text in ("help", "?"):
                    _write(PROMPT_HELP)
                    continue
                if text in ("exit", "quit"):
                    return 0
                if not text:
                    continue
                if not starting.done():
                    _write("(still starting: this runs as soon as the bot is ready)")
                try:
                    session = await asyncio.shield(starting)
                except ShellStartupError:
                    return 1  # already reported
                if not await session.run_line(line, wait=False):
                    return 0
        finally:
            _write("stopping…")
            if starting.done() and not starting.cancelled() and starting.exception() is None:
                await starting.result().close()
            else:
                starting.cancel()
                with contextlib.suppress(BaseException):
                    await starting


def _report_startup_failure(task: asyncio.Task[ShellSession]) -> None:
    if not task.cancelled() and isinstance(task.exception(), ShellStartupError):
        print(f"krayne-bot shell: {task.exception()} (type exit to leave)", file=sys.stderr)


def _history() -> History:
    """Command history kept across sessions in ~/.krayne_shell_history when it is writable."""
    from pathlib import Path

    from prompt_toolkit.history import FileHistory, InMemoryHistory

    path = Path.home() / ".krayne_shell_history"
    try:
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))
