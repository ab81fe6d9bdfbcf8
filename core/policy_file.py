"""The policy file, kept current: loaded at start-up (a bad file stops the bot), then re-read
when it changes, keeping the last good policy when a new version is bad.

Change is noticed by polling the file's modification time, size and inode every ``interval``
seconds, in a task the runtime owns: no extra dependency, and it sees a ConfigMap update, which
the kubelet makes by swapping a symlink (an inotify watch on the file itself would miss it).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from core.errors import ConfigValidationError
from core.policy import OPEN, Policy, load_policy

log = logging.getLogger(__name__)

POLL_INTERVAL = 5.0
"""Seconds between two looks at the file: a ConfigMap edit reaches the pod within a minute or
so anyway (the kubelet's sync period), so faster polling would buy nothing."""

Stamp = tuple[int, int, int] | None
OnChange = Callable[[Policy], None]


def _stamp(path: Path) -> Stamp:
    """What changes when the file does (through the symlink a ConfigMap mount uses)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class PolicyFile:
    """``current`` is the policy in force. Build it with ``PolicyFile.open`` (raises on a bad
    file: the bot must not start with a policy it cannot read), then ``await run()``."""

    def __init__(
        self, path: Path | None, policy: Policy, *, interval: float = POLL_INTERVAL,
        on_change: OnChange | None = None,
    ) -> None:  # fmt: skip
        self.path = path
        self.current = policy
        self.interval = interval
        self.on_change = on_change
        self.last_error: str | None = None
        self._stamp: Stamp = _stamp(path) if path is not None else None

    @classmethod
    def open(
        cls, path: str | Path | None, *, interval: float = POLL_INTERVAL,
        on_change: OnChange | None = None,
    ) -> PolicyFile:  # fmt: skip
        """Read the file now; ``ConfigValidationError`` names every bad key. ``on_change`` is
        called (on the event loop) with each new policy put in force by ``run``."""
        if path is None:
            return cls(None, OPEN, interval=interval, on_change=on_change)
        file = Path(path)
        stamp = _stamp(file)
        policy = load_policy(file)
        opened = cls(file, policy, interval=interval, on_change=on_change)
        opened._stamp = stamp
        log.info("policy loaded from %s", file)
        return opened

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed; True if a new policy is now in force."""
        if self.path is None:
            return False
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            policy = load_policy(self.path)
        except ConfigValidationError as err:
            self.last_error = "; ".join(err.problems)
            log.error(
                "policy file %s changed but is not valid; keeping the last good policy: %s",
                self.path, self.last_error,
            )  # fmt: skip
            return False
        self.current, self.last_error = policy, None
        log.info("policy reloaded from %s", self.path)
        return True

    async def run(self) -> None:
        """Poll until cancelled (nothing to do without a file)."""
        if self.path is None:
            return
        while True:
            await asyncio.sleep(self.interval)
            if await asyncio.to_thread(self.reload_if_changed) and self.on_change is not None:
                self.on_change(self.current)
