"""How long `krayne-bot shell` takes on a terminal: to the first prompt, and until the bot is
ready (sandbox up, watches synced). Runs the shell on a pseudo-terminal and prints seconds.

    .venv/bin/python tests/benchmarks/bench_shell_startup.py [runs]
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


def _wait_for(fd: int, marker: bytes, deadline: float, seen: bytearray) -> float | None:
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                return None
            if marker in seen:
                return time.monotonic()
    return None


def measure() -> tuple[float, float]:
    leader, follower = pty.openpty()
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "shell", "--speed", "50"],
        stdin=follower, stdout=follower, stderr=subprocess.DEVNULL, close_fds=True,
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )  # fmt: skip
    os.close(follower)
    seen = bytearray()
    try:
        prompt = _wait_for(leader, b"alice>", start + 30, seen)
        ready = _wait_for(leader, b"ready: you are", start + 60, seen)
        os.write(leader, b"exit\r")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    if prompt is None or ready is None:
        raise SystemExit(f"shell did not start: {bytes(seen)[-500:]!r}")
    return prompt - start, ready - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for i in range(runs):
        prompt, ready = measure()
        print(f"run {i + 1}: first prompt {prompt:.2f}s, bot ready {ready:.2f}s")


if __name__ == "__main__":
    main()
