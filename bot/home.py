"""App Home tabs kept current: who has looked at their Home, and republishing it when one of
their clusters changes phase.

Slack shows the view last published for a user; publishing only when the tab is opened left a
Home saying "creating" long after the cluster was ready. Home views are per user and cost one
``views.publish`` each, so only users who opened their Home since the bot started are
republished, and a burst of phase changes (a cluster walking creating → … → ready in seconds)
becomes one publish per ``debounce`` seconds per user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Publish = Callable[[str], Awaitable[None]]


class HomeTabs:
    """``opened(user)`` from the ``app_home_opened`` listener, ``changed(owner)`` from the
    notifier; ``run()`` owns the delayed publishes until cancelled."""

    def __init__(
        self,
        publish: Publish,
        *,
        debounce: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._publish = publish
        self.debounce = debounce
        self._sleep = sleep
        self._viewers: set[str] = set()
        self._scheduled: set[str] = set()
        self._due: asyncio.Queue[str] = asyncio.Queue()
        self.published = 0

    @property
    def viewers(self) -> frozenset[str]:
        return frozenset(self._viewers)

    def opened(self, user: str) -> None:
        """The user looked at their Home: keep it current from now on."""
        if user:
            self._viewers.add(user)

    def changed(self, owner: str | None) -> None:
        """A cluster of ``owner`` changed phase: republish their Home soon, once per burst."""
        if not owner or owner not in self._viewers or owner in self._scheduled:
            return
        self._scheduled.add(owner)
        self._due.put_nowait(owner)

    async def run(self) -> None:
        """Publish every scheduled Home after its debounce, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            while True:
                user = await self._due.get()
                tg.create_task(self._publish_later(user), name=f"home:{user}")

    async def _publish_later(self, user: str) -> None:
        await self._sleep(self.debounce)
        # A change from here on schedules another publish: this one may already be rendering.
        self._scheduled.discard(user)
        try:
            await self._publish(user)
        except Exception as err:  # a Home that stays stale until the next change or visit
            log.warning("App Home of %s not republished: %s", user, err)
        else:
            self.published += 1
