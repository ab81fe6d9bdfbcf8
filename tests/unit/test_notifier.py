"""The notifier's pure decisions: one reply per phase change, never a repeat, resumable; and the
App Home refreshes its phase changes trigger."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from bot.facts import CardView
from bot.home import HomeTabs
from bot.slack_double.limits import validate_blocks
from bot.transitions import crash_target, decide, reply_for, scaled_outside
from core.state import Notified, decode_notified, encode_notified
from core.status import ClusterStatus, Phase


@dataclass(frozen=True)
class FakeChange:
    namespace: str
    name: str
    raycluster: dict[str, Any] | None
    status: ClusterStatus
    deleted: bool = False
    gpus_held: int = 0


def change(phase: Phase, reason: str = "r", *, deleted: bool = False) -> FakeChange:
    return FakeChange("ns", "demo", {}, ClusterStatus(phase, reason), deleted)


AUTOSCALING = {"metadata": {"name": "demo"}, "spec": {"enableInTreeAutoscaling": True}}


def grown(phase: Phase, *, autoscaling: bool = True, head_ready: bool = True) -> FakeChange:
    """A change while the Ray autoscaler adds a worker to a ready cluster."""
    status = ClusterStatus(phase, "1/2 workers are ready", head_ready=head_ready)
    return FakeChange("ns", "demo", AUTOSCALING if autoscaling else {}, status)


def rec(phase: str, reason: str = "r") -> Notified:
    return Notified(phase=phase, reason=reason)


@pytest.mark.parametrize(
    ("previous", "new", "reply"),
    [
        (None, change(Phase.CREATING), True),
        (rec("creating"), change(Phase.CREATING, "other reason"), False),
        (rec("creating"), change(Phase.PODS_PENDING), True),
        (rec("running"), change(Phase.RUNNING, "2/3 workers ready"), False),
        (rec("running"), change(Phase.READY), True),
        (rec("ready"), change(Phase.READY), False),
        (rec("ready"), change(Phase.CRASH_LOOP, "restarted 1 time"), True),
        (
            rec("crash-loop", "restarted 1 time"),
            change(Phase.CRASH_LOOP, "restarted 2 times"),
            False,
        ),
        (rec("unschedulable"), change(Phase.IMAGE_PULL_ERROR), True),
        (rec("ready"), change(Phase.READY, deleted=True), True),
        # "deleting" while the pods shut down, then "deleted" once the last one is gone
        (rec("deleting"), change(Phase.DELETING, deleted=True), True),
        (rec("gone"), change(Phase.DELETING, deleted=True), False),
        (None, change(Phase.DELETING, deleted=True), True),
        # the Ray autoscaler growing a ready cluster within min..max stays off the thread
        (rec("ready"), grown(Phase.PODS_PENDING), False),
        (rec("ready"), grown(Phase.WAITING_FOR_NODE), False),
        (rec("ready"), grown(Phase.CONTAINERS_CREATING), False),
        (rec("ready"), grown(Phase.RUNNING), False),
        (rec("ready"), grown(Phase.UNSCHEDULABLE), True),  # a new worker that fails is news
        (rec("ready"), grown(Phase.IMAGE_PULL_ERROR), True),
        (rec("ready"), grown(Phase.RUNNING, autoscaling=False), True),
        (rec("ready"), grown(Phase.RUNNING, head_ready=False), True),
    ],
)
def test_reply_only_when_the_phase_changes(
    previous: Notified | None, new: FakeChange, reply: bool
) -> None:
    assert decide(previous, new).reply is reply


def test_a_restarted_bot_reading_the_annotation_does_not_repeat() -> None:
    first = decide(None, change(Phase.READY, "all ready"))
    stored = encode_notified(first.record)
    assert decide(decode_notified(stored), change(Phase.READY, "all ready")).reply is False


def test_the_owner_is_mentioned_only_the_first_time_the_cluster_is_ready() -> None:
    first = decide(rec("running"), change(Phase.READY))
    assert first.record.get("was_ready") is True
    scaled = decide(decode_notified(encode_notified(first.record)), change(Phase.RUNNING))
    assert scaled.reply and scaled.record.get("was_ready") is True
    text, _ = reply_for(_view(Phase.READY), {}, again=True)
    assert "<@U1>" not in text and "ready again" in text


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"reason": "x"}'])
def test_unreadable_records_count_as_nothing_announced(text: str | None) -> None:
    assert decode_notified(text) is None


def _view(phase: Phase, reason: str = "why", hint: str | None = "do this") -> CardView:
    return CardView("demo", "ns", "U1", ClusterStatus(phase, reason, hint), ("img",), 1, 1, 1)


def test_ready_reply_mentions_the_owner_with_addresses_and_port_forward() -> None:
    text, rendered = reply_for(_view(Phase.READY), {})
    body = str(rendered)
    assert "<@U1>" in text
    assert "demo-head-svc.ns.svc.cluster.local" in body
    assert "8265" in body and "10001" in body
    assert "kubectl port-forward -n ns svc/demo-head-svc 8265:8265 10001:10001" in body
    assert validate_blocks(rendered)[0] == []


@pytest.mark.parametrize("phase", [p for p in Phase if p.is_failure])
def test_failure_replies_carry_reason_hint_and_buttons(phase: Phase) -> None:
    text, rendered = reply_for(_view(phase, "it broke"), {}, log_tail="line1\nline2")
    body = str(rendered)
    assert "it broke" in text and "do this" in body and "line2" in body
    actions = [b for b in rendered if b["type"] == "actions"][0]
    ids = {e["action_id"] for e in actions["elements"]}
    assert {"krayne_describe", "krayne_delete"} <= ids
    assert validate_blocks(rendered)[0] == []


def _pod(name: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"containerStatuses": statuses}}


def test_crash_target_prefers_the_pod_the_status_names() -> None:
    crashing = {
        "name": "ray-worker",
        "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
    }
    pods = [_pod("a", [crashing]), _pod("b", [crashing | {"name": "ray-head"}])]
    assert crash_target(pods, "b") == ("b", "ray-head")
    assert crash_target(pods, None) == ("a", "ray-worker")
    assert crash_target([_pod("c", [{"name": "x", "state": {"running": {}}}])], None) is None


# --- App Home refreshes (the notifier's on_phase feeds HomeTabs.changed) -------------------------


async def test_a_burst_of_phase_changes_republishes_an_opened_home_once() -> None:
    published: asyncio.Queue[str] = asyncio.Queue()
    released = asyncio.Event()

    async def publish(user: str) -> None:
        published.put_nowait(user)

    async def debounce(_seconds: float) -> None:
        await released.wait()  # the debounce ends when the test says so

    home = HomeTabs(publish, debounce=1.0, sleep=debounce)
    task = asyncio.create_task(home.run())
    try:
        home.opened("U1")
        for _ in range(5):  # creating, pods-pending, containers-creating, running, ready
            home.changed("U1")
        home.changed("U2")  # never opened their Home
        home.changed(None)  # a cluster without an owner
        released.set()
        async with asyncio.timeout(5):
            assert await published.get() == "U1"
            home.changed("U1")  # a later change publishes again
            assert await published.get() == "U1"
        assert published.empty()  # one publish per burst, none for U2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _rc(*, replicas: int = 1, low: int = 0, high: int = 4, autoscaling: bool = False,
        scaled_by: str | None = None) -> dict[str, Any]:  # fmt: skip
    notes = {"krayne.io/scaled-by": scaled_by} if scaled_by else {}
    return {
        "metadata": {"name": "demo", "uid": "u1", "annotations": notes},
        "spec": {
            "enableInTreeAutoscaling": autoscaling,
            "workerGroupSpecs": [
                {"groupName": "worker", "replicas": replicas, "minReplicas": low,
                 "maxReplicas": high}
            ],
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        (_rc(replicas=1), _rc(replicas=3), "group `worker` 1 → 3 worker(s)"),
        # Ray's autoscaler rewrites replicas within min..max: quiet
        (_rc(replicas=1, autoscaling=True), _rc(replicas=3, autoscaling=True), None),
        (_rc(autoscaling=True), _rc(high=8, autoscaling=True), "min/max 0/4 → 0/8"),
        # a scale from Slack changes krayne.io/scaled-by in the same write: its own note
        (_rc(replicas=1), _rc(replicas=3, scaled_by="U1:ab12"), None),
        (None, _rc(replicas=3), None),
    ],
)
def test_a_scale_made_outside_slack_is_told_but_the_ray_autoscaler_stays_quiet(
    before: dict[str, Any] | None, after: dict[str, Any], said: str | None
) -> None:
    note = scaled_outside(before, after)
    assert (note is None) == (said is None), note
    if said is not None:
        assert note is not None and said in note and "outside Slack" in note
