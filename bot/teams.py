"""One workspace per bot: the notifier hears only of clusters of this bot's Slack team.

Two bots may watch one namespace (a staging app next to production, each with its own
workspace). Every cluster created from Slack records its workspace (``krayne.io/slack-team``);
a change of a cluster recorded for another workspace is dropped before it reaches the
notifier, so the other bot's threads get no replies from this one. Clusters without the
annotation (created outside Slack, or before it was recorded) pass: the notifier already
leaves alone those without a thread.

The bot's own team comes from ``KRAYNE_SLACK_TEAM_ID`` or else from Slack's ``auth.test``
(https://docs.slack.dev/reference/methods/auth.test), asked until it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from core.state import ClusterState
from core.watching import ClusterChange, ClusterWatcher

log = logging.getLogger(__name__)


async def own_team(web: AsyncWebClient, *, retry: float = 2.0, retry_max: float = 30.0) -> str:
    """The bot token's workspace, from ``auth.test``; retried (capped backoff) until Slack
    answers, since posting into the wrong workspace's threads is worse than waiting."""
    delay = retry
    while True:
        try:
            answer = await web.auth_test()
            team = answer.get("team_id")
            if isinstance(team, str) and team:
                return team
            log.warning("auth.test named no team_id; asking again in %.0f s", delay)
        except Exception as exc:  # Slack down, 429, token refused: not ready to post yet
            log.warning("auth.test failed (%s); asking again in %.0f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(retry_max, delay * 2)


def ours(change: ClusterChange, team: str) -> bool:
    """Whether the notifier may speak of this change: no recorded team, or ours."""
    slack = ClusterState.read(change.raycluster).slack
    return slack is None or slack.team is None or slack.team == team


class TeamChanges:
    """A ``ClusterWatcher`` as the notifier sees it: changes of other workspaces' clusters left
    out; everything else is the watcher's."""

    def __init__(self, watcher: ClusterWatcher, team: str) -> None:
        self._watcher = watcher
        self.team = team
        self.ignored = 0

    @asynccontextmanager
    async def subscribe(self, *, replay: bool = False) -> AsyncIterator[AsyncIterator[Any]]:
        async with self._watcher.subscribe(replay=replay) as changes:
            yield self._filtered(changes)

    async def _filtered(self, changes: AsyncIterator[ClusterChange]) -> AsyncIterator[Any]:
        async for change in changes:
            if ours(change, self.team):
                yield change
            else:
                self.ignored += 1
                log.debug("ignoring %s/%s: another workspace's", change.namespace, change.name)

    def pods_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return self._watcher.pods_of(namespace, name)

    def get(self, namespace: str, name: str) -> ClusterChange | None:
        change = self._watcher.get(namespace, name)
        return change if change is not None and ours(change, self.team) else None

    def snapshot(self) -> list[ClusterChange]:
        return [c for c in self._watcher.snapshot() if ours(c, self.team)]

    async def wait_synced(self, timeout: float | None) -> bool:  # noqa: ASYNC109 - contract
        return await self._watcher.wait_synced(timeout)
