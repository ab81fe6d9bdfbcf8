"""What a cluster change means for its Slack thread: pure rules, no I/O.

``decide`` says whether a change is news (a reply) and what to record; ``scaled_outside`` and
``scaled_from_slack`` tell a person's scale from the Ray autoscaler's; ``urgent`` is what
overtakes routine progress; ``reply_for`` renders the reply; the metadata functions are how a
thread and a card are found again after a crash (https://docs.slack.dev/messaging/message-metadata).
The notifier (``bot.notifier``) does the I/O around them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot import blocks
from bot import messages as msg
from bot.facts import CardView
from core.objects import PodView, RayClusterView
from core.state import GONE, SCALED_BY, Notified
from core.status import ClusterStatus, Phase

_RECORD_REASON = 200


class Change(Protocol):
    """The fields of ``core.watching.ClusterChange`` the notifier reads."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def raycluster(self) -> dict[str, Any] | None: ...
    @property
    def status(self) -> ClusterStatus: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def gpus_held(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What one change means for Slack: a reply (for ``phase``), and the record to keep."""

    reply: bool
    record: Notified


#: Phases a ready cluster passes through while the Ray autoscaler adds workers within
#: min..max (it rewrites ``replicas``: ray autoscaler/_private/kuberay/node_provider.py). The
#: card shows them; the thread stays quiet unless a worker then fails.
QUIET_AFTER_READY = frozenset(
    {
        Phase.PODS_PENDING,
        Phase.WAITING_FOR_NODE,
        Phase.CONTAINERS_CREATING,
        Phase.RUNNING,
        Phase.RETRYING,
    }
)


def scaled_from_slack(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    """Pure: ``after`` is the write of a scale from Slack (its ``krayne.io/scaled-by`` moved)."""
    if before is None or after is None:
        return False
    old, new = RayClusterView.parse(before), RayClusterView.parse(after)
    return old.uid == new.uid and old.annotations.get(SCALED_BY) != new.annotations.get(
        SCALED_BY
    ) and new.annotations.get(SCALED_BY) is not None


def scaled_outside(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    """Pure: the thread's note for a scale made outside Slack (kubectl, GitOps), or None.

    What counts is what a person sets: ``replicas`` of a cluster without autoscaling, the
    min/max bounds of one with it. Ray's autoscaler rewrites ``replicas`` within those bounds
    on its own (ray autoscaler/_private/kuberay/node_provider.py) and stays quiet; a scale from
    Slack rewrites ``krayne.io/scaled-by`` in the same write and has its own note."""
    if before is None or after is None:
        return None
    old, new = RayClusterView.parse(before), RayClusterView.parse(after)
    if old.uid != new.uid or old.annotations.get(SCALED_BY) != new.annotations.get(SCALED_BY):
        return None
    was = {g.name: g for g in old.groups}
    changes = []
    for group in new.groups:
        prior = was.get(group.name)
        if prior is None:
            continue
        if new.autoscaling and (prior.min_replicas, prior.max_replicas) != (
            group.min_replicas, group.max_replicas
        ):
            changes.append(msg.bounds_change(group.name, (prior.min_replicas, prior.max_replicas),
                                             (group.min_replicas, group.max_replicas)))  # fmt: skip
        elif not new.autoscaling and prior.replicas != group.replicas:
            changes.append(msg.replicas_change(group.name, prior.replicas, group.replicas))
    return msg.scaled_outside(changes) if changes else None


def decide(previous: Notified | None, change: Change) -> Decision:
    """Pure: a reply is due when the phase differs from the last one announced.

    Only the phase counts. Reasons of one phase keep changing (restart counts, "1/2 workers
    ready"), and announcing each would flood the thread; the card shows the latest reason.
    Once ready, an autoscaling cluster growing with its head up says nothing until it fails.
    """
    if change.deleted:
        # "deleting" was said while the pods shut down; their being gone is the news now.
        said = previous is not None and previous.get("phase") == GONE
        gone = Notified(phase=GONE, reason="", seq=(previous or {}).get("seq", 0) + 1)
        return Decision(reply=not said, record=gone)
    status = change.status
    record = Notified(phase=status.phase.value, reason=status.reason[:_RECORD_REASON])
    if previous is not None and previous.get("phase") == record["phase"]:
        return Decision(reply=False, record=previous)
    if (
        previous is not None
        and previous.get("phase") == Phase.READY.value
        and status.phase in QUIET_AFTER_READY
        and status.head_ready
        and RayClusterView.parse(change.raycluster).autoscaling
    ):
        return Decision(reply=False, record=previous)
    if status.phase is Phase.READY or (previous is not None and previous.get("was_ready")):
        record["was_ready"] = True
    record["seq"] = (previous or {}).get("seq", 0) + 1
    return Decision(reply=True, record=record)


#: Message metadata on every thread reply (https://docs.slack.dev/messaging/message-metadata):
#: which cluster (uid) and which transition it tells, so the thread can be read back.
REPLY_EVENT = "krayne_transition"


#: And on every status card: which cluster it is the card of, so a bot that died between
#: posting a card and recording it finds the card instead of posting a second one.
CARD_EVENT = "krayne_card"


def card_metadata(uid: str) -> dict[str, Any]:
    return {"event_type": CARD_EVENT, "event_payload": {"uid": uid}}


def reply_metadata(change: Change, record: Notified) -> dict[str, Any]:
    uid = str(((change.raycluster or {}).get("metadata") or {}).get("uid") or "")
    return {"event_type": REPLY_EVENT,
            "event_payload": {"uid": uid, "phase": record.get("phase", ""),
                              "seq": record.get("seq", 0)}}  # fmt: skip


def crash_target(pods: list[dict[str, Any]], pod_name: str | None) -> tuple[str, str] | None:
    """(pod, container) whose previous run to quote for a crash loop."""
    views = [PodView.parse(p) for p in pods]
    views.sort(key=lambda v: v.name != pod_name)
    for view in views:
        for c in view.containers:
            if c.waiting_reason == "CrashLoopBackOff" or (
                c.last_reason is not None and c.restarts > 0
            ):
                return view.name, c.name
    return None


def urgent(change: Change) -> bool:
    """News that settles a thread (ready, a failure, suspended, gone): never withdrawn, and
    sent ahead of other threads' progress."""
    return change.deleted or change.status.phase.is_settled


def reply_for(
    view: CardView,
    obj: dict[str, Any] | None,
    *,
    log_tail: str | None = None,
    again: bool = False,
    freed_gpus: int = 0,
    names: Mapping[str, str] | None = None,
    passed: Sequence[str] = (),
) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) of the thread reply announcing ``view.status``; what
    Kubernetes said is escaped by the renderer (``blocks.status_reply``)."""
    addresses = None
    if view.status.phase is Phase.READY and not view.gone:
        cluster = RayClusterView.parse(obj or {"metadata": {"name": view.name}})
        ports = cluster.head.endpoint_ports
        addresses = msg.address_lines(
            head_dns=f"{cluster.head_service}.{view.namespace}.svc.cluster.local",
            dashboard=ports["dashboard"],
            client=ports["client"],
            namespace=view.namespace,
            service=cluster.head_service,
        )
    return blocks.status_reply(
        view, addresses=addresses, log_tail=log_tail, again=again, freed_gpus=freed_gpus,
        names=names or {}, passed=passed,
    )  # fmt: skip
