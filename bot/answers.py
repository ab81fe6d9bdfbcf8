"""Where the answer to a Slack interaction goes, so that it reaches the user.

- A slash command or a click on a message is answered through its ``response_url``. That URL
  works five times within 30 minutes (https://docs.slack.dev/interactivity/handling-user-interaction);
  a post that fails (expired, used up, invalid: HTTP 4xx) would be lost, so
  :class:`ReliableRespond` falls back to ``chat.postEphemeral``, counts and logs the failure.
  A click inside a thread is answered in that thread: Slack only puts a response there when
  it carries ``thread_ts`` (same page).
- A click in the App Home has neither a channel nor a response_url, and the bot's DMs are
  refused while the app's Messages tab is off (``messages_tab_disabled``,
  https://docs.slack.dev/reference/methods/chat.postMessage). :class:`ModalAnswer` opens a
  modal with the click's ``trigger_id`` (valid for three seconds, once:
  https://docs.slack.dev/surfaces/modals) and shows every later answer by updating it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.commands import Respond
from bot.metrics import Metrics

log = logging.getLogger(__name__)


def clicked_thread(body: dict[str, Any]) -> str | None:
    """The thread a clicked message is in (None for a top-level message or its parent)."""
    container = body.get("container") or {}
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    own_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return str(thread_ts) if thread_ts and thread_ts != own_ts else None


def answer_to(
    body: dict[str, Any], respond: Respond | None, client: Any, metrics: Metrics
) -> Respond:
    """Where a click is answered: the modal it came from, a new modal for an App Home click,
    else its ``response_url`` (with ``chat.postEphemeral`` behind it), in its thread."""
    view = body.get("view") or {}
    user = (body.get("user") or {}).get("id", "")
    if view.get("type") == "modal" and view.get("id"):
        return ModalAnswer(client, user, view_id=str(view["id"]))
    if view or respond is None or not (body.get("response_url") or body.get("response_urls")):
        return ModalAnswer(client, user, trigger_id=body.get("trigger_id"))
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    return ReliableRespond(
        respond, client, channel=channel, user=user, metrics=metrics,
        thread_ts=clicked_thread(body),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReliableRespond:
    """bolt's ``respond``, with ``thread_ts`` added, and ``chat.postEphemeral`` when the
    response_url refuses the post."""

    respond: Respond
    client: Any
    channel: str
    user: str
    metrics: Metrics
    thread_ts: str | None = None

    async def __call__(self, text: str = "", **kwargs: Any) -> Any:
        if self.thread_ts and not kwargs.get("thread_ts"):
            kwargs["thread_ts"] = self.thread_ts
        try:
            answer = await self.respond(text=text, **kwargs)
        except Exception as err:  # connection refused, timeout: the URL is no use either
            failure = f"{type(err).__name__}: {err}"
        else:
            http_code = getattr(answer, "status_code", 200)  # Slack's answer, not Kubernetes'
            if http_code < 400:
                return answer
            failure = f"HTTP {http_code} {getattr(answer, 'body', '')}".strip()
        self.metrics.response_url_failures.inc()
        log.warning("response_url post failed (%s); answering with chat.postEphemeral", failure)
        return await self._ephemeral(text, kwargs)

    async def _ephemeral(self, text: str, kwargs: dict[str, Any]) -> Any:
        args: dict[str, Any] = {"channel": self.channel, "user": self.user, "text": text}
        for key in ("blocks", "thread_ts"):
            if kwargs.get(key):
                args[key] = kwargs[key]
        try:
            return await self.client.chat_postEphemeral(**args)
        except SlackApiError as err:
            log.warning("the answer to %s is lost: chat.postEphemeral: %s", self.user,
                        err.response.get("error"))  # fmt: skip
            return None


@dataclass(slots=True)
class ModalAnswer:
    """Answers in a modal: opened with ``trigger_id`` on first use, updated from then on."""

    client: Any
    user: str
    trigger_id: str | None = None
    view_id: str | None = None

    async def open(self, text: str) -> None:
        """Open the modal now (while the trigger is fresh), saying ``text``."""
        if self.view_id is None:
            await self(text=text)

    async def __call__(self, text: str = "", **kwargs: Any) -> Any:
        view = blocks.modal(kwargs.get("blocks") or blocks.text_blocks(text))
        if self.view_id is not None:
            return await self.client.views_update(view_id=self.view_id, view=view)
        if not self.trigger_id:
            log.warning("no way to answer %s: neither a modal nor a trigger_id", self.user)
            return None
        result = await self.client.views_open(trigger_id=self.trigger_id, view=view)
        self.view_id = str((result.get("view") or {}).get("id") or "") or None
        return result
