"""Bolt listeners: parse, acknowledge within Slack's 3 seconds, hand the slow work off.

Nothing here waits on Kubernetes. A listener validates what it can purely (grammar, config),
answers with ``ack`` (the ephemeral usage error, the help, or "Creating `demo`…") and spawns
the rest as a task the runtime owns. A request Slack delivers twice (``X-Slack-Retry-Num``, or
the same trigger/event id) is acknowledged and otherwise ignored, so nothing is created or
posted twice.

The slash command is matched whatever it is called (``/krayne``, ``/krayne-dev``, …): a Slack
app has one command per name, and a staging install simply registers another name. Clicks from
the App Home carry no ``response_url``; their answers go to the user's DM with the bot. Requests
the bot does not use (other actions, shortcuts, view submissions, events) are acknowledged with
200 and logged, so Slack neither retries nor shows the user an error.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot import blocks
from bot import messages as msg
from bot.commands import Commands, Invocation, Respond, error_text
from bot.grammar import (
    HELP_TEXT,
    USAGE,
    CreateCommand,
    DeleteCommand,
    DescribeCommand,
    HelpCommand,
    ListCommand,
    ManifestCommand,
    ScaleCommand,
    UsageError,
    parse_command,
)
from bot.home import HomeTabs
from bot.metrics import Metrics
from core.errors import ClusterNotFoundError, ConfigValidationError, KrayneError

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
# What a button click starts: (who clicked, namespace, cluster, where to answer) -> work.
ButtonWork = Callable[[Invocation, str, str, Respond], Coroutine[Any, Any, Any]]

ANY = re.compile(r".*", re.DOTALL)
ANY_COMMAND = re.compile(r"^/.+")


class SeenRequests:
    """A bounded TTL set of request keys, to recognise Slack's re-deliveries."""

    def __init__(self, *, ttl: float = 600.0, size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._ttl, self._size, self._clock = ttl, size, clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        now = self._clock()
        while self._seen and (
            len(self._seen) >= self._size or next(iter(self._seen.values())) < now - self._ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def request_key(body: dict[str, Any]) -> str | None:
    """What identifies one user action across Slack's re-deliveries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    actions = body.get("actions") or []
    if actions and actions[0].get("action_ts"):
        return f"action:{(body.get('user') or {}).get('id')}:{actions[0]['action_ts']}"
    return None


def register(
    app: AsyncApp, *, commands: Commands, spawn: Spawn, metrics: Metrics,
    home: HomeTabs | None = None,
) -> None:  # fmt: skip
    """Attach every listener of krayne-bot to ``app``; ``home`` learns who opened App Home."""
    seen = SeenRequests()

    async def dedupe(
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],  # bolt injects by name
    ) -> BoltResponse | None:
        key = request_key(body)
        if key is not None and not seen.first_time(key):
            metrics.retries_ignored.inc()
            return BoltResponse(status=200, body="")
        await next()
        return None

    app.middleware(dedupe)

    async def rate_limited_notice(
        body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        # Slack's notice that it dropped events for a minute: no listener type exists for it.
        if body.get("type") == "app_rate_limited":
            log.warning("Slack rate-limited events to the bot (minute %s)",
                        body.get("minute_rate_limited"))  # fmt: skip
            return BoltResponse(status=200, body="")
        await next()
        return None

    app.middleware(rate_limited_notice)

    def run(
        work: Coroutine[Any, Any, Any], *, what: str, respond: Respond, gone: str | None = None
    ) -> None:
        """Own ``work`` as a task; a failure is told through ``respond``. ``gone`` is the
        cluster a button referred to: its disappearance is news, not an error."""

        async def guarded() -> None:
            try:
                await work
            except Exception as err:
                if gone is not None and isinstance(err, ClusterNotFoundError):
                    log.info("/krayne %s: %s", what, err.message)
                    metrics.commands.labels(command=what, outcome="gone").inc()
                    await _tell(respond, msg.no_longer_exists(gone), what)
                    return
                if isinstance(err, KrayneError):
                    log.info("/krayne %s: %s", what, err.message)
                else:
                    log.exception("/krayne %s failed", what)
                metrics.commands.labels(command=what, outcome="error").inc()
                await _tell(respond, error_text(err, usage_of=what), what)
            else:
                metrics.commands.labels(command=what, outcome="ok").inc()

        spawn(guarded(), f"krayne:{what}")

    @app.command(ANY_COMMAND)
    async def on_krayne(ack: Any, command: dict[str, Any], respond: Respond) -> None:
        inv = Invocation(
            user=command.get("user_id", ""),
            channel=command.get("channel_id", ""),
            team=command.get("team_id"),
        )
        try:
            cmd = parse_command(command.get("text") or "")
        except UsageError as err:
            metrics.commands.labels(command="usage", outcome="usage_error").inc()
            await ack(text=msg.usage_error(err.message, err.usage), response_type="ephemeral")
            return
        if isinstance(cmd, HelpCommand):
            text = HELP_TEXT if not cmd.topic else f"`{USAGE.get(cmd.topic, cmd.topic)}`"
            metrics.commands.labels(command="help", outcome="ok").inc()
            await ack(text=text, blocks=blocks.text_blocks(text), response_type="ephemeral")
            return
        if isinstance(cmd, CreateCommand | ManifestCommand):
            what = "create" if isinstance(cmd, CreateCommand) else "manifest"
            try:
                config = commands.config(cmd)
            except ConfigValidationError as err:
                metrics.commands.labels(command=what, outcome="usage_error").inc()
                await ack(text=error_text(err, usage_of=what), response_type="ephemeral")
                return
            if isinstance(cmd, CreateCommand):
                await ack(text=msg.ack_create(cmd.name), response_type="ephemeral")
                run(commands.create(config, inv, respond), what=what, respond=respond)
            else:
                await ack(text=msg.ack_manifest(cmd.name), response_type="ephemeral")
                run(commands.manifest(config, inv, respond), what=what, respond=respond)
            return
        if isinstance(cmd, ListCommand):
            await ack(text=msg.ACK_LIST, response_type="ephemeral")
            work = commands.list_view(
                cmd.namespace, all_namespaces=cmd.all_namespaces, mine=cmd.mine, inv=inv,
                respond=respond,
            )  # fmt: skip
            run(work, what="list", respond=respond)
        elif isinstance(cmd, DescribeCommand):
            await ack(text=msg.ack_describe(cmd.name), response_type="ephemeral")
            run(commands.describe(cmd.name, cmd.namespace, respond), what="describe",
                respond=respond)  # fmt: skip
        elif isinstance(cmd, ScaleCommand):
            await ack(text=msg.ack_scale(cmd.name, cmd.workers), response_type="ephemeral")
            work = commands.scale(
                cmd.name, cmd.namespace, workers=cmd.workers, group=cmd.group,
                min_workers=cmd.min_workers, max_workers=cmd.max_workers, inv=inv,
                respond=respond,
            )  # fmt: skip
            run(work, what="scale", respond=respond)
        elif isinstance(cmd, DeleteCommand):
            await ack(text=msg.ack_describe(cmd.name), response_type="ephemeral")
            run(commands.ask_delete(cmd.name, cmd.namespace, inv, respond), what="delete",
                respond=respond)  # fmt: skip
        else:
            await ack(text=msg.usage_error("Unknown command.", None), response_type="ephemeral")

    def _clicked(body: dict[str, Any]) -> tuple[Invocation, str, str]:
        action = (body.get("actions") or [{}])[0]
        namespace, name = blocks.parse_ref(str(action.get("value", "")))
        inv = Invocation(
            user=(body.get("user") or {}).get("id", ""),
            channel=(body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id", ""),
            team=(body.get("team") or {}).get("id"),
        )
        return inv, namespace, name

    def _scale_by(delta: int) -> ButtonWork:
        def work(
            inv: Invocation, namespace: str, name: str, out: Respond
        ) -> Coroutine[Any, Any, None]:
            return commands.scale(
                name, namespace, workers=None, group=None, min_workers=None, max_workers=None,
                delta=delta, inv=inv, respond=out,
            )  # fmt: skip

        return work

    # action_id -> (metrics label, what failed, the work a click starts)
    buttons: dict[str, tuple[str, str, ButtonWork]] = {
        blocks.DESCRIBE: ("describe", "describe",
                          lambda inv, ns, name, out: commands.describe(name, ns, out)),
        blocks.DELETE: ("delete", "delete",
                        lambda inv, ns, name, out: commands.ask_delete(name, ns, inv, out)),
        blocks.DELETE_CONFIRM: ("delete_confirm", "delete",
                                lambda inv, ns, name, out: commands.delete(name, ns, inv, out)),
        blocks.DELETE_CANCEL: ("delete_cancel", "delete", lambda inv, ns, name, out: out(
            text=msg.delete_cancelled(name), replace_original=True)),
        blocks.SCALE_UP: ("scale_up", "scale", _scale_by(+1)),
        blocks.SCALE_DOWN: ("scale_down", "scale", _scale_by(-1)),
    }  # fmt: skip

    def _register_button(action_id: str, label: str, what: str, work: ButtonWork) -> None:
        @app.action(action_id)
        async def on_click(ack: Any, body: dict[str, Any], respond: Respond | None,
                           client: Any) -> None:  # fmt: skip
            await ack()
            metrics.actions.labels(action=label).inc()
            inv, namespace, name = _clicked(body)
            out = answer_to(body, respond, client)
            run(work(inv, namespace, name, out), what=what, respond=out, gone=name)

    for action_id, (label, what, work) in buttons.items():
        _register_button(action_id, label, what, work)

    @app.event("app_home_opened")
    async def on_home(ack: Any, event: dict[str, Any], client: Any) -> None:
        await ack()
        user = event.get("user", "")
        if event.get("tab", "home") != "home" or not user:
            return
        if home is not None:
            home.opened(user)  # kept current from now on, as their clusters change

        async def publish() -> None:
            view = await commands.home_view(user, now=datetime.now(UTC))
            await client.views_publish(user_id=user, view=view)

        async def no_respond(text: str = "", **_: Any) -> None:
            log.warning("App Home of %s not published: %s", user, text)

        run(publish(), what="home", respond=no_respond)

    register_fallbacks(app)


def register_fallbacks(app: AsyncApp) -> None:
    """Acknowledge what krayne does not use; registered last, so krayne's listeners win."""

    async def ignore(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        kind = body.get("type") or "event"
        detail = (
            ((body.get("actions") or [{}])[0]).get("action_id")
            or body.get("callback_id")
            or (body.get("view") or {}).get("callback_id")
            or (body.get("event") or {}).get("type")
        )
        log.info("ignored a Slack request the bot does not use: %s %s", kind, detail)

    app.action(ANY)(ignore)
    app.view_submission(ANY)(ignore)
    app.view_closed(ANY)(ignore)
    app.shortcut(ANY)(ignore)
    app.options(ANY)(ignore)
    app.event(ANY)(ignore)


async def _tell(respond: Respond, text: str, what: str) -> None:
    try:
        await respond(text=text, response_type="ephemeral")
    except Exception:
        log.exception("could not tell the user how /krayne %s ended", what)


def answer_to(body: dict[str, Any], respond: Respond | None, client: Any) -> Respond:
    """Where a click is answered: its ``response_url`` when Slack sent one, else (a click in
    the App Home, which has neither channel nor response_url) the user's DM with the bot."""
    if respond is not None and (body.get("response_url") or body.get("response_urls")):
        return respond
    user = (body.get("user") or {}).get("id", "")

    async def direct_message(text: str = "", **kwargs: Any) -> Any:
        args: dict[str, Any] = {"channel": user, "text": text}
        if kwargs.get("blocks"):
            args["blocks"] = kwargs["blocks"]
        return await client.chat_postMessage(**args)

    return direct_message
