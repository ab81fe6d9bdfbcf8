"""Readiness for ``/readyz``: the watches have synced AND the Kubernetes API answered recently.

The watcher only says that every stream listed once; a bot whose API server went away later keeps
serving its stale cache and would still look ready, so a load balancer or a rollout would trust
it. A probe task therefore asks the API server one cheap question every ``interval`` seconds — a
GET of one RayCluster by name, where 404 is a perfectly healthy answer — whatever the traffic:
readiness costs a constant trickle of requests, never one per ``/readyz`` call. ``/readyz``
only reads the last outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.errors import KrayneError, KubeConnectionError, Unauthorized
from core.kube import KubeClient

log = logging.getLogger(__name__)

PROBE_NAME = "krayne-readiness-probe"
"""The RayCluster the probe GETs. It need not exist: any answer from the server will do."""


@dataclass(frozen=True, slots=True)
class ReadinessSettings:
    interval: float = 10.0
    """Seconds between two probes (one GET each, independent of how often /readyz is asked)."""
    timeout: float = 5.0
    """A probe without an answer within this many seconds counts as a failure."""
    stale_after: float = 30.0
    """Not ready when the API server has not answered for this long (e.g. a hung probe)."""


def unreachable(err: KrayneError) -> bool:
    """Whether an error means the API server cannot serve the bot (vs. a fine answer like 404).

    No answer, 5xx (``Unavailable``, a ``KubeConnectionError``) and 401 (``Unauthorized``:
    credentials no longer accepted) make the bot useless; 403, 404, 409 and 429 are answers from a
    working server."""
    return isinstance(err, KubeConnectionError | Unauthorized)


class Readiness:
    """Probes the API server in ``run()``; ``problem()`` says why the bot is not ready, if it is
    not: never before the API server has answered one probe."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        *,
        synced: Callable[[], bool],
        settings: ReadinessSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._kube = kube
        self._namespace = namespace
        self._synced = synced
        self.settings = settings or ReadinessSettings()
        self._clock = clock
        self._sleep = sleep
        self._last_ok = clock()
        self._failure: str | None = None
        self._answered = False
        self.probes = 0

    def problem(self) -> str | None:
        """None when ready; otherwise the reason, for the body of a 503."""
        # The API being down is the cause; watches failing with it are the consequence.
        if self._failure is not None:
            return f"Kubernetes API unreachable: {self._failure}"
        if not self._answered:  # a follower has no watch whose first list would stand for it
            return "Kubernetes API has not answered yet"
        silent = self._clock() - self._last_ok
        if silent > self.settings.stale_after:
            return f"Kubernetes API has not answered for {silent:.0f} s"
        if not self._synced():
            return "Kubernetes watches are not synced yet"
        return None

    async def run(self) -> None:
        """Probe every ``interval`` seconds until cancelled."""
        while True:
            await self.probe()
            await self._sleep(self.settings.interval)

    async def probe(self) -> None:
        """One GET; remembers whether the API server answered."""
        self.probes += 1
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self._kube.get_raycluster(PROBE_NAME, self._namespace)
        except TimeoutError:
            self._failed(f"no answer within {self.settings.timeout:g} s")
            return
        except KrayneError as err:
            if unreachable(err):
                self._failed(err.message)
                return
        except Exception as err:  # an unexpected client failure: not ready, and logged
            log.exception("readiness probe failed")
            self._failed(type(err).__name__)
            return
        if self._failure is not None:
            log.info("Kubernetes API reachable again")
        self._failure = None
        self._answered = True
        self._last_ok = self._clock()

    def _failed(self, why: str) -> None:
        if self._failure is None:
            log.warning("Kubernetes API unreachable: %s", why)
        self._failure = why
