"""A local Slack Web API server for the tests and the shell (``krayne-bot shell``).

The bot talks to it with the real slack_sdk ``AsyncWebClient(base_url=double.base_url)``, so what
is tested is the bot's real HTTP traffic: tokens, form and JSON bodies, Block Kit limits, 429s with
``Retry-After`` and thread structure are all Slack's. Like bolt-python's
``tests/mock_web_api_server`` it records every call; unlike it, it keeps a workspace (channels,
threads, edits, ephemerals, App Home views) and refuses what Slack refuses.

State is guarded by a lock so a double running in its own thread (``running_slack_double``) can be
queried from the test's thread; ``wait_for`` wakes on every change instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from aiohttp import web

from bot.slack_double.faults import FaultInjection, InjectedFailures
from bot.slack_double.inputs import read_args
from bot.slack_double.methods import METHODS
from bot.slack_double.rates import POST_MESSAGE, RateLimits, Tier, retry_after_header
from bot.slack_double.records import (
    Call,
    Channel,
    EphemeralMessage,
    Message,
    ResponseTarget,
    SlackError,
    SlackEvent,
    User,
)
from bot.slack_double.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")
Listener = Callable[[SlackEvent], None]

DEFAULT_CHANNELS = (Channel("C0001", "general"), Channel("C0002", "random", is_member=False))
DEFAULT_USERS = (User("U0001", "alice", "Alice Example"), User("U0002", "bob", "Bob Example"))


class SlackDouble(FaultInjection):
    """Fake Slack workspace with one bot installed, served over HTTP on 127.0.0.1:<port 0>;
    its failures on purpose are ``FaultInjection``'s (``fail_next``, ``fail_every``, ...)."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-krayne-test",
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0BOT",
        channels: Iterable[Channel] = DEFAULT_CHANNELS,
        users: Iterable[User] = DEFAULT_USERS,
        rate_limits: bool = True,
        time_scale: float = 1.0,
        post_rate: float | None = None,
        post_burst: int = POST_MESSAGE.burst,
        trigger_ttl: float = 3.0,
        messages_tab_enabled: bool = False,
    ) -> None:
        """Strict by default, as Slack is: every method's rate limit applies at Slack's real
        numbers (``time_scale`` > 1 shortens every window, ``rate_limits=False`` is leniency
        a test asks for; ``post_rate``/``post_burst`` override chat.postMessage's per-channel
        tier), and DMs to users are refused unless ``messages_tab_enabled`` (see
        ``manifest_settings`` for the values an app manifest sets)."""
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._ws = Workspace(
            team_id=team_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            channels=channels,
            users=users,
            trigger_ttl=trigger_ttl,
            messages_tab_enabled=messages_tab_enabled,
        )
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._failures = InjectedFailures()
        self.rate_limits: RateLimits | None = None
        if rate_limits:
            self.rate_limits = RateLimits(time_scale=time_scale)
            if post_rate is not None:
                self.rate_limits.tiers["chat.postMessage"] = Tier(
                    post_rate * 60 / time_scale, post_burst, per_channel=True
                )
        self._listeners: list[Listener] = []
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._runner: web.AppRunner | None = None
        self._root = ""

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self._root = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What ``AsyncWebClient(base_url=...)`` takes: ``http://127.0.0.1:PORT/api/``."""
        if not self._root:
            raise RuntimeError("SlackDouble is not started")
        return f"{self._root}/api/"

    # --- HTTP -------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, token = await read_args(request)
        headers: dict[str, str] = {}
        with self._lock:  # one call at a time; its events are taken before the lock is released
            try:
                response: dict[str, Any] = {"ok": True, **self._call(method, args, token)}
                status = 200
            except SlackError as exc:
                response, status = exc.body(), exc.status
                if exc.retry_after is not None:
                    headers["Retry-After"] = retry_after_header(exc.retry_after)
            except Exception:  # a bug in the double: visible in the log and in ``calls``
                log.exception("slack double: %s failed", method)
                response, status = {"ok": False, "error": "internal_error"}, 500
            events = self._ws.take_events(keep=status == 200)
            late = self._failures.delay(method) if status == 200 else 0.0
        self._record(Call(method, args, response, status, late), events)
        if late:  # done and recorded; only the answer is late
            await asyncio.sleep(late)
        return web.json_response(response, status=status, headers=headers)

    def _call(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        injected = self._failures.take(method)
        if injected is not None:
            raise injected
        self._authenticate(token)
        handler = METHODS.get(method)
        if handler is None:
            raise SlackError("unknown_method")
        if self.rate_limits is not None:
            channel = args.get("channel")
            limited = self.rate_limits.check(method, channel if isinstance(channel, str) else None)
            if limited is not None:
                raise limited
        return handler(self._ws, args)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        with self._lock:
            try:
                injected = self._failures.take("response_url")
                if injected is not None:
                    raise injected
                if not isinstance(payload, dict):
                    raise SlackError("invalid_payload", status=400)
                self._ws.respond(token, payload, url=str(request.url))
                response, status = {"ok": True}, 200
            except SlackError as exc:
                response, status = exc.body(), exc.status
            events = self._ws.take_events(keep=status == 200)
        call = Call("response_url", {"url": str(request.url), **(payload or {})}, response, status)
        self._record(call, events)
        text = "ok" if status == 200 else str(response["error"])
        return web.Response(text=text, status=status)

    def _authenticate(self, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        if token != self.bot_token:
            raise SlackError("invalid_auth")

    def _record(self, call: Call, events: list[SlackEvent]) -> None:
        with self._lock:
            self._calls.append(call)
            listeners = list(self._listeners)
            waiters = list(self._waiters)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("slack double listener failed on %r", event)
        for loop, event_flag in waiters:
            with contextlib.suppress(RuntimeError):  # the waiter's loop is already closed
                loop.call_soon_threadsafe(event_flag.set)

    # --- interactions minted by "Slack" (used by signing helpers, the shell and tests) ------

    def new_response_url(
        self,
        *,
        channel: str,
        user: str,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
        thread_ts: str | None = None,
    ) -> str:
        """A response_url for a slash command (no message) or a click on ``message_ts``."""
        with self._lock:
            channel_id = self._ws.channel(channel).id
            token = self._ws.new_response_target(
                ResponseTarget(channel_id, user, message_ts, is_ephemeral, thread_ts)
            )
        return f"{self._root}/response/{token}"

    def new_trigger_id(self, user: str) -> str:
        with self._lock:
            return self._ws.new_trigger_id(user)

    def deliver_ack(self, *, channel: str, user: str, payload: dict[str, Any]) -> None:
        """Show a slash command's HTTP ack body as Slack does (ephemeral unless in_channel);
        ``SlackError`` if Slack would refuse it (e.g. ``invalid_blocks``)."""
        with self._lock:
            channel_id = self._ws.channel(channel).id
            try:
                self._ws.apply_response(ResponseTarget(channel_id, user), payload, via="ack")
            except SlackError:
                self._ws.take_events(keep=False)
                raise
            events = self._ws.take_events(keep=True)
        self._record(Call("ack", {"channel": channel_id, "user": user}, dict(payload)), events)

    # --- observation ------------------------------------------------------------------------

    def on_event(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback`` (on the double's loop) with every change; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def channel(self, ref: str) -> Channel:
        with self._lock:
            return self._ws.channel(ref)

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of ``channel`` (ID or name), oldest first."""
        with self._lock:
            store = self._ws.messages[self._ws.channel(channel).id]
            return [m for m in store.values() if not m.is_reply]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Replies to ``ts`` in ``channel``, oldest first (the parent not included)."""
        with self._lock:
            store = self._ws.messages[self._ws.channel(channel).id]
            return [m for m in store.values() if m.is_reply and m.thread_ts == ts]

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return self._ws.messages[self._ws.channel(channel).id].get(ts)

    def ephemerals(self, user: str) -> list[EphemeralMessage]:
        """What ``user`` was shown privately and still sees, oldest first."""
        with self._lock:
            return [e for e in self._ws.ephemerals if e.user == user and not e.deleted]

    def modals(self, user: str) -> list[dict[str, Any]]:
        """The modals opened for ``user``, each as last opened or updated, oldest first."""
        with self._lock:
            return [view for owner, view in self._ws.modals.values() if owner == user]

    def published_views(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._ws.views.get(user, []))

    def user(self, user_id: str) -> User:
        with self._lock:
            return self._ws.user(user_id)

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' contract: wait_for(predicate, timeout)
    ) -> T:
        """Return ``predicate()``'s first truthy value, re-checked after every call the double
        answers; ``TimeoutError`` (with the last calls) if none comes within ``timeout``."""
        flag = asyncio.Event()
        waiter = (asyncio.get_running_loop(), flag)
        with self._lock:
            self._waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    flag.clear()
                    result = predicate()
                    if result:
                        return result
                    await flag.wait()
        except TimeoutError:
            recent = ", ".join(
                f"{c.method}->{c.response.get('error', 'ok')}" for c in self.calls[-8:]
            )
            message = f"condition not met within {timeout}s; last calls: {recent}"
            raise TimeoutError(message) from None
        finally:
            with self._lock:
                self._waiters.discard(waiter)


@contextlib.contextmanager
def running_slack_double(**kwargs: Any) -> Iterator[SlackDouble]:
    """Run a ``SlackDouble`` on its own thread and event loop (for sync tests and benchmarks)."""
    started = threading.Event()
    holder: dict[str, Any] = {}

    def main() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        try:
            double = SlackDouble(**kwargs)
            loop.run_until_complete(double.start())
            holder["double"] = double
        except BaseException as exc:  # reported to the caller below
            holder["error"] = exc
            started.set()
            loop.close()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(double.stop())
        loop.close()

    thread = threading.Thread(target=main, name="slack-double", daemon=True)
    thread.start()
    started.wait()
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["double"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["loop"].stop)
        thread.join(timeout=10)
