"""Command → core API → Slack: the slow half of every slash command and button.

Listeners parse and acknowledge within Slack's 3 seconds; what follows runs here, in a task the
runtime owns. Every outcome is told through ``respond`` (the interaction's ``response_url``, which
works even where the bot is not a channel member); thread replies and cards go through the outbox.
Errors become ephemeral text (with the usage line where the input may be at fault); nothing of
an exception but its message and hint ever reaches Slack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, Protocol

import yaml
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot import messages as msg
from bot.facts import CardView, card_view
from bot.gate import Gate, Invocation
from bot.grammar import USAGE, Command, CreateCommand, ManifestCommand, config_for
from bot.outbox import Outbox
from bot.redact import redact
from bot.settings import BotSettings
from bot.transitions import card_metadata
from core import api, policy_rules
from core.api import ClusterDetails, ClusterSummary
from core.cluster_cache import cached_details, cached_summaries
from core.config import ClusterConfig
from core.errors import (
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    ClusterTimeoutError,
    ConfigValidationError,
    KrayneError,
    KubeConnectionError,
)
from core.kube import KubeClient
from core.objects import RayClusterView
from core.policy import OPEN, Policy
from core.state import (
    NOTIFIED,
    SCALING,
    ClusterState,
    Notified,
    creation_annotations,
    decode_notified,
    made_by_request,
    scaled_by_request,
    state_patch,
)
from core.status import Phase
from core.ttl import format_duration, parse_duration
from core.watching import ClusterWatcher
from manifests.raycluster import auth_secret_name, build_raycluster

log = logging.getLogger(__name__)

CANNOT_POST = frozenset(msg.CANNOT_POST)
"""chat.postMessage errors that mean "not here" (https://docs.slack.dev/reference/methods/
chat.postMessage): the user is told what works instead, not "something went wrong"."""


class Respond(Protocol):
    """bolt's ``AsyncRespond``: posts to the interaction's response_url."""

    async def __call__(self, text: str = "", **kwargs: Any) -> Any: ...


__all__ = ["Commands", "Invocation", "Respond", "error_text", "may_modify"]


def may_modify(user: str, cluster: ClusterSummary, policy: Policy = OPEN) -> bool:
    """Only the owner or an admin may scale or delete."""
    return policy_rules.may_modify(policy, user, cluster.owner)


class Commands:
    """The operations behind `/krayne` and the buttons, with their dependencies injected."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        settings: BotSettings,
        outbox: Outbox,
        user_names: Callable[[list[str]], Awaitable[dict[str, str]]] | None = None,
        remember: Callable[[str, str, Notified], None] | None = None,
        hold: Callable[[str, str], AbstractAsyncContextManager[None]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        policy: Callable[[], Policy] = lambda: OPEN,
        cache: ClusterWatcher | None = None,
    ) -> None:
        self.kube = kube
        self.cache = cache  # list, describe and App Home read it; the API where it cannot answer
        self.policy = policy
        self.gate = Gate(kube=kube, settings=settings, policy=policy)
        self.settings = settings
        self.outbox = outbox
        self._user_names = user_names
        self._remember = remember
        self._hold = hold or (lambda _namespace, _name: nullcontext())
        self._now = now

    def namespace(self, requested: str | None, inv: Invocation | None = None) -> str:
        """``-n``, else the channel's namespace (policy), else the default one."""
        return self.gate.namespace(requested, inv)

    def admit(self, cmd: Command, inv: Invocation, what: str) -> str | None:
        """The policy's answer before the ack (who, from where, in which namespace)."""
        return self.gate.admit(cmd, inv, what)

    def config(
        self, cmd: CreateCommand | ManifestCommand, inv: Invocation | None = None
    ) -> ClusterConfig:
        """Pure and fast: listeners call it before the ack so bad flags fail at once."""
        return config_for(cmd, namespace=self.namespace(cmd.namespace, inv))

    # --- create / manifest ----------------------------------------------------------------

    async def create(
        self, config: ClusterConfig, inv: Invocation, respond: Respond, *, ttl: str | None = None
    ) -> None:
        """Create, then post the card and record its ts as the thread.

        The cluster comes first so that a refused create (quota, namespace, 409) leaves no
        card behind; the notifier waits for the thread annotation before it says anything.
        ``ttl`` (``--ttl 8h``) is bounded by the policy's ``ttl`` section, which may also give
        every cluster a default one.
        """
        name, namespace = config.name, config.namespace
        try:
            lifetime = self.gate.policy.ttl.checked(parse_duration(ttl) if ttl else None)
        except ValueError as err:
            await respond(text=msg.ttl_refused(str(err)), response_type="ephemeral")
            return
        expires = datetime.now(UTC) + lifetime if lifetime is not None else None
        notes = creation_annotations(
            channel=inv.channel, team=inv.team, expires=expires, request=inv.request
        )
        refusal = await self.gate.refuse_create(config, inv)
        if refusal is not None:
            self.gate.audit_now("create", inv, name, namespace, refusal)
            await respond(text=refusal.text, response_type="ephemeral")
            return
        # Held from before the create until the thread is recorded: the notifier, seeing the
        # cluster without a thread, would take it for a crashed bot's leftover and post a
        # second card while this one waits its turn in the channel.
        async with self._hold(namespace, name):
            said = await self._create_with_card(config, inv, respond, notes)
        if said is None:
            return
        # After the hold: the thread's first reply waits for nothing but the card.
        await self.gate.audit("create", inv, name, namespace, "ok")
        if said:
            await respond(text=said, response_type="ephemeral")

    async def _create_with_card(
        self, config: ClusterConfig, inv: Invocation, respond: Respond, notes: dict[str, str]
    ) -> str | None:
        """Create the cluster, post its card, record the thread: None if no cluster was
        created, else what is still to be said privately (maybe nothing)."""
        name, namespace = config.name, config.namespace
        try:
            created = await api.create_cluster(
                config,
                client=self.kube,
                owner=inv.user,
                annotations=notes,
                **self.settings.manifest_options(),
            )
        except ClusterAlreadyExistsError:
            if made_by_request(await self.kube.get_raycluster(name, namespace), inv.request):
                log.info("create %s/%s: a retry of the request that made it", namespace, name)
                return None  # Slack's retry, reaching this replica: the first one posts the card
            self.gate.audit_now("create", inv, name, namespace, "failed:AlreadyExists")
            existing = await api.get_cluster(name, namespace, client=self.kube)
            text = (
                msg.already_yours(name)
                if existing.owner == inv.user
                else msg.already_exists_not_ours(name, namespace)
            )
            await respond(text=text, response_type="ephemeral")
            return None
        except KrayneError as err:
            self.gate.audit_now("create", inv, name, namespace, f"failed:{type(err).__name__}")
            raise
        # The card shows what was asked for from the start: desired workers and the images the
        # pods will run (the manifest is pure, so this is exactly what was submitted).
        body = build_raycluster(config, owner=inv.user, **self.settings.manifest_options())
        # The cluster exists: whatever else is said, the owner learns where its Ray token is
        # (in the same private message, so each outcome is one answer).
        token = ""
        if body["spec"].get("authOptions"):
            token = msg.ray_token(name, namespace, auth_secret_name(name))
        view = card_view(body, created.status)
        try:
            thread_ts, refused = await self._post_card(
                inv.channel, view, await self._names([inv.user]), uid=created.uid
            )
        except Exception:  # the cluster exists: its audit line must not go with the card
            self.gate.audit_now("create", inv, name, namespace, "ok")
            raise
        if not thread_ts:
            return _joined(msg.cannot_post(refused, name), token)
        try:
            await api.link_thread(
                name, namespace, channel=inv.channel, thread_ts=thread_ts, owner=inv.user,
                client=self.kube,
            )  # fmt: skip
        except KrayneError as err:  # the cluster exists: say so, not "create failed"
            log.warning("thread of %s/%s not recorded: %s", namespace, name, err.message)
            return _joined(msg.thread_not_linked(name, redact(err.message)), token)
        note = msg.not_watched(name, namespace) if not self.settings.watches(namespace) else ""
        return _joined(note, token)

    async def _post_card(
        self, channel: str, view: CardView, names: dict[str, str], *, uid: str
    ) -> tuple[str | None, str]:
        """Post the status card (its metadata names the cluster); its ts becomes the thread.
        (None, Slack's error) where the bot may not post."""
        try:
            text, card = blocks.card_text(view, names), blocks.card(view, names)
            result = await self.outbox.send(
                channel, "chat.postMessage",
                {"channel": channel, "text": text, "blocks": card,
                 "metadata": card_metadata(uid)},
            )  # fmt: skip
        except SlackApiError as err:
            error = str(err.response.get("error"))
            if error in CANNOT_POST:
                return None, error
            raise
        return str(result["ts"]), ""

    async def manifest(self, config: ClusterConfig, inv: Invocation, respond: Respond) -> None:
        body = build_raycluster(config, owner=inv.user, **self.settings.manifest_options())
        text = yaml.safe_dump(body, sort_keys=False)
        intro = msg.manifest_intro(config.name, config.namespace)
        await respond(text=intro, blocks=blocks.code_blocks(intro, text), response_type="ephemeral")

    # --- list / describe ------------------------------------------------------------------

    async def list_view(
        self, namespace: str | None, *, all_namespaces: bool, mine: bool, inv: Invocation,
        respond: Respond,
    ) -> None:  # fmt: skip
        owner = inv.user if mine else None
        if all_namespaces:  # `--all`: every namespace the bot manages, and clusters not krayne's
            clusters = await self._list_everywhere(owner, managed_only=False)
            scope = msg.list_scope(None, mine, among=self.settings.watched())
        else:
            scope_ns = self.namespace(namespace, inv)
            clusters = await self._list(scope_ns, owner)
            scope = msg.list_scope(scope_ns, mine)
        names = await self._names([c.owner for c in clusters if c.owner])
        await respond(
            text=blocks.cluster_table_text(clusters, scope=scope),
            blocks=blocks.cluster_table(clusters, scope=scope, now=self._now(), user_names=names),
            response_type="ephemeral",
        )

    async def _list(self, namespace: str, owner: str | None = None) -> list[ClusterSummary]:
        """From the watcher's cache when it holds the namespace (no request), else two LISTs."""
        rows = cached_summaries(self.cache, namespace, owner=owner, now=self._now())
        if rows is not None:
            return rows
        return await api.list_clusters(namespace, client=self.kube, owner=owner)

    async def _details(self, name: str, namespace: str) -> ClusterDetails:
        details = cached_details(self.cache, name, namespace, now=self._now())
        if details is not None:
            return details
        if self.cache is not None and self.cache.holds(namespace):
            # Not in the cache: missing (one GET raises ClusterNotFoundError), not krayne's,
            # or created a moment ago; only the last two are worth describe's three requests.
            await self.kube.get_raycluster(name, namespace)
        return await api.describe_cluster(name, namespace, client=self.kube)

    async def _list_everywhere(
        self, owner: str | None, *, managed_only: bool = True
    ) -> list[ClusterSummary]:
        """`--all` means every namespace the bot manages: one cluster-wide LIST pair when it
        watches all of them, else one pair per namespace — namespaced RBAC refuses the former."""
        watched = self.settings.watched()
        if watched is None:
            return await api.list_clusters(
                None, client=self.kube, owner=owner, managed_only=managed_only
            )
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(
                        api.list_clusters(
                            ns, client=self.kube, owner=owner, managed_only=managed_only
                        )
                    )
                    for ns in watched
                ]
        except ExceptionGroup as failed:  # the first failure says what went wrong
            raise failed.exceptions[0] from None
        found = [cluster for task in tasks for cluster in task.result()]
        return sorted(found, key=lambda c: (c.namespace, c.name))

    async def _names(self, users: list[str]) -> dict[str, str]:
        if not self._user_names or not users:
            return {}
        try:
            return await self._user_names(sorted(set(users)))
        except Exception as err:  # names are a nicety; ids are shown instead
            log.info("user names unavailable: %s", err)
            return {}

    async def describe(
        self, name: str, namespace: str | None, respond: Respond, *, inv: Invocation | None = None,
        include_unmanaged: bool = False,
    ) -> None:  # fmt: skip
        details = await self._details(name, self.namespace(namespace, inv))
        if not details.summary.managed and not include_unmanaged:
            await respond(text=msg.not_managed(name, details.summary.namespace),
                          response_type="ephemeral")  # fmt: skip
            return
        await respond(
            text=f"Ray cluster {name}: {details.summary.status.phase.value}",
            blocks=blocks.describe(details, now=self._now()),
            response_type="ephemeral",
        )

    async def home_view(self, user: str, *, now: datetime) -> dict[str, Any]:
        """The App Home tab: the user's clusters and the team's (from the watcher's cache)."""
        try:
            clusters: list[ClusterSummary] | None = await self._list(self.settings.namespace)
        except KrayneError as err:
            log.warning("App Home without clusters: %s", err.message)
            clusters = None
        return blocks.app_home(user, clusters, now=now)

    # --- scale ----------------------------------------------------------------------------

    async def scale(
        self, name: str, namespace: str | None, *, workers: int | None, group: str | None,
        min_workers: int | None, max_workers: int | None, delta: int = 0, inv: Invocation,
        respond: Respond,
    ) -> None:  # fmt: skip
        ns = self.namespace(namespace, inv)
        summary = await api.get_cluster(name, ns, client=self.kube)
        refused = self.gate.may_not_modify("scale", inv.user, summary)
        if refused is not None:
            await self.gate.audit("scale", inv, name, ns, refused)
            await respond(text=refused.text, response_type="ephemeral")
            return
        if workers is None:  # a +1/-1 button: relative to the group's current replicas
            details = await api.describe_cluster(name, ns, client=self.kube)
            target = next(
                (g for g in details.worker_groups if group is None or g.name == group), None
            )
            if target is None:
                raise ClusterNotFoundError(name, ns)
            group, workers = target.name, max(0, target.replicas + delta)
        raw = await self.kube.get_raycluster(name, ns)
        if scaled_by_request(raw, inv.request):  # Slack's retry, on this replica or another
            log.info("scale %s/%s: a retry of the request that scaled it", ns, name)
            return
        refusal = await self.gate.refuse_scale(raw, group, workers, min_workers, max_workers)
        if refusal is not None:
            await self.gate.audit("scale", inv, name, ns, refusal, raw)
            await respond(text=refusal.text, response_type="ephemeral")
            return
        who = blocks.who(inv.user, await self._names([inv.user]))  # named, not pinged
        async with self._hold(ns, name):  # the thread says "scaled" before what follows from it
            result = await api.scale_group(
                name, ns, group, None if delta else workers, min_replicas=min_workers,
                max_replicas=max_workers, client=self.kube, by=inv.user, request=inv.request,
                delta=delta,
            )  # fmt: skip
            if result.repeated:  # the same retry, racing the first on another replica
                log.info("scale %s/%s: a retry of the request that scaled it", ns, name)
                return
            if self._remember and summary.status.phase is Phase.READY:
                # Asked for by a person, so the thread follows it to "ready again" (what the
                # Ray autoscaler does on its own to a ready cluster stays off the thread).
                marker = Notified(phase=SCALING, reason="", was_ready=True, seq=_told(summary))
                self._remember(ns, name, marker)
            what = msg.scale_outcome(result)
            self._thread_note(result.summary, msg.scaled_by(who, what))
        await self.gate.audit("scale", inv, name, ns, "ok", raw)
        await respond(text=msg.scaled_ephemeral(name, what), response_type="ephemeral")

    # --- delete ---------------------------------------------------------------------------

    async def ask_delete(self, name: str, namespace: str | None, inv: Invocation,
                         respond: Respond) -> None:  # fmt: skip
        ns = self.namespace(namespace, inv)
        summary = await api.get_cluster(name, ns, client=self.kube)
        refused = self.gate.may_not_modify("delete", inv.user, summary)
        if refused is not None:
            await self.gate.audit("delete", inv, name, ns, refused)
            await respond(text=refused.text, response_type="ephemeral")
            return
        await respond(
            text=msg.delete_confirm(name, ns),
            blocks=blocks.delete_confirm(ns, name),
            response_type="ephemeral",
        )

    async def delete(self, name: str, namespace: str, inv: Invocation, respond: Respond) -> None:
        summary = await api.get_cluster(name, namespace, client=self.kube)
        raw = await self.kube.get_raycluster(name, namespace)
        refused = self.gate.may_not_modify("delete", inv.user, summary)
        if refused is not None:
            await self.gate.audit("delete", inv, name, namespace, refused, raw)
            await respond(text=refused.text, replace_original=True)
            return
        record = Notified(phase=Phase.DELETING.value, reason=f"deleted by {inv.user}",
                          seq=_told(summary))  # fmt: skip
        who = blocks.who(inv.user, await self._names([inv.user]))  # named, not pinged
        async with self._hold(namespace, name):  # "deleted by" before the card says gone
            if self._remember:
                self._remember(namespace, name, record)
            await api.annotate_cluster(
                name, namespace, state_patch(deleted_by=inv.user, notified=record),
                client=self.kube,
            )  # fmt: skip
            await api.delete_cluster(name, namespace, client=self.kube)
            self._thread_note(summary, msg.deleting_by(who))
        await self.gate.audit("delete", inv, name, namespace, "ok", raw)
        await respond(text=msg.deleted_ephemeral(name), replace_original=True)

    # --- hygiene: suspend / resume / extend ---------------------------------------------------

    async def suspend(self, name: str, namespace: str | None, inv: Invocation,
                      respond: Respond) -> None:  # fmt: skip
        await self._set_suspended(name, namespace, inv, respond, suspended=True)

    async def resume(self, name: str, namespace: str | None, inv: Invocation,
                     respond: Respond) -> None:  # fmt: skip
        await self._set_suspended(name, namespace, inv, respond, suspended=False)

    async def _set_suspended(
        self, name: str, namespace: str | None, inv: Invocation, respond: Respond, *,
        suspended: bool,
    ) -> None:  # fmt: skip
        ns = self.namespace(namespace, inv)
        action = "suspend" if suspended else "resume"
        summary = await api.get_cluster(name, ns, client=self.kube)
        refusal = self.gate.may_not_modify(action, inv.user, summary)
        if refusal is not None:
            self.gate.audit_now(action, inv, name, ns, refusal)
            await respond(text=refusal.text, response_type="ephemeral")
            return
        view = RayClusterView.parse(await self.kube.get_raycluster(name, ns))
        if view.suspended == suspended:
            state = "suspended" if suspended else "running (not suspended)"
            await respond(text=msg.already(name, state), response_type="ephemeral")
            return
        # Resuming restarts the clock (an expired cluster would be suspended again at once);
        # suspending by hand is not the TTL's doing, so the bot will not delete it later.
        ttl = self.gate.policy.ttl
        expires = ClusterState.read(view).expires
        notes = state_patch(ttl_suspended_at=None)
        left = None
        if not suspended and expires is not None:
            now = datetime.now(UTC)
            if expires <= now + ttl.remind_before:  # expired, or about to: a fresh TTL
                expires = ttl.extended(now, now)
                notes |= state_patch(expires=expires)
            left = format_duration(expires - now)
        after = await api.set_suspended(name, ns, suspended, annotations=notes, client=self.kube)
        await self.gate.audit(action, inv, name, ns, "ok")
        who = blocks.who(inv.user, await self._names([inv.user]))  # named, not pinged
        text = msg.suspended_by(who, name) if suspended else msg.resumed_by(who, name, left=left)
        rendered = blocks.suspended_note(text, ns, name) if suspended else None
        self._thread_note(after, text, rendered)
        await respond(text=text, response_type="ephemeral")

    async def extend(self, name: str, namespace: str | None, inv: Invocation,
                     respond: Respond) -> None:  # fmt: skip
        ns = self.namespace(namespace, inv)
        summary = await api.get_cluster(name, ns, client=self.kube)
        refusal = self.gate.may_not_modify("extend", inv.user, summary)
        if refusal is not None:
            self.gate.audit_now("extend", inv, name, ns, refusal)
            await respond(text=refusal.text, response_type="ephemeral")
            return
        expires = ClusterState.read(await self.kube.get_raycluster(name, ns)).expires
        if expires is None:
            await respond(text=msg.no_ttl(name), response_type="ephemeral")
            return
        now = datetime.now(UTC)
        renewed = self.gate.policy.ttl.extended(expires, now)
        await api.annotate_cluster(name, ns, state_patch(expires=renewed), client=self.kube)
        await self.gate.audit("extend", inv, name, ns, "ok")
        left = format_duration(renewed - now)
        who = blocks.who(inv.user, await self._names([inv.user]))  # named, not pinged
        self._thread_note(summary, msg.ttl_extended(who, name, left=left))
        await respond(text=msg.ttl_extended_ephemeral(name, left=left), response_type="ephemeral")

    def _thread_note(
        self, summary: ClusterSummary, text: str, rendered: blocks.Blocks | None = None
    ) -> None:
        ref = summary.slack
        if ref is None or not ref.thread_ts:
            return
        self.outbox.submit(
            ref.channel,
            "chat.postMessage",
            {"channel": ref.channel, "thread_ts": ref.thread_ts, "text": text,
             "blocks": rendered or blocks.thread_reply(text)},
        )  # fmt: skip


def _joined(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def _told(summary: ClusterSummary) -> int:
    """How many replies the cluster's thread has had (kept across a command's own record)."""
    record = decode_notified(summary.annotations.get(NOTIFIED))
    return record.get("seq", 0) if record else 0


def error_text(err: BaseException, *, usage_of: str | None) -> str:
    """The ephemeral text for a failed command: message, hint, usage; never a repr.

    The usage line helps only when what was typed may be at fault; an unreachable or failing
    Kubernetes API is no reason to re-read the syntax, so it gets the reason and hint alone."""
    usage = USAGE.get(usage_of) if usage_of else None
    if isinstance(err, KubeConnectionError | ClusterTimeoutError):
        usage = None
    if isinstance(err, KubeConnectionError):  # redacted: the API server's address stays in logs
        hint = blocks.escape(redact(err.hint)) if err.hint else None
        return msg.krayne_error(msg.kube_unreachable(blocks.escape(redact(err.message))), hint)
    if isinstance(err, ConfigValidationError):
        problems = "\n".join(f"• {blocks.escape(p)}" for p in err.problems)  # quote input
        return msg.krayne_error("The cluster settings are not valid:\n" + problems, err.hint, usage)
    if isinstance(err, KrayneError):  # no API server address in Slack (logs keep it); escaped
        hint = blocks.escape(redact(err.hint)) if err.hint else None
        return msg.krayne_error(blocks.escape(redact(err.message)), hint, usage)
    return msg.internal_error(f"/krayne {usage_of}" if usage_of else "/krayne")
