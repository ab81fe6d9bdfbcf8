"""Every user-facing string of the Slack layer, in one place (as bolt's ``logger/messages.py``).

Text is Slack mrkdwn. Functions take plain values and never exceptions, so no Python repr or
traceback can leak into a message by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.redact import redact
from core.api import ScaleResult
from core.status import Phase
from core.status_reasons import plural

BOT_NAME = "krayne"

PHASE_EMOJI: dict[Phase, str] = {
    Phase.CREATING: ":hourglass_flowing_sand:",
    Phase.PODS_PENDING: ":hourglass_flowing_sand:",
    Phase.CONTAINERS_CREATING: ":package:",
    Phase.RUNNING: ":arrows_counterclockwise:",
    Phase.READY: ":large_green_circle:",
    Phase.IMAGE_PULL_ERROR: ":red_circle:",
    Phase.CRASH_LOOP: ":red_circle:",
    Phase.UNSCHEDULABLE: ":red_circle:",
    Phase.FAILED: ":red_circle:",
    Phase.SUSPENDED: ":double_vertical_bar:",
    Phase.DELETING: ":wastebasket:",
    Phase.WAITING_FOR_NODE: ":hourglass_flowing_sand:",
    Phase.RETRYING: ":large_yellow_circle:",
    Phase.STALLED: ":red_circle:",
}

PHASE_HEADLINE: dict[Phase, str] = {
    Phase.CREATING: "is being created",
    Phase.PODS_PENDING: "is waiting for its pods to be scheduled",
    Phase.CONTAINERS_CREATING: "is pulling images and starting containers",
    Phase.RUNNING: "is starting Ray",
    Phase.READY: "is ready",
    Phase.IMAGE_PULL_ERROR: "cannot pull its image",
    Phase.CRASH_LOOP: "has a container that keeps crashing",
    Phase.UNSCHEDULABLE: "cannot be scheduled",
    Phase.FAILED: "failed",
    Phase.SUSPENDED: "is suspended",
    Phase.DELETING: "is being deleted",
    Phase.WAITING_FOR_NODE: "is waiting for a node autoscaler to add a node",
    Phase.RETRYING: "hit a passing error; Kubernetes is retrying",
    Phase.STALLED: "has a worker stuck waiting for the head",
}


def phase_label(phase: Phase) -> str:
    return f"{PHASE_EMOJI[phase]} {phase.value}"


def mention(user: str | None) -> str:
    return f"<@{user}>" if user else "someone"


# --- acknowledgements (sent within Slack's 3 seconds) -------------------------------------------


def ack_create(name: str) -> str:
    return f":hourglass_flowing_sand: Creating `{name}`…"


def ack_manifest(name: str) -> str:
    return f"Rendering the manifest of `{name}`…"


ACK_LIST = "Looking up clusters…"


def working_on(name: str) -> str:
    """What a modal opened by an App Home click says until the answer replaces it."""
    return f":hourglass_flowing_sand: Working on `{name}`…"


def ack_describe(name: str) -> str:
    return f"Looking up `{name}`…"


def ack_scale(name: str, workers: int) -> str:
    return f"Scaling `{name}` to {workers} worker(s)…"


# --- errors -------------------------------------------------------------------------------------


def usage_error(message: str, usage: str | None) -> str:
    text = f":warning: {message}"
    if usage:
        text += f"\n*Usage:* `{usage}`"
    return text


def kube_unreachable(detail: str) -> str:
    """A command that found the Kubernetes API down or failing (no answer, 5xx, 401)."""
    return f"Kubernetes is not reachable right now; try again in a minute. ({detail})"


def krayne_error(message: str, hint: str | None, usage: str | None = None) -> str:
    text = f":warning: {message}"
    if hint:
        text += f"\n_{hint}_"
    if usage:
        text += f"\n*Usage:* `{usage}`"
    return text


OTHER_WORKSPACE = (
    "Sorry, krayne only takes commands from people in the workspace it is installed in. Ask"
    " someone there to run it for you."
)


def no_longer_exists(name: str) -> str:
    """A button of a cluster deleted since the message was posted."""
    return (
        f":information_source: Cluster `{name}` no longer exists, so this button does nothing "
        "now.\n_Run `/krayne list` to see the clusters that exist._"
    )


def internal_error(what: str) -> str:
    return (
        f":warning: Something went wrong on my side while running `{what}`. "
        "It has been logged; please try again in a moment."
    )


def not_in_channel(name: str | None) -> str:
    created = f"Cluster `{name}` is being created, but " if name else ""
    return (
        f":wave: {created}I am not a member of this channel, so I cannot post here. "
        f"Invite me with `/invite @{BOT_NAME}` and try again"
        + (f" — `/krayne describe {name}` shows its status meanwhile." if name else ".")
    )


def _not_here(why: str, instead: str) -> Callable[[str | None], str]:
    def text(name: str | None) -> str:
        created = f"Cluster `{name}` is being created, but " if name else ""
        follow = f" `/krayne describe {name}` shows its status meanwhile." if name else ""
        return f":wave: {created}{why} {instead}{follow}"

    return text


_ELSEWHERE = "Run `/krayne create` in a channel I am a member of to get its thread there."
CANNOT_POST: dict[str, Callable[[str | None], str]] = {
    "not_in_channel": not_in_channel,
    "is_archived": _not_here("this channel is archived, so I cannot post here.", _ELSEWHERE),
    "channel_not_found": _not_here(
        "I cannot post in this conversation (a direct message between people, or a private "
        "channel I am not in).",
        _ELSEWHERE,
    ),
    "restricted_action_read_only_channel": _not_here(
        "this channel is read-only for apps, so I cannot post its status card here.", _ELSEWHERE
    ),
    "restricted_action_thread_only_channel": _not_here(
        "this channel only allows replies in threads, so I cannot start a thread here.",
        _ELSEWHERE,
    ),
    "restricted_action": _not_here(
        "a workspace setting stops me from posting here.",
        "Ask an admin to allow krayne to post, or run `/krayne create` in another channel.",
    ),
    "messages_tab_disabled": _not_here("I cannot post in direct messages.", _ELSEWHERE),
}
"""What each chat.postMessage refusal means to the user, and what works instead
(https://docs.slack.dev/reference/methods/chat.postMessage)."""


def cannot_post(error: str, name: str | None) -> str:
    return CANNOT_POST.get(error, not_in_channel)(name)


def thread_not_linked(name: str, reason: str) -> str:
    """The cluster and its card exist, but the card's ts could not be recorded on it."""
    return (
        f":warning: `{name}` was created and its card posted, but I could not link the card to "
        f"the cluster ({reason}), so the thread will not follow it.\n"
        f"_`/krayne describe {name}` shows its status; `/krayne delete {name}` removes it._"
    )


def not_watched(name: str, namespace: str) -> str:
    return (
        f":information_source: `{name}` was created, but I do not watch namespace `{namespace}`, "
        f"so its thread will not follow it. `/krayne describe {name} -n {namespace}` shows its "
        "status; an admin can add the namespace to KRAYNE_WATCH_NAMESPACES."
    )


NOT_MANAGED = "not managed by krayne"


def not_managed(name: str, namespace: str) -> str:
    return (
        f":information_source: `{name}` in namespace `{namespace}` was not made by krayne, so "
        f"krayne leaves it alone. `/krayne describe {name} --all` shows it anyway."
    )


def not_owner(action: str, name: str, owner: str | None) -> str:
    return f":no_entry: Only the owner of `{name}` ({mention(owner)}) may {action} it."


def ray_token(name: str, namespace: str, secret: str) -> str:
    """Told privately to the owner after create: Ray's endpoints want the cluster's token."""
    return (
        f":lock: Ray in `{name}` asks for a token (dashboard, Jobs API, Ray client). Anyone who"
        f" may read Secrets in namespace `{namespace}` can get it:\n"
        f"```kubectl get secret {secret} -n {namespace} -o jsonpath='{{.data.auth_token}}'"
        " | base64 -d```\n"
        f"(or `kubectl ray get token {name} -n {namespace}`). Set `RAY_AUTH_MODE=token` and"
        " `RAY_AUTH_TOKEN=<token>` before `ray job submit` or `ray.init`; the dashboard asks"
        " for it once."
    )


def already_exists_not_ours(name: str, namespace: str) -> str:
    return (
        f":warning: Cluster `{name}` already exists in namespace `{namespace}` and belongs to "
        "someone else. Pick another name."
    )


def already_yours(name: str) -> str:
    return f"You already have a cluster `{name}`; `/krayne describe {name}` shows how it is doing."


# --- thread replies and card lines --------------------------------------------------------------


def phase_reply(name: str, phase: Phase, reason: str) -> str:
    reason = redact(reason)
    line = f"{PHASE_EMOJI[phase]} `{name}` {PHASE_HEADLINE[phase]} (`{phase.value}`)"
    return f"{line}: {reason}" if reason else line


def passed_through(phases: Sequence[str]) -> str:
    """The phases a reply's cluster went through since the thread's last reply: merged into
    this one because Slack's pacing would have told them after it was already out of date."""
    if not phases:
        return ""
    return "On the way: " + " → ".join(f"`{phase}`" for phase in phases)


def ready_reply(owner: str | None, name: str) -> str:
    return f":tada: {mention(owner)} your cluster `{name}` is ready."


def ready_again(name: str, reason: str) -> str:
    line = f"{PHASE_EMOJI[Phase.READY]} `{name}` is ready again (`ready`)"
    return f"{line}: {reason}" if reason else line


def address_lines(
    *, head_dns: str, dashboard: int, client: int, namespace: str, service: str
) -> str:
    return (
        f"*Head service:* `{head_dns}`\n"
        f"*Dashboard:* `http://{head_dns}:{dashboard}`\n"
        f"*Ray client:* `ray://{head_dns}:{client}`\n"
        "*From your laptop:*\n"
        f"```kubectl port-forward -n {namespace} svc/{service} {dashboard}:{dashboard} "
        f"{client}:{client}```"
    )


def scale_outcome(result: ScaleResult) -> str:
    """What a scale did, in full: with the Ray autoscaler on, `--workers N` sets a range."""
    name, group, new = result.summary.name, result.group, result.after
    text = f"group `{group}` to {new.replicas} worker(s)"
    if not result.autoscaling:
        return text + "."
    if new.min_replicas == new.max_replicas:
        text += f": exactly {new.min_replicas} (the autoscaler cannot add or remove any)."
    else:
        text += (
            f": at least {new.min_replicas}, at most {new.max_replicas} "
            "(the autoscaler may add more when Ray asks for them, and removes idle ones)."
        )
    if result.before.min_replicas == 0 and new.min_replicas > 0:
        text += (
            f" It no longer scales to zero when idle; `/krayne scale {name} --group {group} "
            "--min 0` lets it again."
        )
    return text


def scaled_by(who: str, what: str) -> str:
    """``who``: the person who acted, named without a ping (``blocks.threads.who``)."""
    return f":straight_ruler: {who} scaled {what}"


def scaled_ephemeral(name: str, what: str) -> str:
    return f"Scaled `{name}` {what}"


TTL_DELETER = "ttl"
"""``krayne.io/deleted-by`` of a cluster the bot deleted because its TTL ran out."""
TTL_DELETER_SHOWN = "its TTL (it stayed suspended past its grace)"


def deleted_by(who: str) -> str:
    """The card's last word on a cluster deleted from Slack (``who`` named without a ping)."""
    return f":wastebasket: Deleted by {who}."


def deleted_outside() -> str:
    return ":wastebasket: Deleted outside Slack."


def deleting_by(who: str) -> str:
    return f":wastebasket: {who} is deleting the cluster; its pods are shutting down."


def deleted_reply(deleter: str | None, *, gpus: int) -> str:
    """The thread's reply once the last pod is gone (not before: until then they hold GPUs);
    ``deleter`` is named without a ping."""
    who = f"Deleted by {deleter}" if deleter else "Deleted outside Slack"
    freed = f" — {plural(gpus, 'GPU')} freed" if gpus else ""
    return f":wastebasket: {who}{freed}; all its pods are gone."


def delete_confirm(name: str, namespace: str) -> str:
    return (
        f":warning: Delete cluster `{name}` in namespace `{namespace}`? "
        "Its pods and everything stored on them go away."
    )


def delete_cancelled(name: str) -> str:
    return f"Kept `{name}`."


def deleted_ephemeral(name: str) -> str:
    return f"Deleting `{name}`: its pods are shutting down; its thread says when they are gone."


def manifest_intro(name: str, namespace: str) -> str:
    return (
        f"This is what `/krayne create {name}` would submit to namespace `{namespace}` "
        "(nothing was created):"
    )


def no_clusters(scope: str) -> str:
    return f"No clusters {scope}. Create one with `/krayne create NAME`."


def list_scope(namespace: str | None, mine: bool, *, among: list[str] | None = None) -> str:
    if namespace:
        where = f"in `{namespace}`"
    elif among:
        where = "in " + ", ".join(f"`{ns}`" for ns in among)
    else:
        where = "in any namespace"
    return f"{where}{' owned by you' if mine else ''}"


def more_rows(hidden: int) -> str:
    return f"…and {hidden} more not shown. Narrow the list with `-n NAMESPACE` or `--mine`."


# --- failure enrichment -------------------------------------------------------------------------

IMAGE_NOT_FOUND = "The image or its tag does not exist in the registry."
IMAGE_ACCESS_DENIED = "The registry refused access: the image is private or the name is wrong."
IMAGE_TIMEOUT = "The registry did not answer in time."
IMAGE_UNKNOWN = "The image could not be pulled."
HINT_IMAGE = "Check the spelling and tag (`--image`), then delete and create the cluster again."
HINT_IMAGE_ACCESS = "Use a public image, or ask an admin to add an image pull secret."
HINT_IMAGE_TIMEOUT = "The registry may be down; the kubelet keeps retrying on its own."
HINT_CRASH = "Look at the log lines above; `--memory` helps when the reason is OOMKilled."
HINT_UNSCHEDULABLE = "Ask for fewer GPUs/CPUs/memory, or wait for capacity and scale again."


def image_line(image: str | None, verdict: str) -> str:
    return f"*Image:* `{image}` — {verdict}" if image else verdict


def crash_line(container: str | None, exit_reason: str | None, exit_code: int | None) -> str:
    what = exit_reason or "terminated"
    code = f" (exit code {exit_code})" if exit_code is not None else ""
    return f"*Last exit of `{container or 'the container'}`:* {what}{code}"


def log_intro(pod: str) -> str:
    return f"*Last log lines of the previous run of `{pod}`:*"


def requests_line(pod: str, requests: str) -> str:
    return f"*`{pod}` asks for:* {requests}"


# --- App Home -----------------------------------------------------------------------------------

HOME_TITLE = "Ray clusters"
HOME_MINE = "*Your clusters*"
HOME_TEAM = "*The team's clusters*"
HOME_NONE_MINE = "You have no clusters. Type `/krayne create NAME` in any channel."
HOME_NONE_TEAM = "Nobody else has a cluster right now."
HOME_UNAVAILABLE = "Kubernetes is not reachable right now; this view will refresh when it is."


# --- cluster hygiene (TTL, suspend, resume) -----------------------------------------------------


def ttl_reminder(owner: str | None, name: str, *, left: str, extend: str) -> str:
    return (
        f":alarm_clock: {mention(owner)} `{name}` expires in {left}: then it is suspended (its "
        f"pods stop, its definition stays). *Extend* adds {extend}; *Delete now* frees it."
    )


def ttl_suspended(name: str, *, delete_after: str) -> str:
    return (
        f":double_vertical_bar: `{name}` reached its TTL and was suspended: its pods are gone, "
        f"its definition stays. `/krayne resume {name}` brings it back; otherwise it is deleted "
        f"in {delete_after}."
    )


def ttl_extended(who: str, name: str, *, left: str) -> str:
    """``who`` is named without a ping (the person who just acted)."""
    return f":alarm_clock: {who} extended `{name}`: it now expires in {left}."


def ttl_extended_ephemeral(name: str, *, left: str) -> str:
    return f"Extended `{name}`: it now expires in {left}."


def no_ttl(name: str) -> str:
    return f"`{name}` has no TTL: it never expires, so there is nothing to extend."


def suspended_by(who: str, name: str) -> str:
    return (
        f":double_vertical_bar: {who} suspended `{name}`: its pods stop, its "
        f"definition stays. `/krayne resume {name}` brings it back."
    )


def resumed_by(who: str, name: str, *, left: str | None) -> str:
    expiry = f"; it now expires in {left}" if left else ""
    return f":arrow_forward: {who} resumed `{name}`{expiry}."


def already(name: str, state: str) -> str:
    return f"`{name}` is already {state}."


def time_left(left: str | None, *, suspended: bool) -> str:
    if left is None:
        return "—"
    return f"suspended, deleted in {left}" if suspended else left


def ttl_refused(problem: str) -> str:
    return f"Nothing was created: {problem}. Pick a `--ttl` within those bounds."


def ack_hygiene(doing: str, name: str) -> str:
    return f":hourglass_flowing_sand: {doing} `{name}`…"


FORM_ERROR_MAX = 150  # what a modal shows next to a field, in practice


def clip_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= FORM_ERROR_MAX else flat[: FORM_ERROR_MAX - 1] + "…"


def form_created(name: str) -> str:
    return f":hourglass_flowing_sand: Creating `{name}` from the form…"


def deleted_while_away(name: str) -> str:
    return f":wastebasket: `{name}` was deleted while krayne was not running; its pods are gone."


def replicas_change(group: str, was: int, now: int) -> str:
    return f"group `{group}` {was} → {now} worker(s)"


def bounds_change(group: str, was: tuple[int, int], now: tuple[int, int]) -> str:
    return f"group `{group}` min/max {was[0]}/{was[1]} → {now[0]}/{now[1]}"


def scaled_outside(changes: list[str]) -> str:
    return ":straight_ruler: Scaled outside Slack: " + "; ".join(changes) + "."
