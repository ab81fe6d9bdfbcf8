"""Which replica watches and posts: leadership over a coordination.k8s.io Lease.

Every replica answers Slack's requests (commands and buttons are stateless against
Kubernetes), but only the Lease holder runs the cluster watch, the notifier and the App Home
republisher, so each change is announced by one bot. The election itself is kubernetes-asyncio's
(``core.kube_asyncio``); this module turns it into terms: ``term()`` runs while this replica
leads, is cancelled when a renewal fails for longer than the renew deadline, and a new campaign
starts at once. A term that fails stops the bot (kopf's rule: a root task that fails stops the
rest) rather than leaving a leader that renews but no longer posts.

A clean stop gives the Lease up (``release``), so the successor leads at its next retry; a
killed leader is succeeded once the lease duration has passed without renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Elector(Protocol):
    """``core.kube_asyncio.KubernetesAsyncioClient``'s election, as leadership uses it."""

    async def elect(
        self, lease: tuple[str, str], identity: str, timing: tuple[float, float, float],
        on_started: Callable[[], Coroutine[Any, Any, None]],
        on_stopped: Callable[[], Coroutine[Any, Any, None]],
    ) -> None: ...  # fmt: skip

    async def release_lease(self, lease: tuple[str, str], identity: str) -> None: ...


def identity() -> str:
    """The pod's name (``HOSTNAME``) plus a random suffix: a restarted container in the same pod
    is a new candidate, never mistaken for the holder it replaced."""
    host = os.environ.get("HOSTNAME") or socket.gethostname() or "krayne-bot"
    return f"{host}-{secrets.token_hex(3)}"


class Leadership:
    """Runs ``term`` whenever this replica holds the Lease; ``elector=None`` always leads."""

    def __init__(
        self,
        term: Callable[[], Awaitable[None]],
        *,
        elector: Elector | None,
        lease: tuple[str, str],
        timing: tuple[float, float, float],
        who: str | None = None,
    ) -> None:
        self.identity = who or identity()
        self.terms = 0
        self._term = term
        self._elector = elector
        self._lease = lease
        self._timing = timing
        self._task: asyncio.Task[None] | None = None
        self._failed: asyncio.Future[BaseException] | None = None
        self._changed = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait_leading(self, leading: bool = True) -> None:
        """Until this replica leads (or, ``leading=False``, no longer does)."""
        while self.leading is not leading:
            self._changed.clear()
            await self._changed.wait()

    async def run(self) -> None:
        """Campaign, lead, lose, campaign again, until cancelled or a term fails."""
        self._failed = asyncio.get_running_loop().create_future()
        election: asyncio.Future[None] | None = None
        try:
            if self._elector is None:
                await self._started()
                raise await self._failed
            while True:
                election = asyncio.ensure_future(
                    self._elector.elect(
                        self._lease, self.identity, self._timing, self._started, self._stopped
                    )
                )
                waited: set[asyncio.Future[Any]] = {election, self._failed}
                done, _ = await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
                if self._failed in done:
                    raise self._failed.result()
                if election.exception() is not None:  # a library failure: campaign again
                    log.error("leader election failed", exc_info=election.exception())
                    await asyncio.sleep(self._timing[2])
        finally:
            if election is not None and not election.done():
                election.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await election
            await self._end_term()

    async def release(self) -> None:
        """Give the Lease up (after a clean stop); quiet if it was not ours."""
        if self._elector is not None:
            await self._elector.release_lease(self._lease, self.identity)

    # --- the election's callbacks -----------------------------------------------------------

    async def _started(self) -> None:
        # The election runs this as a task and later cancels it without awaiting it, so the term
        # is a task of ours: ending a term (``_stopped``) always waits for its cleanup.
        self.terms += 1
        log.info("%s leads: watching clusters and posting (term %d)", self.identity, self.terms)
        self._task = asyncio.create_task(self._guarded(), name="leader-term")
        self._changed.set()

    async def _stopped(self) -> None:
        log.warning("%s no longer leads: stopped watching and posting", self.identity)
        await self._end_term()

    async def _guarded(self) -> None:
        try:
            await self._term()
            failure: BaseException = RuntimeError("the leader's work ended by itself")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = exc
        if self._failed is not None and not self._failed.done():
            self._failed.set_result(failure)

    async def _end_term(self) -> None:
        task, self._task = self._task, None
        self._changed.set()
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task
