"""The running bot: one TaskGroup owning the Kubernetes client, the outbox, the transports,
every command's slow half and the leadership (``bot.leadership``) under which the shared watch
and the notifier run: every replica answers Slack, only the Lease holder watches and posts.

Signals only call ``stop()``. Stopping drains: commands in flight get ``drain_timeout`` to
finish, then the outbox sends what is queued within the same budget, then everything is
cancelled and closed. A root task that fails stops the rest (kopf's ``running.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import UserNames, build_app, build_web_client, web_sender
from bot.commands import Commands
from bot.home import HomeTabs
from bot.hygiene import Hygiene
from bot.leadership import Elector, Leadership
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.outbox import Outbox, OutboxSettings
from bot.pacing import Pacer
from bot.priority import AckFirst
from bot.readback import ReadBack
from bot.readiness import Readiness, ReadinessSettings
from bot.settings import BotSettings
from bot.teams import TeamChanges, own_team
from bot.transitions import Change
from bot.transport import dispatch_http, http_application, serve_http, serve_socket_mode
from core import api
from core.kube import KubeClient
from core.policy_file import PolicyFile
from core.state import ClusterState, Notified
from core.status import Phase
from core.watching import ClusterWatcher

log = logging.getLogger(__name__)


class ReplicaNotifier(Notifier):
    """The notifier of a bot with several replicas. A delete pressed on another replica said
    "@user is deleting" in the thread and wrote that record on the RayCluster (with
    ``krayne.io/deleted-by``), but this notifier's record in memory predates it: adopted when
    the cluster's own deletion is handled (in its turn, as ``remember`` does for a command run
    here), so the deletion is not announced a second time."""

    async def handle(self, change: Change) -> None:
        state = ClusterState.read(change.raycluster)
        notified = state.notified
        if (
            not change.deleted
            and change.status.phase is Phase.DELETING
            and state.deleted_by
            and notified is not None
            and notified.get("phase") == Phase.DELETING.value
        ):
            self.remember(change.namespace, change.name, notified)
        await super().handle(change)


class BotRuntime:
    """Build with settings (and optionally an existing Kubernetes client), then ``await run()``.

    ``http=False`` skips the HTTP server (the shell dispatches requests itself with
    ``dispatch``). ``started`` is set once watches are running and the HTTP port is bound.
    ``readiness`` tunes how often the Kubernetes API is probed for ``/readyz``;
    ``home_debounce`` is the most often (seconds) one user's App Home is republished.
    """

    def __init__(
        self,
        settings: BotSettings,
        *,
        kube: KubeClient | None = None,
        http: bool = True,
        readiness: ReadinessSettings | None = None,
        home_debounce: float = 2.0,
    ) -> None:
        self.settings = settings
        # Read now: a policy file that cannot be read stops the bot before it serves anyone.
        self.policy = PolicyFile.open(settings.policy_file, interval=settings.policy_poll_seconds)
        self.metrics = Metrics()
        self.web: AsyncWebClient = build_web_client(settings)
        posting = build_web_client(settings, for_outbox=True)  # re-sends nothing blindly
        self.outbox = Outbox(
            web_sender(posting),
            settings=OutboxSettings(
                interval=settings.card_interval, tier_scale=settings.slack_rate_scale
            ),
            metrics=self.metrics,
            recheck=(readback := ReadBack(posting)),
        )
        self._readback = readback
        self.started = asyncio.Event()
        self.acks = AckFirst()  # slow halves wait for the acks in flight (bot/priority.py)
        self.http_port: int | None = None
        self._http = http
        self._readiness_settings = readiness
        self._home_debounce = home_debounce
        self._kube = kube
        self._own_kube = kube is None
        self._watch_namespaces = settings.watched()
        self._tg: asyncio.TaskGroup | None = None
        self._work: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.watcher: ClusterWatcher | None = None
        self.notifier: ReplicaNotifier | None = None
        self.commands: Commands | None = None
        self.app: AsyncApp | None = None
        self.readiness: Readiness | None = None
        self.home: HomeTabs | None = None
        self.leadership: Leadership | None = None
        self.team_id: str | None = None

    # --- public -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run()`` to drain and return (safe from a signal handler)."""
        self._stop.set()

    def ready(self) -> bool:
        """Kubernetes reachable lately and every watch listed and watching (``/readyz``)."""
        return self.not_ready() is None

    def not_ready(self) -> str | None:
        """Why ``/readyz`` answers 503 now (None: ready)."""
        if self.readiness is None:
            return "the bot is starting"
        return self.readiness.problem()

    async def dispatch(
        self, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Handle one signed Slack request in process (the shell's transport)."""
        if self.app is None:
            raise RuntimeError("BotRuntime is not running")
        return await dispatch_http(self.app, body, headers)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run a command's slow half as a task this runtime owns."""
        if self._tg is None or self._stop.is_set():
            work.close()
            log.warning("not running %s: the bot is stopping", name)
            return
        task = self._tg.create_task(self.acks.after_acks(work), name=name)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def run(self) -> None:
        """Run until ``stop()`` (or a root task fails); then drain and close everything."""
        kube = self._kube
        if kube is None:
            from core.kube_asyncio import connect

            kube = self._kube = await connect(self.settings.kubeconfig, self.settings.kube_context)
        try:
            await self._run(kube)
        finally:
            self._tg = None
            if self._own_kube:
                await kube.close()

    # --- internals --------------------------------------------------------------------------

    async def _run(self, kube: KubeClient) -> None:
        self._new_term(kube)
        probed = (self._watch_namespaces or [self.settings.namespace])[0]
        readiness = self.readiness = Readiness(
            kube, probed, synced=self._synced, settings=self._readiness_settings
        )

        pacer = Pacer(scale=self.settings.slack_rate_scale)  # users.info, views.publish

        async def publish_home(user: str) -> None:
            view = await commands.home_view(user, now=datetime.now(UTC))
            await pacer.wait("views.publish")  # Tier 4, however many Homes change at once
            await self.web.views_publish(user_id=user, view=view)

        home = self.home = HomeTabs(publish_home, debounce=self._home_debounce)
        names = self._user_names = UserNames(self.web, pacer=pacer)
        commands = self.commands = Commands(
            kube=kube, settings=self.settings, outbox=self.outbox,
            user_names=names, remember=self._remember, hold=self._hold,
            policy=lambda: self.policy.current, cache=self.watcher,
        )  # fmt: skip
        self.app = build_app(
            self.settings, commands=commands, spawn=self.spawn, client=self.web,
            metrics=self.metrics, home=home,
        )  # fmt: skip
        elector = kube if self.settings.leader_election and isinstance(kube, Elector) else None
        if self.settings.leader_election and elector is None:
            raise ValueError("leader election needs the kubernetes-asyncio client")
        leadership = self.leadership = Leadership(
            lambda: self._lead(kube), elector=elector, lease=self.settings.lease(),
            timing=self.settings.lease_timing(),
        )  # fmt: skip
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            outbox = tg.create_task(self.outbox.run(), name="outbox")
            inputs = [
                tg.create_task(leadership.run(), name="leadership"),
                tg.create_task(readiness.run(), name="readiness"),
                tg.create_task(home.run(), name="app-home"),
                tg.create_task(self.policy.run(), name="policy-file"),
            ]
            if self._http:
                web_app = http_application(
                    self.app, not_ready=self.not_ready, metrics=self.metrics,
                    events=not self.settings.socket_mode, acks=self.acks,
                )  # fmt: skip
                serving = serve_http(
                    web_app, host=self.settings.host, port=self.settings.port,
                    on_started=self._bound,
                )  # fmt: skip
                inputs.append(tg.create_task(serving, name="http"))
            if self.settings.socket_mode:
                token = self.settings.secret("app_token")
                if not token:
                    raise ValueError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
                socket_mode = serve_socket_mode(self.app, app_token=token, client=self.web)
                inputs.append(tg.create_task(socket_mode, name="socket-mode"))
            if not self._http:
                self.started.set()
            await self._stop.wait()
            # Stop taking work in (and stop watching), let commands in flight finish, send what
            # is queued, stop; only then hand the Lease over, so the successor starts from
            # annotations this replica no longer changes.
            for task in inputs:
                task.cancel()
            await self._drain()
            outbox.cancel()
        await leadership.release()

    def _new_term(self, kube: KubeClient) -> None:
        """A fresh watcher for the next term, and no notifier until it starts: a cache or a
        record in memory from an earlier term would be stale (the annotations on the
        RayClusters say where each thread stands)."""
        self.watcher = ClusterWatcher(
            kube, self._watch_namespaces, status=self.settings.status_settings()
        )
        self.notifier = None
        if self.commands is not None:
            # list/describe read this term's cache; a follower's watcher never runs, so its
            # `holds()` is false and they ask the API (bot.commands falls back on its own).
            self.commands.cache = self.watcher

    async def _lead(self, kube: KubeClient) -> None:
        """One term as leader: the shared watch, the notifier (on this workspace's clusters)."""
        watcher = self.watcher
        assert watcher is not None
        try:
            if self.team_id is None:
                self.team_id = self.settings.slack_team_id or await own_team(self.web)
            changes = TeamChanges(watcher, self.team_id)
            home = self.home

            async def annotate(name: str, namespace: str, notes: dict[str, str | None]) -> None:
                await api.annotate_cluster(name, namespace, notes, client=kube)

            notifier = self.notifier = ReplicaNotifier(
                watcher=changes, client=kube, outbox=self.outbox, annotate=annotate,
                metrics=self.metrics, on_phase=home.changed if home else None,
                user_names=self._user_names, read_thread=self._read_thread,
                find_posted=self._find_posted,
                orphan_after=timedelta(seconds=self.settings.card_grace_seconds),
                index_namespaces=self._watch_namespaces or [],
                card_hold=self.settings.card_hold_seconds,
            )  # fmt: skip
            hygiene = Hygiene(  # reminders, suspensions and deletions: the leader's alone
                watcher=changes, client=kube, outbox=self.outbox,
                policy=lambda: self.policy.current,
            )  # fmt: skip
            async with asyncio.TaskGroup() as tg:
                tg.create_task(watcher.run(), name="watcher")
                tg.create_task(notifier.run(), name="notifier")
                tg.create_task(hygiene.run(), name="hygiene")
        finally:
            self._new_term(kube)

    def _synced(self) -> bool:
        # A follower watches nothing: it is ready when the API answers (commands need no cache).
        leading = self.leadership is not None and self.leadership.leading
        return not leading or (self.watcher is not None and self.watcher.synced)

    def _remember(self, namespace: str, name: str, record: Notified) -> None:
        if self.notifier is not None:
            self.notifier.remember(namespace, name, record)

    def _hold(self, namespace: str, name: str) -> AbstractAsyncContextManager[None]:
        if self.notifier is not None:
            return self.notifier.hold(namespace, name)
        return contextlib.nullcontext()

    async def _read_thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread with its messages' metadata (conversations.replies needs
        ``include_all_metadata``: https://docs.slack.dev/reference/methods/conversations.replies)."""
        client = self.web
        result = await client.conversations_replies(
            channel=channel, ts=ts, include_all_metadata=True, limit=200
        )
        return list(result.get("messages") or [])

    async def _find_posted(self, channel: str, metadata: dict[str, Any]) -> str | None:
        """The ts of the channel's message posted with ``metadata``, if any (``bot.readback``)."""
        found = await self._readback.find("chat.postMessage", {"channel": channel,
                                                               "metadata": metadata})  # fmt: skip
        return str(found["ts"]) if found else None

    def _bound(self, port: int) -> None:
        self.http_port = port
        self.started.set()

    async def _drain(self) -> None:
        budget = self.settings.drain_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        if self._work:
            _done, pending = await asyncio.wait(set(self._work), timeout=budget)
            for task in pending:
                task.cancel()
        await self.outbox.drain(max(0.0, deadline - loop.time()))
