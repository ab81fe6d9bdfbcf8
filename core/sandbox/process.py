"""The sandbox in a child process, for the shell: the simulated operator, scheduler and kubelet of
a 1000-pod cluster then compete with the bot for a CPU core, not for the bot's event loop.

Parent side: ``async with SandboxProcess(speed=10) as sandbox`` runs ``python -m
core.sandbox.process``, waits for its ready line under a deadline, and on exit stops it: closes
its stdin, then SIGTERM, then SIGKILL, each after a bound. Whatever ends the parent (even
SIGKILL), the OS closes the parent's end of that stdin pipe and the child, reading it, sees EOF
and stops: no orphan, on Linux and macOS alike (POSIX read(): "If no process has the pipe open
for writing, read() shall return 0 to indicate end-of-file",
pubs.opengroup.org/onlinepubs/9699919799/functions/read.html; ``prctl(PR_SET_PDEATHSIG)`` is
Linux only). The child runs in a session of its own (``start_new_session``: setsid()), so the
terminal's Ctrl-C or Ctrl-Z reaches the shell, which stops the sandbox after its bot.

Child side: ``main()`` runs a ``Sandbox``, prints ``READY <url>`` once it listens and its
kubeconfig is written, and serves until stdin ends or SIGTERM; then, with ``--remove-dir``, it
removes the kubeconfig's directory, which a killed parent could not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from core.errors import KrayneError, SandboxError

READY = "READY "
START_TIMEOUT = 30.0  # a cold start imports the simulation: ~1 s here, far more on a busy laptop
STOP_GRACE = 5.0  # per step: stdin EOF, then SIGTERM, then SIGKILL


class SandboxProcess:
    """A sandbox (API server + simulation) in a child process; ``kubeconfig_path`` points at it."""

    def __init__(self, *, speed: float = 1.0, start_timeout: float = START_TIMEOUT) -> None:
        if speed <= 0:
            raise SandboxError(f"speed must be positive, not {speed}")
        self.speed = speed
        self.start_timeout = start_timeout
        self.url = ""
        self.kubeconfig_path = Path()
        self._proc: asyncio.subprocess.Process | None = None
        self._tmpdir: str | None = None
        self._started_at = 0.0
        #: How the child ended (0: it stopped at its stdin's EOF or SIGTERM); None while it runs.
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def __aenter__(self) -> SandboxProcess:
        try:
            await self.start()
            await self.wait_ready()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the child and return at once (``wait_ready`` waits for it): the caller can
        start other things meanwhile. Does nothing if it was started already."""
        if self._tmpdir is not None:
            return
        self._started_at = asyncio.get_running_loop().time()
        self._tmpdir = tempfile.mkdtemp(prefix="krayne-sandbox-")
        self.kubeconfig_path = Path(self._tmpdir) / "kubeconfig"
        with self._log_path.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "core.sandbox.process",
                "--speed", repr(self.speed), "--kubeconfig-out", str(self.kubeconfig_path),
                "--remove-dir",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                start_new_session=True,
            )  # fmt: skip

    async def wait_ready(self) -> None:
        """Until the child serves (its kubeconfig is written); ``SandboxError`` if it exits
        first or takes longer than ``start_timeout``."""
        if self.url:
            return
        if self._proc is None or self._proc.stdout is None:
            raise SandboxError("the sandbox process was not started")
        proc, stdout = self._proc, self._proc.stdout
        try:
            async with asyncio.timeout_at(self._started_at + self.start_timeout):
                while not (line := await stdout.readline()).startswith(READY.encode()):
                    if not line:
                        await proc.wait()
                        raise SandboxError(
                            f"the sandbox exited while starting (code {proc.returncode}): "
                            + self._last_log_line()
                        )
        except TimeoutError:
            raise SandboxError(
                f"the sandbox did not start within {self.start_timeout:g}s: "
                + self._last_log_line()
            ) from None
        self.url = line.decode().removeprefix(READY).strip()

    @property
    def _log_path(self) -> Path:
        assert self._tmpdir is not None
        return Path(self._tmpdir) / "sandbox.log"

    def _last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = self._log_path.read_text(errors="replace").strip().splitlines()
            if lines:
                return lines[-1].strip()
        return "it printed nothing"

    async def aclose(self) -> None:
        """Stop the child (stdin EOF, then SIGTERM, then SIGKILL) and remove its directory."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.returncode is None:
                await _stop(proc)
        finally:
            if proc is not None and proc.returncode is None:  # cancelled while stopping it
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            if proc is not None:
                self.returncode = proc.returncode
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    for step in (None, proc.terminate, proc.kill):
        if step is not None:
            with contextlib.suppress(ProcessLookupError):
                step()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
            return
        except TimeoutError:
            continue


# --- the child ---------------------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m core.sandbox.process",
        description="The sandbox for a parent process: READY <url> on stdout, stops at stdin EOF.",
    )
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--kubeconfig-out", required=True)
    parser.add_argument(
        "--remove-dir",
        action="store_true",
        help="remove the kubeconfig's directory after a clean stop (the parent's temporary "
        "directory, left behind if the parent was killed)",
    )
    return parser.parse_args(list(argv))


def _until_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Blocks on stdin (a thread: works for any kind of stdin) and sets ``stop`` at its end."""
    with contextlib.suppress(OSError, ValueError):
        while sys.stdin.buffer.read(4096):
            pass
    with contextlib.suppress(RuntimeError):  # the loop already closed
        loop.call_soon_threadsafe(stop.set)


async def _serve(args: argparse.Namespace) -> None:
    from core.sandbox.runner import Sandbox

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    threading.Thread(target=_until_eof, args=(loop, stop), name="stdin-eof", daemon=True).start()
    async with Sandbox(speed=args.speed, kubeconfig_out=args.kubeconfig_out) as sandbox:
        print(f"{READY}{sandbox.url}", flush=True)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads stdout from now on
        await stop.wait()
    if args.remove_dir:
        shutil.rmtree(Path(args.kubeconfig_out).parent, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="[%(levelname)s %(name)s] %(message)s"
    )
    try:
        asyncio.run(_serve(args))
    except KrayneError as err:
        print(f"{err.message}" + (f" ({err.hint})" if err.hint else ""), file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
