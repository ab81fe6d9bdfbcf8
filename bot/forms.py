"""Listeners of the create form: open it for `/krayne create`, take its submission.

The submission is acknowledged within Slack's 3 seconds either with the inline errors
(``response_action: errors``) or by closing the modal; the cluster is then created by the very
``Commands.create`` a typed command uses, so the card and thread are the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot import create_form
from bot import messages as msg
from bot.gate import Invocation
from bot.grammar import CreateCommand

if TYPE_CHECKING:
    from bot.listeners import ListenerDeps

log = logging.getLogger(__name__)


async def open_create_form(
    deps: ListenerDeps, client: Any, inv: Invocation, trigger_id: str
) -> None:
    """Open the form now: the trigger lives three seconds, once
    (https://docs.slack.dev/reference/methods/views.open)."""
    namespace = deps.commands.namespace(None, inv)
    view = create_form.form_view(channel=inv.channel, namespace=namespace)
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as err:
        log.warning("create form not opened: %s", err.response.get("error"))


async def on_create_form(
    deps: ListenerDeps, ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any
) -> None:
    """A submitted create form: inline errors, or close it and create."""
    channel, _namespace = create_form.where(view)
    user = (body.get("user") or {}).get("id", "")
    inv = Invocation(
        user=user, channel=channel, team=(body.get("team") or {}).get("id"),
        command="/krayne create (form)",
    )  # fmt: skip
    submission, errors = create_form.read(view)
    if submission is None:
        deps.metrics.commands.labels(command="create", outcome="usage_error").inc()
        await ack(response_action="errors", errors=errors)
        return
    cmd = CreateCommand(submission.name, submission.namespace or None, submission.options)
    refused = deps.commands.admit(cmd, inv, "create")
    if refused is not None:
        await ack(response_action="errors", errors={"name": msg.clip_line(refused)})
        return
    config, errors = create_form.configure(submission)
    if config is None:
        deps.metrics.commands.labels(command="create", outcome="usage_error").inc()
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    answer = EphemeralAnswer(client, channel=channel, user=user)
    await answer(text=msg.form_created(config.name))
    work = deps.commands.create(config, inv, answer, ttl=submission.options.ttl)
    deps.run(work, what="create", respond=answer)


@dataclass(frozen=True, slots=True)
class EphemeralAnswer:
    """Answers privately in the channel the form was opened from (a view submission has no
    response_url unless the modal asks for one)."""

    client: Any
    channel: str
    user: str

    async def __call__(self, text: str = "", **kwargs: Any) -> Any:
        args: dict[str, Any] = {"channel": self.channel, "user": self.user, "text": text}
        if kwargs.get("blocks"):
            args["blocks"] = kwargs["blocks"]
        try:
            return await self.client.chat_postEphemeral(**args)
        except SlackApiError as err:
            log.warning("the answer to %s is lost: chat.postEphemeral: %s", self.user,
                        err.response.get("error"))  # fmt: skip
            return None
