"""The status card of a cluster and the replies in its thread (text and blocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot import messages as msg
from bot.blocks.kit import (
    MAX_FIELD,
    MAX_SECTION,
    Blocks,
    clip,
    cluster_buttons,
    context,
    escape,
    fence,
    finish,
    header,
    section,
)
from bot.facts import CardView
from bot.redact import redact
from core.status import Phase

EMPTY: Mapping[str, str] = MappingProxyType({})


def who(user: str | None, names: Mapping[str, str]) -> str:
    """A person named without pinging them: their display name (escaped), else their id.

    Messages never mention the person who just acted; only "ready" pings the owner."""
    if not user:
        return "someone"
    if user == msg.TTL_DELETER:
        return msg.TTL_DELETER_SHOWN
    name = names.get(user)
    return escape(name) if name else f"`{escape(user)}`"


def card_text(view: CardView, names: Mapping[str, str] = EMPTY) -> str:
    """The card's top-level text, what screen readers and notifications read: the phase, the
    reason and the owner (https://docs.slack.dev/reference/methods/chat.postMessage, "text")."""
    phase = "deleted" if view.gone else view.status.phase.value
    text = f"Ray cluster {view.name}: {phase}"
    if view.status.reason and not view.gone:
        text += f" — {escape(redact(view.status.reason))}"
    return clip(f"{text} (owner: {who(view.owner, names)})", MAX_SECTION)


def _images_field(images: tuple[str, ...] | None) -> str:
    if not images:
        return "*Image*\nunknown"
    label = "Image" if len(images) == 1 else "Images"
    return f"*{label}*\n" + "\n".join(f"`{escape(image)}`" for image in images)


def card(view: CardView, names: Mapping[str, str] = EMPTY) -> Blocks:
    status = view.status
    if view.gone:
        line = (
            msg.deleted_by(who(view.deleted_by, names))
            if view.deleted_by
            else msg.deleted_outside()
        )
    else:
        line = f"*{msg.phase_label(status.phase)}*"
        if status.reason:
            line += f" — {escape(redact(status.reason))}"
    fields = [
        MarkdownTextObject(text=f"*Owner*\n{who(view.owner, names)}"),
        MarkdownTextObject(text=f"*Namespace*\n`{view.namespace}`"),
        MarkdownTextObject(text=f"*Workers*\n{view.ready_workers}/{view.desired_workers} ready"),
        MarkdownTextObject(text=f"*GPUs*\n{view.gpus}"),
        MarkdownTextObject(text=clip(_images_field(view.images), MAX_FIELD)),
    ]
    blocks: list[Block] = [
        header(f"Ray cluster {view.name}"),
        section(line),
        SectionBlock(fields=fields),
    ]
    if status.hint and status.phase.is_failure and not view.gone:
        blocks.append(context(f":bulb: {escape(status.hint)}"))
    blocks.append(context("Updates for this cluster are posted in the thread below."))
    if not view.gone:
        blocks.append(cluster_buttons(view.namespace, view.name))
    return finish(blocks)


def thread_reply(
    text: str,
    *,
    details: Sequence[str] = (),
    hint: str | None = None,
    code: str | None = None,
    buttons: tuple[str, str] | None = None,
) -> Blocks:
    """A thread reply: a headline, optional detail lines, a code excerpt, a hint and buttons.

    ``text`` and ``details`` are krayne's mrkdwn (their untrusted parts escaped by the
    caller in this package); ``code`` and ``hint`` are escaped here."""
    blocks: list[Block] = [section(text)]
    blocks += [section(line) for line in details if line]
    if code:
        blocks.append(section(fence(code, MAX_SECTION)))
    if hint:
        blocks.append(context(f":bulb: {escape(hint)}"))
    if buttons:
        namespace, name = buttons
        blocks.append(cluster_buttons(namespace, name, scale=False))
    return finish(blocks)


def status_reply(
    view: CardView,
    *,
    addresses: str | None = None,
    log_tail: str | None = None,
    again: bool = False,
    freed_gpus: int = 0,
    names: Mapping[str, str] = EMPTY,
    passed: Sequence[str] = (),
) -> tuple[str, Blocks]:
    """(top-level text, blocks) of the thread reply announcing ``view.status``.

    ``addresses`` is krayne's own text (the head service's addresses); the status reason and
    hint, the pod name and the log tail come from Kubernetes and are escaped here. ``passed``
    are the phases the cluster went through since the last reply, never told on their own."""
    status = view.status
    reason = escape(redact(status.reason))
    if view.gone:
        deleter = who(view.deleted_by, names) if view.deleted_by else None
        text = msg.deleted_reply(deleter, gpus=freed_gpus)
        return text, thread_reply(text)
    via = msg.passed_through(passed)
    if status.phase is Phase.READY and again:
        text = msg.ready_again(view.name, reason)
        return text, thread_reply(text, details=[via])
    if status.phase is Phase.READY:
        text = msg.ready_reply(view.owner, view.name)  # the one ping: the owner did not act
        return text, thread_reply(text, details=[reason, addresses or "", via])
    text = msg.phase_reply(view.name, status.phase, reason)
    if status.phase.is_failure:
        pod = escape(status.pod or view.name)
        details = [via, msg.log_intro(pod) if log_tail else ""]
        reply = thread_reply(
            text, details=details, code=log_tail or None, hint=status.hint,
            buttons=(view.namespace, view.name),
        )  # fmt: skip
        return text, reply
    hint = status.hint if status.phase.is_settled else None
    return text, thread_reply(text, details=[via], hint=hint)
