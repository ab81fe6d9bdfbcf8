"""What the shell needs to know about the running bot: when its commands are done, and when
the clusters a session touched have settled with everything about them posted.

``ShellRuntime`` is ``BotRuntime`` plus a count of command tasks in flight (it overrides the
public ``spawn``). ``Settling`` decides when piped input may end: every touched cluster is
ready, failed, suspended or gone; the notifier has announced its phase (the ``krayne.io/notified``
record matches it, or the card of a deleted cluster says so); and the outbox is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Coroutine
from typing import Any

from bot.blocks import card_text
from bot.facts import CardView
from bot.runtime import BotRuntime
from bot.settings import BotSettings
from bot.slack_double.server import SlackDouble
from core.state import ClusterState
from core.status import ClusterStatus, Phase

Key = tuple[str, str]  # namespace, name


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


class Settling:
    """Waits until the clusters in ``touched`` (shared with the session) are settled and told."""

    def __init__(
        self, runtime: ShellRuntime, double: SlackDouble, touched: set[Key], *, channel: str
    ) -> None:
        self._runtime = runtime
        self._double = double
        self._touched = touched
        self._channel = channel
        self._cards: dict[Key, tuple[str, str]] = {}

    def pending(self) -> list[str]:
        """Touched clusters that are not settled yet, or whose news is not all posted."""
        watcher = self._runtime.watcher
        assert watcher is not None
        waiting = []
        for key in sorted(self._touched):
            namespace, name = key
            change = watcher.get(namespace, name)
            if change is None or change.deleted:
                if not self._card_says_gone(key):
                    waiting.append(f"{name} (deleted, card not updated yet)")
                continue
            phase = change.status.phase
            state = ClusterState.read(change.raycluster)
            thread_ts = state.thread_ts
            if thread_ts:
                self._cards[key] = (state.channel or self._channel, thread_ts)
            record = state.notified
            if state.channel and not thread_ts:
                # Created from Slack, its card not recorded in what the watch has seen yet: the
                # notifier has not told it anything, whatever its phase.
                waiting.append(f"{name} ({phase.value}, card not recorded yet)")
                continue
            announced = not thread_ts or (record is not None and record["phase"] == phase.value)
            if not phase.is_settled or not announced:
                waiting.append(f"{name} ({phase.value})")
        return waiting

    def describe(self) -> str:
        return ", ".join(self.pending()) or "messages still being posted"

    def _card_says_gone(self, key: Key) -> bool:
        """The deleted cluster's card (if it had one) shows that it is gone."""
        if key not in self._cards:
            return True
        channel, ts = self._cards[key]
        message = self._double.message(channel, ts)
        gone = CardView(key[1], key[0], None, ClusterStatus(Phase.DELETING, ""), None, 0, 0, 0,
                        gone=True)  # fmt: skip
        return message is None or message.text == card_text(gone)

    async def wait(self, within: float) -> bool:
        """True once settled and drained; False if ``within`` seconds passed first."""
        runtime = self._runtime
        assert runtime.watcher is not None and runtime.notifier is not None
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
                    if self.pending():
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
                    if drained and runtime.idle.is_set() and not self.pending():
                        return True
                return False
            finally:
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping
