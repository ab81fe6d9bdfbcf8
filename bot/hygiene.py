"""Cluster hygiene: remind before a TTL runs out, suspend at expiry, delete a grace later.

The steps and their times are pure (``core.ttl.due``, from the annotations of ``core.state``),
so this loop only acts: each step writes its annotation *before* it speaks, so a restart in the
middle never sends a reminder twice (at worst one reminder is lost, never repeated). It sleeps
until the next step is due, or until the watcher reports a change (a new expiry, an extension).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot import blocks
from bot import messages as msg
from bot.outbox import Outbox
from core import api
from core.errors import ClusterNotFoundError, KrayneError
from core.kube import KubeClient
from core.objects import RayClusterView
from core.policy import Policy
from core.state import EXPIRES_AT, ClusterState, state_patch
from core.ttl import Due, Step, due, format_duration

log = logging.getLogger(__name__)

#: Look again at least this often, even when nothing is due and nothing changed.
IDLE_RECHECK = timedelta(minutes=1)


class ClusterSource(Protocol):
    def subscribe(self, *, replay: bool = False) -> Any: ...
    def snapshot(self) -> list[Any]: ...


class Hygiene:
    """Acts on every watched cluster's TTL; one per bot (the leader, where there are several)."""

    def __init__(
        self,
        *,
        watcher: ClusterSource,
        client: KubeClient,
        outbox: Outbox,
        policy: Callable[[], Policy],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._watcher = watcher
        self._client = client
        self._outbox = outbox
        self._policy = policy
        self._clock = clock
        # Steps taken whose annotation the watcher's copy may not show yet: never take twice.
        self._taken: dict[tuple[str, str, str], Due] = {}

    async def run(self) -> None:
        wake = asyncio.Event()

        async def feed(changes: Any) -> None:  # a timeout must never cancel the feed itself
            async for _change in changes:
                wake.set()

        async with self._watcher.subscribe() as changes, asyncio.TaskGroup() as tg:
            feeder = tg.create_task(feed(changes), name="hygiene:changes")
            try:
                while not feeder.done():
                    wake.clear()
                    wait = await self.tick()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait.total_seconds()):
                            await wake.wait()
            finally:
                feeder.cancel()

    async def tick(self) -> timedelta:
        """Take every step that is due; how long until the next one (at most IDLE_RECHECK)."""
        now = self._clock()
        wait = IDLE_RECHECK
        snapshot = self._watcher.snapshot()
        live = {(c.uid, c.namespace, c.name) for c in snapshot}
        self._taken = {k: v for k, v in self._taken.items() if k in live}
        for change in snapshot:
            # Every watched change wakes this loop: skip at once the many clusters with no TTL.
            if change.deleted or EXPIRES_AT not in change.annotations:
                continue
            view = RayClusterView.parse(change.raycluster)
            if view.deleting:
                continue
            step = self.next_step(view)
            if step is None:
                continue
            if step.at > now:
                wait = min(wait, step.at - now)
                continue
            key = (view.uid, view.namespace, view.name)
            if self._taken.get(key) == step:
                continue
            self._taken[key] = step
            try:
                await self.take(step, view)
            except ClusterNotFoundError:
                continue
            except KrayneError as err:
                del self._taken[key]  # not taken after all: try again
                log.warning("hygiene: %s %s/%s failed: %s", step.step, view.namespace,
                            view.name, err.message)  # fmt: skip
                wait = min(wait, timedelta(seconds=5))
        return max(wait, timedelta(milliseconds=10))

    def next_step(self, view: RayClusterView) -> Due | None:
        state = ClusterState.read(view)
        return due(
            expires=state.expires,
            reminded_for=state.reminded_for,
            suspended_at=state.ttl_suspended_at,
            suspended=view.suspended,
            policy=self._policy().ttl,
        )

    async def take(self, step: Due, view: RayClusterView) -> None:
        state = ClusterState.read(view)
        name, namespace = view.name, view.namespace
        ttl = self._policy().ttl
        if step.step is Step.REMIND and state.expires is not None:
            await api.annotate_cluster(
                name, namespace, state_patch(reminded_for=state.expires), client=self._client
            )
            left = format_duration(state.expires - self._clock())
            text = msg.ttl_reminder(state.owner, name, left=left, extend=format_duration(
                ttl.default or ttl.min))  # fmt: skip
            self._say(state, text, blocks.ttl_reminder(text, namespace, name))
        elif step.step is Step.SUSPEND:
            await api.set_suspended(
                name, namespace, True,
                annotations=state_patch(ttl_suspended_at=self._clock()), client=self._client,
            )  # fmt: skip
            text = msg.ttl_suspended(name, delete_after=format_duration(ttl.delete_after_suspend))
            self._say(state, text, blocks.suspended_note(text, namespace, name))
        elif step.step is Step.DELETE:
            await api.annotate_cluster(
                name, namespace, state_patch(deleted_by=msg.TTL_DELETER), client=self._client
            )
            await api.delete_cluster(name, namespace, client=self._client)
        log.info("hygiene: %s %s/%s", step.step, namespace, name)

    def _say(self, state: ClusterState, text: str, rendered: list[dict[str, Any]]) -> None:
        if state.channel is None or state.thread_ts is None:
            return
        self._outbox.submit(
            state.channel,
            "chat.postMessage",
            {"channel": state.channel, "thread_ts": state.thread_ts, "text": text,
             "blocks": rendered},
        )  # fmt: skip
