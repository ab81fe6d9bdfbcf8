"""Bolt listeners: parse, acknowledge within Slack's 3 seconds, hand the slow work off.

Nothing here waits on Kubernetes. A listener validates what it can purely (grammar, config),
answers with ``ack`` (the ephemeral usage error, the help, or "Creating `demo`…") and spawns
the rest as a task the runtime owns, under :func:`bot.middleware.guarded`. Retries, Slack's
rate-limit notice and failures before the ack are the middleware's (``bot/middleware.py``).

Handlers are module-level functions: their dependencies come first, as one explicit
:class:`ListenerDeps`, bound by :func:`bot.middleware.bind`; Bolt injects the rest by name.

The slash command is matched whatever it is called (``/krayne``, ``/krayne-dev``, …): a Slack
app has one command per name, and a staging install simply registers another name. Where an
answer goes (response_url or chat.postEphemeral, the clicked thread, a modal for App Home
clicks) is decided by ``bot/answers.py``. Requests the bot does not use (other actions,
shortcuts, view submissions, events) are acknowledged with 200 and logged, so Slack neither
retries nor shows the user an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import blocks, create_form, forms
from bot import messages as msg
from bot.answers import ModalAnswer, ReliableRespond, answer_to
from bot.commands import Commands, Invocation, Respond, error_text
from bot.grammar import (
    HELP_TEXT,
    USAGE,
    CreateCommand,
    CreateFormCommand,
    DeleteCommand,
    DescribeCommand,
    ExtendCommand,
    HelpCommand,
    ListCommand,
    ManifestCommand,
    ResumeCommand,
    ScaleCommand,
    SuspendCommand,
    UsageError,
    parse_command,
)
from bot.home import HomeTabs
from bot.metrics import Metrics
from bot.middleware import bind, counted, guarded
from core.errors import ConfigValidationError

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
# What a button click starts: (commands, who clicked, namespace, cluster, where to answer) -> work.
ButtonWork = Callable[[Commands, Invocation, str, str, Respond], Coroutine[Any, Any, Any]]

COMMAND_NAMES: dict[type, str] = {
    CreateCommand: "create", ManifestCommand: "manifest", ListCommand: "list",
    DescribeCommand: "describe", ScaleCommand: "scale", DeleteCommand: "delete",
    SuspendCommand: "suspend", ResumeCommand: "resume", ExtendCommand: "extend",
}  # fmt: skip
ANY = re.compile(r".*", re.DOTALL)
ANY_COMMAND = re.compile(r"^/.+")


@dataclass(frozen=True, slots=True)
class ListenerDeps:
    """Everything a listener needs, passed in explicitly; ``home`` learns who opened App Home."""

    commands: Commands
    spawn: Spawn
    metrics: Metrics
    home: HomeTabs | None = None

    def run(
        self, work: Coroutine[Any, Any, Any], *, what: str, respond: Respond,
        gone: str | None = None,
    ) -> None:  # fmt: skip
        """Own ``work`` as a runtime task, guarded: a failure is told through ``respond``."""
        guard = guarded(work, what=what, respond=respond, metrics=self.metrics, gone=gone)
        self.spawn(guard, f"krayne:{what}")


@dataclass(frozen=True, slots=True)
class Button:
    """One button krayne puts on its messages: the metrics label, the command whose usage a
    failure shows, and the work a click starts."""

    label: str
    what: str
    work: ButtonWork


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """Attach every listener of krayne-bot to ``app``; krayne's own first, the fallbacks last."""
    app.command(ANY_COMMAND)(bind(on_command, deps))
    for action_id, button in BUTTONS.items():
        app.action(action_id)(bind(on_click, button, deps))
    app.event("app_home_opened")(bind(on_home_opened, deps))
    app.view(create_form.CREATE_FORM)(bind(forms.on_create_form, deps))
    register_fallbacks(app)


# --- the slash command ---------------------------------------------------------------------


async def on_command(
    deps: ListenerDeps, ack: Any, command: dict[str, Any], respond: Respond, client: Any
) -> None:
    """``/krayne …``: answer within the ack, start the slow half after it."""
    inv = Invocation(
        user=command.get("user_id", ""),
        channel=command.get("channel_id", ""),
        team=command.get("team_id"),
        command=f"{command.get('command') or '/krayne'} {command.get('text') or ''}".strip(),
        request=command.get("trigger_id"),
    )
    respond = ReliableRespond(
        respond, client, channel=inv.channel, user=inv.user, metrics=deps.metrics
    )
    commands, metrics = deps.commands, deps.metrics
    try:
        cmd = parse_command(command.get("text") or "")
    except UsageError as err:
        counted(metrics, "usage", "usage_error")
        text = msg.usage_error(blocks.escape(err.message), err.usage)  # it quotes the input
        await ack(text=text, response_type="ephemeral")
        return
    if not isinstance(cmd, HelpCommand):  # the policy: who, from which channel, where
        what = COMMAND_NAMES.get(type(cmd), "usage")
        refused = commands.admit(cmd, inv, what)
        if refused is not None:
            counted(metrics, what, "refused")
            await ack(text=refused, response_type="ephemeral")
            return
    match cmd:
        case CreateFormCommand():
            counted(metrics, "create", "form")
            await ack()
            await forms.open_create_form(deps, client, inv, command.get("trigger_id", ""))
        case HelpCommand(topic=topic):
            text = HELP_TEXT if not topic else f"`{USAGE.get(topic, topic)}`"
            counted(metrics, "help", "ok")
            await ack(text=text, blocks=blocks.text_blocks(text), response_type="ephemeral")
        case CreateCommand() | ManifestCommand():
            what = "create" if isinstance(cmd, CreateCommand) else "manifest"
            try:
                config = commands.config(cmd, inv)
            except ConfigValidationError as err:
                counted(metrics, what, "usage_error")
                await ack(text=error_text(err, usage_of=what), response_type="ephemeral")
                return
            if isinstance(cmd, CreateCommand):
                await ack(text=msg.ack_create(cmd.name), response_type="ephemeral")
                work = commands.create(config, inv, respond, ttl=cmd.options.ttl)
                deps.run(work, what=what, respond=respond)
            else:
                await ack(text=msg.ack_manifest(cmd.name), response_type="ephemeral")
                deps.run(commands.manifest(config, inv, respond), what=what, respond=respond)
        case ListCommand(namespace=namespace, all_namespaces=everywhere, mine=mine):
            await ack(text=msg.ACK_LIST, response_type="ephemeral")
            work = commands.list_view(
                namespace, all_namespaces=everywhere, mine=mine, inv=inv, respond=respond
            )
            deps.run(work, what="list", respond=respond)
        case DescribeCommand(name=name, namespace=namespace, include_unmanaged=everything):
            await ack(text=msg.ack_describe(name), response_type="ephemeral")
            work = commands.describe(
                name, namespace, respond, inv=inv, include_unmanaged=everything
            )
            deps.run(work, what="describe", respond=respond)
        case ScaleCommand():
            await ack(text=msg.ack_scale(cmd.name, cmd.workers), response_type="ephemeral")
            work = commands.scale(
                cmd.name, cmd.namespace, workers=cmd.workers, group=cmd.group,
                min_workers=cmd.min_workers, max_workers=cmd.max_workers, inv=inv,
                respond=respond,
            )  # fmt: skip
            deps.run(work, what="scale", respond=respond)
        case DeleteCommand(name=name, namespace=namespace):
            await ack(text=msg.ack_describe(name), response_type="ephemeral")
            deps.run(commands.ask_delete(name, namespace, inv, respond), what="delete",
                     respond=respond)  # fmt: skip
        case SuspendCommand(name=name, namespace=namespace):
            await ack(text=msg.ack_hygiene("Suspending", name), response_type="ephemeral")
            deps.run(commands.suspend(name, namespace, inv, respond), what="suspend",
                     respond=respond)  # fmt: skip
        case ResumeCommand(name=name, namespace=namespace):
            await ack(text=msg.ack_hygiene("Resuming", name), response_type="ephemeral")
            deps.run(commands.resume(name, namespace, inv, respond), what="resume",
                     respond=respond)  # fmt: skip
        case ExtendCommand(name=name, namespace=namespace):
            await ack(text=msg.ack_hygiene("Extending", name), response_type="ephemeral")
            deps.run(commands.extend(name, namespace, inv, respond), what="extend",
                     respond=respond)  # fmt: skip
        case _:
            await ack(text=msg.usage_error("Unknown command.", None), response_type="ephemeral")


# --- buttons -------------------------------------------------------------------------------


def _scale_by(
    delta: int, commands: Commands, inv: Invocation, namespace: str, name: str, out: Respond
) -> Coroutine[Any, Any, None]:
    return commands.scale(
        name, namespace, workers=None, group=None, min_workers=None, max_workers=None,
        delta=delta, inv=inv, respond=out,
    )  # fmt: skip


async def _cancel_delete(
    commands: Commands, inv: Invocation, namespace: str, name: str, out: Respond
) -> None:
    await out(text=msg.delete_cancelled(name), replace_original=True)


# action_id -> what a click on it does; one listener registration per row.
BUTTONS: dict[str, Button] = {
    blocks.DESCRIBE: Button("describe", "describe",
                            lambda c, inv, ns, name, out: c.describe(name, ns, out)),
    blocks.DELETE: Button("delete", "delete",
                          lambda c, inv, ns, name, out: c.ask_delete(name, ns, inv, out)),
    blocks.DELETE_CONFIRM: Button("delete_confirm", "delete",
                                  lambda c, inv, ns, name, out: c.delete(name, ns, inv, out)),
    blocks.DELETE_CANCEL: Button("delete_cancel", "delete", _cancel_delete),
    blocks.SCALE_UP: Button("scale_up", "scale", partial(_scale_by, +1)),
    blocks.SCALE_DOWN: Button("scale_down", "scale", partial(_scale_by, -1)),
    blocks.TTL_EXTEND: Button("ttl_extend", "extend",
                              lambda c, inv, ns, name, out: c.extend(name, ns, inv, out)),
    blocks.RESUME: Button("resume", "resume",
                          lambda c, inv, ns, name, out: c.resume(name, ns, inv, out)),
}  # fmt: skip


async def on_click(
    button: Button, deps: ListenerDeps, ack: Any, body: dict[str, Any],
    respond: Respond | None, client: Any,
) -> None:  # fmt: skip
    """A click on one of :data:`BUTTONS`: ack, count, start its work on the cluster it names."""
    await ack()
    deps.metrics.actions.labels(action=button.label).inc()
    inv, namespace, name = _clicked(body)
    out = answer_to(body, respond, client, deps.metrics)
    if isinstance(out, ModalAnswer):  # an App Home click: open the modal while the trigger lives
        try:
            await out.open(msg.working_on(name))
        except Exception as err:
            log.warning("App Home click of %s not answered: views.open: %s", inv.user, err)
            return
    work = button.work(deps.commands, inv, namespace, name, out)
    deps.run(work, what=button.what, respond=out, gone=name)


def _clicked(body: dict[str, Any]) -> tuple[Invocation, str, str]:
    action = (body.get("actions") or [{}])[0]
    namespace, name = blocks.parse_ref(str(action.get("value", "")))
    inv = Invocation(
        user=(body.get("user") or {}).get("id", ""),
        channel=(body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id", ""),
        team=(body.get("team") or {}).get("id"),
        command=f"button {action.get('action_id', '')} {namespace}/{name}",
        request=click_request(body),
    )
    return inv, namespace, name


def click_request(body: dict[str, Any]) -> str | None:
    """What identifies one click across Slack's re-deliveries of it: the payload's
    ``trigger_id``, minted per interaction, else the action's ``action_ts``
    (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload); a re-sent
    request carries the same body."""
    if body.get("trigger_id"):
        return str(body["trigger_id"])
    action = (body.get("actions") or [{}])[0]
    user = (body.get("user") or {}).get("id", "")
    return f"{user}:{action['action_ts']}" if action.get("action_ts") else None


# --- App Home ------------------------------------------------------------------------------


async def on_home_opened(deps: ListenerDeps, ack: Any, event: dict[str, Any], client: Any) -> None:
    """The user opened the bot's Home tab: publish their view, and keep it current."""
    await ack()
    user = event.get("user", "")
    if event.get("tab", "home") != "home" or not user:
        return
    if deps.home is not None:
        deps.home.opened(user)  # kept current from now on, as their clusters change
    work = _publish_home(deps.commands, client, user)
    deps.run(work, what="home", respond=HomeNotPublished(user))


async def _publish_home(commands: Commands, client: Any, user: str) -> None:
    view = await commands.home_view(user, now=datetime.now(UTC))
    await client.views_publish(user_id=user, view=view)


@dataclass(frozen=True, slots=True)
class HomeNotPublished:
    """The ``respond`` of an App Home publish: there is no one to tell, so it is logged."""

    user: str

    async def __call__(self, text: str = "", **_: Any) -> None:
        log.warning("App Home of %s not published: %s", self.user, text)


# --- everything else -----------------------------------------------------------------------


def register_fallbacks(app: AsyncApp) -> None:
    """Acknowledge what krayne does not use; registered last, so krayne's listeners win."""
    app.action(ANY)(ignore)
    app.view_submission(ANY)(ignore)
    app.view_closed(ANY)(ignore)
    app.shortcut(ANY)(ignore)
    app.options(ANY)(ignore)
    app.event(ANY)(ignore)


async def ignore(ack: Any, body: dict[str, Any]) -> None:
    """Answer 200 and log what it was, so Slack neither retries nor shows an error."""
    await ack()
    kind = body.get("type") or "event"
    detail = (
        ((body.get("actions") or [{}])[0]).get("action_id")
        or body.get("callback_id")
        or (body.get("view") or {}).get("callback_id")
        or (body.get("event") or {}).get("type")
    )
    log.info("ignored a Slack request the bot does not use: %s %s", kind, detail)
