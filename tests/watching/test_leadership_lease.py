"""``bot.leadership`` over the sandbox's coordination.k8s.io/v1 Leases and kubernetes-asyncio's
election: a term starts when the Lease is won, ends when renewals fail past the renew deadline
(before the lease could expire for anyone else), and starts again once the API answers.
Timings are the shortest kubernetes-asyncio accepts; every wait is a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from bot.leadership import Leadership
from core.kube_asyncio import KubernetesAsyncioClient

TIMING = (2.0, 1.5, 1.0)  # lease duration, renew deadline, retry period


class Terms:
    """The work of a leader: counts its terms and runs until cancelled."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    async def __call__(self) -> None:
        self.started += 1
        try:
            await asyncio.Event().wait()
        finally:
            self.ended += 1


async def test_a_leader_that_cannot_renew_stops_before_its_lease_expires_then_leads_again(
    bare: Any, kube: KubernetesAsyncioClient
) -> None:
    terms = Terms()
    leadership = Leadership(
        terms, elector=kube, lease=("default", "lease-renewal"), timing=TIMING, who="solo"
    )
    task = asyncio.create_task(leadership.run())
    try:
        await asyncio.wait_for(leadership.wait_leading(), 10)
        holder = bare.store.get("leases", "default", "lease-renewal")["spec"]["holderIdentity"]
        assert holder == "solo"
        loop = asyncio.get_running_loop()
        bare.faults.fail_next(1_000_000, 500, path_contains="/leases")
        failing = loop.time()
        await asyncio.wait_for(leadership.wait_leading(False), 10)
        # It stopped within the renew deadline (plus one try), before the lease could expire.
        assert loop.time() - failing < TIMING[0] + TIMING[2]
        assert terms.ended == 1
        bare.faults.clear()
        await asyncio.wait_for(leadership.wait_leading(), 10)
        assert terms.started == 2
    finally:
        bare.faults.clear()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert terms.ended == 2  # cancelling the campaign ends the term too


async def test_a_failing_term_stops_the_bot_instead_of_a_leader_that_no_longer_posts(
    kube: KubernetesAsyncioClient,
) -> None:
    async def broken() -> None:
        raise RuntimeError("the watcher could not start")

    leadership = Leadership(
        broken, elector=kube, lease=("default", "lease-broken"), timing=TIMING
    )
    with pytest.raises(RuntimeError, match="could not start"):
        await asyncio.wait_for(leadership.run(), 10)
