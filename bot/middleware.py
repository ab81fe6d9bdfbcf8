"""What every Slack request goes through around krayne's listeners: the workspace check, retry
dedupe, the error guard, and the counting of outcomes.

The bot serves the one workspace (or Enterprise Grid org) it is installed in. In a Slack
Connect channel people of other organisations can type commands and press buttons too; a
request whose team or enterprise id is not the installation's is refused before any listener
runs: a slash command gets a private line, anything else is acknowledged and dropped.

Slack re-sends a request whose ack it did not see in time (``X-Slack-Retry-Num``); the same
trigger, action or event id is then acknowledged and dropped before any listener runs, so
nothing is created or posted twice. That memory is per process; a retry that reaches another
replica is caught by Kubernetes state instead (a create finding its RayCluster made by the same
request, ``krayne.io/slack-request``, is a no-op; a second delete finds the cluster gone; a
scale, the +1/-1 worker buttons included, finds its request among the last ones written with a
scale, ``krayne.io/scale-requests``, and changes nothing). ``app_rate_limited`` (Slack dropped
events for a minute) has no listener type and is answered here. No failure reaches Slack as a
500 or a traceback: a listener that fails before its ack answers the user privately with a
friendly line, and the slow half of a command runs under :func:`guarded`, which tells the user
how it ended and counts it.

Bolt runs global middleware one after another (not around the listener, whose ack function runs
in a task of its own), so the guard is Bolt's error handler plus :func:`guarded`, not a wrapper.
Middleware and handlers are plain functions whose dependencies are bound in front with
:func:`bind`; Bolt injects the rest by parameter name (``body``, ``next``, ``ack``, ...).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot import messages as msg
from bot.commands import Respond, error_text
from bot.metrics import Metrics
from core.errors import ClusterNotFoundError, KrayneError

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[None]]


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


def bind(handler: Callable[..., Awaitable[Any]], *deps: Any) -> functools.partial[Awaitable[Any]]:
    """``handler`` with its leading dependency parameters filled in, for Bolt to call with the
    arguments it injects by name. Named after ``handler`` so Bolt's logs say which one ran."""
    bound = functools.partial(handler, *deps)
    bound.__name__ = handler.__name__  # type: ignore[attr-defined]
    return bound


def install(app: AsyncApp, *, metrics: Metrics, seen: SeenRequests | None = None) -> None:
    """Put krayne's middleware and error guard on ``app`` (before any listener runs)."""
    app.middleware(refuse_other_workspaces)
    app.middleware(bind(skip_retries, seen or SeenRequests(), metrics))
    app.middleware(acknowledge_rate_limit_notice)
    app.error(answer_failure)


def _ids(body: dict[str, Any], context: AsyncBoltContext) -> tuple[set[str], set[str]]:
    """Every team id and enterprise id a request names for where it (and who sent it) comes
    from: the payload's own fields and Bolt's actor ids (Slack Connect events)."""
    teams: set[Any] = {body.get("team_id"), body.get("user_team"), context.actor_team_id}
    enterprises: set[Any] = {body.get("enterprise_id"), context.actor_enterprise_id}
    for key in ("team", "enterprise"):
        value = body.get(key)
        bucket = teams if key == "team" else enterprises
        bucket.add(value.get("id") if isinstance(value, dict) else value)
    user = body.get("user")
    if isinstance(user, dict):
        teams.add(user.get("team_id"))
        enterprises.add(user.get("enterprise_id"))
    event = body.get("event")
    if isinstance(event, dict):
        teams.add(event.get("user_team"))
    # An org id can stand in a team field (``user_team`` in Grid): Slack ids say which they are.
    team_ids = {str(t) for t in teams if t}
    orgs = {t for t in team_ids if t.startswith("E")}
    return team_ids - orgs, {str(e) for e in enterprises if e} | orgs


async def refuse_other_workspaces(
    body: dict[str, Any], context: AsyncBoltContext, next: Next  # bolt injects by name
) -> BoltResponse | None:
    """Let through only requests from the installation's team and enterprise (what auth.test
    answered for the bot token: Bolt calls it once and keeps the answer)."""
    installed = context.authorize_result
    home_team = installed.team_id if installed is not None else None
    home_enterprise = installed.enterprise_id if installed is not None else None
    teams, enterprises = _ids(body, context)
    if home_team and teams <= {home_team} and enterprises <= {home_enterprise}:
        await next()
        return None
    log.info("refused a request from team(s) %s, enterprise(s) %s: installed in %s/%s",
             sorted(teams), sorted(enterprises), home_team, home_enterprise)  # fmt: skip
    if body.get("command"):
        return BoltResponse(
            status=200,
            body=json.dumps({"response_type": "ephemeral", "text": msg.OTHER_WORKSPACE}),
            headers={"content-type": "application/json;charset=utf-8"},
        )
    return BoltResponse(status=200, body="")


async def skip_retries(
    seen: SeenRequests,
    metrics: Metrics,
    body: dict[str, Any],
    next: Next,  # bolt injects by name
) -> BoltResponse | None:
    """Acknowledge a request seen before (Slack's retry) with an empty 200 and run nothing."""
    key = request_key(body)
    if key is not None and not seen.first_time(key):
        metrics.retries_ignored.inc()
        return BoltResponse(status=200, body="")
    await next()
    return None


async def acknowledge_rate_limit_notice(body: dict[str, Any], next: Next) -> BoltResponse | None:
    """Slack's notice that it dropped events for a minute: logged and answered 200."""
    if body.get("type") == "app_rate_limited":
        log.warning("Slack rate-limited events to the bot (minute %s)",
                    body.get("minute_rate_limited"))  # fmt: skip
        return BoltResponse(status=200, body="")
    await next()
    return None


async def answer_failure(error: Exception, response: BoltResponse | None) -> BoltResponse | None:
    """Bolt's error handler. A listener or middleware that fails before the ack answers 200 with
    a private, friendly line instead of Bolt's bare 500 (which Slack would show as a failure and
    retry); after the ack (``response`` is None) there is nothing left to answer."""
    log.error("bolt: %s", type(error).__name__, exc_info=error)
    if response is None:
        return None
    text = error_text(error, usage_of=None)
    return BoltResponse(
        status=200,
        body=json.dumps({"response_type": "ephemeral", "text": text}),
        headers={"content-type": "application/json;charset=utf-8"},
    )


async def guarded(
    work: Coroutine[Any, Any, Any], *, what: str, respond: Respond, metrics: Metrics,
    gone: str | None = None,
) -> None:  # fmt: skip
    """Run the slow half of ``/krayne what`` and count its outcome; a failure is told through
    ``respond``. ``gone`` is the cluster a button referred to: its disappearance is news, not
    an error."""
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


def counted(metrics: Metrics, command: str, outcome: str) -> None:
    """Count one answered command (``usage_error``, ``ok``, ...) on ``krayne_commands``."""
    metrics.commands.labels(command=command, outcome=outcome).inc()


async def _tell(respond: Respond, text: str, what: str) -> None:
    try:
        await respond(text=text, response_type="ephemeral")
    except Exception:
        log.exception("could not tell the user how /krayne %s ended", what)
