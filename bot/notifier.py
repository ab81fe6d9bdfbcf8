"""Status notifications: cluster changes from the shared watch become thread replies and cards.

One status card per cluster (the thread parent, ``krayne.io/slack-thread-ts``) is kept current
with ``chat.update``; each phase change adds one thread reply. Delivery first, then
bookkeeping: what was last announced is written on the RayCluster (``krayne.io/notified``,
compact JSON) once Slack has the reply, and each reply carries message metadata, so a
restarted bot reads the thread back and tells only what it still needs.

Changes are handled in order per cluster and in parallel across clusters (kopf's queueing).
Fresh news first: a progress reply still queued when the cluster's next phase arrives is
withdrawn and told as part of the newer reply ("on the way: …"); ready, failures and
deletions are urgent and overtake other threads' progress in the channel's lane; a card
update waits ``card_hold`` seconds for a newer one unless the cluster has settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot import blocks
from bot import messages as msg
from bot.facts import CardView, card_view
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.transitions import (
    REPLY_EVENT,
    Change,
    card_metadata,
    crash_target,
    decide,
    reply_for,
    reply_metadata,
    scaled_from_slack,
    scaled_outside,
    urgent,
)
from core import api, thread_index
from core.errors import ClusterNotFoundError, KrayneError
from core.kube import KubeClient
from core.objects import RayClusterView
from core.state import GONE, SCALING, ClusterState, Notified, state_patch
from core.status import ClusterStatus, Phase

log = logging.getLogger(__name__)

Key = tuple[str, str]  # namespace, name
LOG_LINES = 20
CLOCK_SKEW = timedelta(seconds=2)


@dataclass(slots=True)
class _Turn:
    """One cluster's lock and how many are using or waiting for it (dropped at zero)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ClusterSource(Protocol):
    """What the notifier needs of ``core.watching.ClusterWatcher``."""

    def subscribe(self, *, replay: bool = False) -> Any: ...
    def pods_of(self, namespace: str, name: str) -> list[dict[str, Any]]: ...
    def get(self, namespace: str, name: str) -> Any: ...
    def snapshot(self) -> list[Any]: ...
    async def wait_synced(self, timeout: float | None) -> bool: ...  # noqa: ASYNC109


class Notifier:
    """Consumes watcher changes; per-cluster FIFO workers; posts through the outbox."""

    def __init__(
        self,
        *,
        watcher: ClusterSource,
        client: KubeClient,
        outbox: Outbox,
        annotate: Callable[[str, str, dict[str, str | None]], Awaitable[None]],
        metrics: Metrics | None = None,
        on_phase: Callable[[str | None], None] | None = None,
        user_names: Callable[[list[str]], Awaitable[dict[str, str]]] | None = None,
        read_thread: Callable[[str, str], Awaitable[list[dict[str, Any]]]] | None = None,
        find_posted: Callable[[str, dict[str, Any]], Awaitable[str | None]] | None = None,
        orphan_after: timedelta = timedelta(seconds=10),
        index_namespaces: Sequence[str] = (),
        card_hold: float = 0.0,
    ) -> None:
        """``on_phase(owner)`` hears of every cluster's phase change (App Home refreshes);
        ``user_names`` names owners and deleters without pinging them; ``read_thread(channel,
        ts)`` reads a thread back (with message metadata) so a reply is never posted twice;
        ``find_posted(channel, metadata)`` finds a card a crashed bot posted but never linked."""
        self._read_thread = read_thread
        self._find_posted = find_posted
        self._card_hold = card_hold
        self._arrivals: dict[Key, asyncio.Event] = {}
        self._passed: dict[Key, list[str]] = {}
        self._orphan_after = orphan_after
        self._index_namespaces = list(index_namespaces)
        self._adopted: set[Key] = set()
        self._started: datetime | None = None
        self._rechecking: set[Key] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._watcher = watcher
        self._client = client
        self._outbox = outbox
        self._annotate = annotate
        self._metrics = metrics
        self._on_phase = on_phase
        self._user_names = user_names
        self._phases: dict[Key, str] = {}
        self._records: dict[Key, Notified] = {}
        self._objects: dict[Key, dict[str, Any]] = {}
        self._cards: dict[Key, str] = {}
        self._queues: dict[Key, deque[Change]] = {}
        self._turns: dict[Key, _Turn] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self) -> None:
        """Until cancelled: feed every change to its cluster's worker."""
        self._started = datetime.now(UTC)
        async with self._watcher.subscribe(replay=True) as changes, asyncio.TaskGroup() as tg:
            self._tg = tg
            if self._index_namespaces:
                tg.create_task(self._tell_gone_while_away(), name="notifier:gone-while-away")
            async for change in changes:
                self._enqueue(change, tg)

    async def wait_idle(self) -> None:
        """Until every queued change was handled (used by the shell and tests)."""
        await self._idle.wait()

    def forget(self, namespace: str, name: str) -> None:
        self._records.pop((namespace, name), None)

    def remember(self, namespace: str, name: str, record: Notified) -> None:
        """A command announced something itself (e.g. "deleted by"): do not repeat it."""
        self._records[(namespace, name)] = record

    @asynccontextmanager
    async def hold(self, namespace: str, name: str) -> AsyncIterator[None]:
        """Hold the cluster's notifications back while a user action runs and queues its own
        thread reply, so "@alice scaled …" comes before the phase replies the scale causes.
        A change being announced finishes first; changes arriving meanwhile wait."""
        async with self._turn((namespace, name)):
            yield

    @asynccontextmanager
    async def _turn(self, key: Key) -> AsyncIterator[None]:
        turn = self._turns.setdefault(key, _Turn())
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[key]

    def _enqueue(self, change: Change, tg: asyncio.TaskGroup) -> None:
        key = (change.namespace, change.name)
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(change)
            self._arrivals[key].set()
            return
        self._queues[key] = deque([change])
        self._arrivals[key] = asyncio.Event()
        self._idle.clear()
        tg.create_task(self._worker(key), name=f"notifier:{key[0]}/{key[1]}")

    async def _worker(self, key: Key) -> None:
        queue = self._queues[key]
        try:
            while queue:
                try:
                    async with self._turn(key):
                        while len(queue) > 1 and self._routine(key, queue[0]):
                            self._pass_over(key, queue.popleft())
                        change = queue[0]
                        await self.handle(change)
                except ClusterNotFoundError:  # deleted meanwhile: its deletion change comes next
                    log.info("notifier: %s/%s is gone", key[0], key[1])
                except KrayneError as err:
                    log.warning("notifier: %s/%s: %s", key[0], key[1], err.message)
                except Exception:
                    log.exception("notifier: %s/%s failed", key[0], key[1])
                queue.popleft()
        finally:
            del self._queues[key]
            del self._arrivals[key]
            if not self._queues:
                self._idle.set()

    def _routine(self, key: Key, change: Change) -> bool:
        """A change a newer one in the queue supersedes: progress of a linked cluster, neither
        a settled phase, a deletion nor a scale (those are told in their own right)."""
        before = self._objects.get(key)
        return not (
            urgent(change)
            or change.status.phase is Phase.DELETING
            or change.raycluster is None
            or not ClusterState.read(change.raycluster).thread_ts
            or scaled_from_slack(before, change.raycluster)
            or scaled_outside(before, change.raycluster) is not None
        )

    def _pass_over(self, key: Key, change: Change) -> None:
        """Take in a superseded change without a word: its phase, if it was news, is told
        "on the way" by the next reply (as a withdrawn reply's is), at no rendering cost."""
        state = ClusterState.read(change.raycluster)
        self._objects[key] = change.raycluster or {}
        self._phase_seen(key, change, state.owner)
        previous = self._records.get(key) or state.notified
        decision = decide(previous, change)
        if decision.reply:
            self._tell_with_next(key, decision.record)

    def _tell_with_next(self, key: Key, record: Notified) -> None:
        """``record``'s phase is told "on the way" by the cluster's next reply, which is decided
        against it; it is written on the cluster only with that reply (``seq`` counts replies)."""
        self._passed[key] = [*self._passed.get(key, []), record["phase"]]
        told_with_next = record.copy()
        told_with_next["seq"] = record.get("seq", 1) - 1
        self._records[key] = told_with_next

    async def handle(self, change: Change) -> None:
        """Announce one change: write the record, post the reply, update the card."""
        key = (change.namespace, change.name)
        before = self._objects.get(key)
        obj = change.raycluster or before
        if change.raycluster is not None:
            self._objects[key] = change.raycluster
        state = ClusterState.read(obj)
        channel, thread_ts = state.channel, state.thread_ts
        self._phase_seen(key, change, state.owner)
        if change.deleted:
            self._objects.pop(key, None)
        if obj is None or not channel:
            return  # created outside Slack
        if not thread_ts:
            if change.deleted or not self._orphaned(key, obj, change):
                return  # its card is being posted by the command that created it
            thread_ts = await self._adopt(channel, obj, change)
            if not thread_ts:
                return
        outside = scaled_outside(before, change.raycluster) if not change.deleted else None
        if outside is not None:
            self._outbox.submit(
                channel, "chat.postMessage",
                {"channel": channel, "thread_ts": thread_ts, "text": outside,
                 "blocks": blocks.thread_reply(outside)},
            )  # fmt: skip
        # First look since this bot started, at a cluster an earlier leader may have told of.
        resumed = key not in self._records and self._told_before_us(obj)
        previous = self._records.get(key) or state.notified
        if scaled_from_slack(before, change.raycluster) and previous is not None and (
            previous.get("phase") == Phase.READY.value
        ):
            # A person scaled a ready cluster from Slack, maybe on another replica: follow it to
            # "ready again" (what the Ray autoscaler does on its own stays off the thread).
            previous = Notified(phase=SCALING, reason="", was_ready=True,
                                seq=previous.get("seq", 0))  # fmt: skip
        decision = decide(previous, change)
        view = card_view(obj, change.status, gone=change.deleted)
        names = await self._names(view)
        if decision.reply and not (
            resumed and await self._said(channel, thread_ts, change, decision.record)
        ):
            tail = await self._log_tail(change) if change.status.phase is Phase.CRASH_LOOP else None
            again = bool(previous and previous.get("was_ready"))
            passed = self._passed.get(key, [])
            text, reply = reply_for(
                view, obj, log_tail=tail, again=again, freed_gpus=change.gpus_held, names=names,
                passed=passed,
            )  # fmt: skip
            delivered = self._outbox.submit(
                channel,
                "chat.postMessage",
                {"channel": channel, "thread_ts": thread_ts, "text": text, "blocks": reply,
                 "metadata": reply_metadata(change, decision.record)},
                urgent=urgent(change),
            )  # fmt: skip
            if self._metrics:
                self._metrics.notifications.labels(phase=decision.record["phase"]).inc()
            # Delivery first, then bookkeeping: the transition counts as told only once Slack
            # has the reply, so a bot that dies meanwhile tells it after its restart.
            if not await self._delivered(key, change, delivered):
                self._tell_with_next(key, decision.record)
                return  # no card for it either: the card follows the reply that tells it
            self._passed.pop(key, None)
        if change.deleted:
            self._records.pop(key, None)
            uid = RayClusterView.parse(obj).uid
            if uid:
                with contextlib.suppress(KrayneError):  # a stale entry is told at next start
                    await thread_index.forget(self._client, change.namespace, uid)
        else:
            if decision.record != previous:
                with contextlib.suppress(ClusterNotFoundError):  # gone, its pods still going
                    await self._annotate(
                        change.name, change.namespace, state_patch(notified=decision.record)
                    )
            self._records[key] = decision.record
        if key in self._passed:
            return  # a withdrawn phase is still to be told: the card waits for its reply
        self.update_card(channel, thread_ts, view, key=key, names=names, urgent=urgent(change))

    async def _delivered(self, key: Key, change: Change, delivered: asyncio.Future[Any]) -> bool:
        """Wait until Slack has the reply (or refused it for good: recorded anyway, or it
        loops). False if it was withdrawn first because a newer phase of the same cluster
        arrived while it was still queued: only progress is withdrawn, never what settles."""
        arrivals = self._arrivals.get(key)
        while not delivered.done():
            if arrivals is None:
                await asyncio.wait({delivered})
                break
            arrivals.clear()
            if self._superseded(key, change) and self._outbox.withdraw(delivered):
                return False
            arrived = asyncio.ensure_future(arrivals.wait())
            try:
                await asyncio.wait({delivered, arrived}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                arrived.cancel()
        if delivered.cancelled():
            return True  # the outbox stopped; the restarted bot tells it
        if (err := delivered.exception()) is not None:
            log.warning("notifier: reply for %s/%s lost: %s", *key, err)
        return True

    def _superseded(self, key: Key, change: Change) -> bool:
        if urgent(change):
            return False
        newer = list(self._queues.get(key, ()))[1:]
        return any(c.deleted or c.status.phase is not change.status.phase for c in newer)

    async def _tell_gone_while_away(self) -> None:
        """At start: every indexed thread whose cluster no longer exists (deleted while no bot
        was running) is told so, and its card loses its buttons."""
        await self._watcher.wait_synced(None)
        live = {c.uid for c in self._watcher.snapshot() if not c.deleted}
        for namespace in self._index_namespaces:
            try:
                gone = [e for e in await thread_index.entries(self._client, namespace)
                        if e.uid not in live]  # fmt: skip
            except KrayneError as err:
                log.warning("thread index of %s unreadable: %s", namespace, err.message)
                continue
            for entry in gone:
                await self._tell_gone(entry)

    async def _tell_gone(self, entry: thread_index.ThreadEntry) -> None:
        view = CardView(
            entry.name, entry.namespace, entry.owner, ClusterStatus(Phase.DELETING, ""),
            None, 0, 0, 0, gone=True,
        )  # fmt: skip
        names = await self._names(view)
        text = msg.deleted_while_away(entry.name)
        delivered = self._outbox.submit(
            entry.channel, "chat.postMessage",
            {"channel": entry.channel, "thread_ts": entry.thread_ts, "text": text,
             "blocks": blocks.thread_reply(text)}, urgent=True,
        )  # fmt: skip
        try:
            await delivered
            told = True
        except Exception as err:
            log.warning("notifier: 'deleted' for %s/%s not told: %s", entry.namespace,
                        entry.name, err)  # fmt: skip
            told = False
        # The card follows its thread, never the other way round.
        self.update_card(entry.channel, entry.thread_ts, view,
                         key=(entry.namespace, entry.name), names=names, urgent=True)  # fmt: skip
        if not told:
            return
        with contextlib.suppress(KrayneError):
            await thread_index.forget(self._client, entry.namespace, entry.uid)

    def _orphaned(self, key: Key, obj: dict[str, Any], change: Change) -> bool:
        """Created from Slack, yet ``orphan_after`` later still without a thread: the bot that
        created it died between the create and recording the card (a live one links it in
        seconds). Adopted once; a younger one is looked at again when it is old enough."""
        created = RayClusterView.parse(obj).created_at
        if key in self._adopted or created is None:
            return False
        latest = self._watcher.get(*key)
        if latest is not None and ClusterState.read(latest.raycluster).thread_ts:
            return False  # linked since this change was queued: its own change comes next
        left = (created + self._orphan_after - datetime.now(UTC)).total_seconds()
        if left > 0:
            if key not in self._rechecking and self._tg is not None:
                self._rechecking.add(key)
                self._tg.create_task(self._recheck(key, change, left), name=f"orphan:{key[1]}")
            return False
        self._adopted.add(key)
        return True

    async def _recheck(self, key: Key, change: Change, after: float) -> None:
        await asyncio.sleep(after)
        self._rechecking.discard(key)
        latest = self._watcher.get(*key) or change  # the cluster as it is now, not as it was
        if self._tg is not None and key in self._objects and not latest.deleted:
            self._enqueue(latest, self._tg)

    async def _adopt(self, channel: str, obj: dict[str, Any], change: Change) -> str | None:
        """Record the card a crashed bot posted but never linked as the thread (found in the
        channel by its metadata), or post the card it never posted."""
        uid = RayClusterView.parse(obj).uid
        thread_ts = await self._posted_card(channel, uid)
        if thread_ts is None:
            view = card_view(obj, change.status)
            names = await self._names(view)
            args = {"channel": channel, "text": blocks.card_text(view, names),
                    "blocks": blocks.card(view, names), "metadata": card_metadata(uid)}  # fmt: skip
            try:
                result = await self._outbox.submit(channel, "chat.postMessage", args)
            except Exception as err:
                log.warning("notifier: card of %s/%s not posted: %s", change.namespace,
                            change.name, err)  # fmt: skip
                return None
            thread_ts = str(result["ts"])
        await api.link_thread(
            change.name, change.namespace, channel=channel, thread_ts=thread_ts,
            owner=ClusterState.read(obj).owner, client=self._client,
        )  # fmt: skip
        log.info("notifier: linked the card of %s/%s", change.namespace, change.name)
        return thread_ts

    async def _posted_card(self, channel: str, uid: str) -> str | None:
        if self._find_posted is None or not uid:
            return None
        try:
            return await self._find_posted(channel, card_metadata(uid))
        except Exception as err:  # cannot tell: post it (one card too many beats none)
            log.info("notifier: channel %s not read back (%s)", channel, err)
            return None

    def _told_before_us(self, obj: dict[str, Any]) -> bool:
        """Could an earlier bot have replied in this cluster's thread without recording it?
        Not if the cluster was created after this notifier started: only the leader tells
        transitions. Reading every new thread back would spend conversations.replies (Tier 3)
        on each create; the API server's clock may run a little ahead of ours."""
        created = RayClusterView.parse(obj).created_at
        started = self._started
        return created is None or started is None or created < started + CLOCK_SKEW

    async def _said(
        self, channel: str, thread_ts: str, change: Change, record: Notified
    ) -> bool:
        """After a restart: is this transition's reply already in the thread (posted before a
        crash, its record never written)? Read back by its metadata; unknown means no."""
        if self._read_thread is None:
            return False
        try:
            messages = await self._read_thread(channel, thread_ts)
        except Exception as err:
            log.info("notifier: thread %s not read back (%s); posting", thread_ts, err)
            return False
        wanted = reply_metadata(change, record)["event_payload"]
        return any(
            (m.get("metadata") or {}).get("event_type") == REPLY_EVENT
            and (m.get("metadata") or {}).get("event_payload") == wanted
            for m in messages
        )

    async def _names(self, view: CardView) -> dict[str, str]:
        users = sorted({u for u in (view.owner, view.deleted_by) if u})
        if self._user_names is None or not users:
            return {}
        try:
            return await self._user_names(users)
        except Exception as err:  # names are a nicety; ids are shown instead
            log.info("notifier: user names unavailable: %s", err)
            return {}

    def _phase_seen(self, key: Key, change: Change, owner: str | None) -> None:
        """Tell ``on_phase`` of any cluster whose phase moved, with or without a thread."""
        phase = GONE if change.deleted else change.status.phase.value
        before = self._phases.pop(key, None) if change.deleted else self._phases.get(key)
        if not change.deleted:
            self._phases[key] = phase
        if before != phase and self._on_phase is not None:
            self._on_phase(owner)

    def update_card(
        self, channel: str, ts: str, view: CardView, *, key: Key,
        names: Mapping[str, str] | None = None, urgent: bool = False,
    ) -> None:  # fmt: skip
        rendered = blocks.card(view, names or {})
        digest = json.dumps(rendered, sort_keys=True)
        if self._cards.get(key) == digest:
            return
        self._cards[key] = digest
        if view.gone:
            self._cards.pop(key, None)
        self._outbox.submit(
            channel,
            "chat.update",
            {
                "channel": channel,
                "ts": ts,
                "text": blocks.card_text(view, names or {}),
                "blocks": rendered,
            },  # fmt: skip
            coalesce_key=f"card:{channel}:{ts}",
            urgent=urgent or view.status.phase.is_settled,
            hold=self._card_hold,
        )

    async def _log_tail(self, change: Change) -> str | None:
        target = crash_target(
            self._watcher.pods_of(change.namespace, change.name), change.status.pod
        )
        if target is None:
            return None
        pod, container = target
        try:
            text = await self._client.read_pod_log(
                pod, change.namespace, container=container, previous=True, tail_lines=LOG_LINES
            )
        except KrayneError as err:
            log.info("notifier: no previous log for %s/%s: %s", pod, container, err)
            return None
        lines = text.strip().splitlines()[-LOG_LINES:]  # the end says why it crashed
        return "\n".join(lines) or None
