"""`krayne-bot shell` on a terminal: the prompt comes up while the bot starts, commands typed at
it run, and Ctrl-D stops the bot and the sandbox cleanly."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """The shell on a pseudo-terminal; ``expect`` reads until a text appears or time runs out."""

    def __init__(self, *args: str) -> None:
        self._fd, follower = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "shell", *args],
            stdin=follower, stdout=follower, stderr=follower, close_fds=True,
            env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
        )  # fmt: skip
        os.close(follower)
        self.raw = bytearray()
        self._seen = 0

    @property
    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.raw)).decode(errors="replace")

    def expect(self, marker: str, timeout: float = 30) -> None:
        """Wait for ``marker`` to appear after what the previous ``expect`` matched."""
        deadline = time.monotonic() + timeout
        while marker not in self.text[self._seen :]:
            left = deadline - time.monotonic()
            assert left > 0, f"{marker!r} not shown; screen ends with:\n{self.text[-1500:]}"
            ready, _, _ = select.select([self._fd], [], [], min(left, 0.2))
            if ready:
                try:
                    self.raw += os.read(self._fd, 65536)
                except OSError:  # the shell exited and closed the terminal
                    assert marker in self.text[self._seen :], self.text[-1500:]
                    break
        self._seen = self.text.index(marker, self._seen) + len(marker)

    def type(self, keys: str) -> None:
        os.write(self._fd, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self._fd)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal("--speed", "50")
    yield term
    term.close()


def test_prompt_runs_typed_commands_and_ctrl_d_exits(terminal: Terminal) -> None:
    terminal.expect("alice>", timeout=10)
    terminal.expect("ready: you are @alice in #general.")
    terminal.type("/krayne create demo\r")
    terminal.expect("#general · krayne")
    terminal.expect("▌ Ray cluster demo")
    terminal.expect("alice>")  # the prompt is back: keys typed before it would go to the tty
    terminal.type("\x04")  # Ctrl-D
    terminal.expect("stopping…")
    assert terminal.proc.wait(timeout=30) == 0
    assert "Traceback" not in terminal.text
