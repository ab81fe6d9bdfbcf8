"""``kubectl get pods`` cells match the real server's ``printPod`` for every pod life stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.sandbox.apiserver.printers import human_duration, pod_status_cells
from core.sandbox.apiserver.tables import to_table

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def _stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(name: str, state: Obj, *, ready: bool = False, restarts: int = 0, **extra: Any) -> Obj:
    return {"name": name, "state": state, "ready": ready, "restartCount": restarts, **extra}


RUNNING = {"running": {"startedAt": "2026-01-01T11:00:00Z"}}
WAIT_INIT = {"waiting": {"reason": "PodInitializing"}}


def _pod(
    init: list[Obj] | None = None,
    main: list[Obj] | None = None,
    *,
    phase: str = "Pending",
    conditions: dict[str, str] | None = None,
    deleting: bool = False,
    sidecar: bool = False,
) -> Obj:
    init = init or []
    spec: Obj = {"containers": [{"name": c["name"]} for c in main or []]}
    if init:
        spec["initContainers"] = [
            {"name": c["name"], **({"restartPolicy": "Always"} if sidecar else {})} for c in init
        ]
    status: Obj = {
        "phase": phase,
        "conditions": [{"type": k, "status": v} for k, v in (conditions or {}).items()],
        "containerStatuses": main or [],
    }
    if init:
        status["initContainerStatuses"] = init
    meta: Obj = {"name": "p", "creationTimestamp": _stamp(300)}
    if deleting:
        meta["deletionTimestamp"] = _stamp(1)
    return {"metadata": meta, "spec": spec, "status": status}


NOT_INITIALIZED = {"Initialized": "False", "Ready": "False"}
CASES = [
    (
        "worker waiting in wait-gcs-ready",
        _pod([_status("wait-gcs-ready", RUNNING)], [_status("ray-worker", WAIT_INIT)],
             conditions=NOT_INITIALIZED),
        ("0/1", "Init:0/1", "0"),
    ),
    (
        "init container not yet started",
        _pod([_status("wait-gcs-ready", WAIT_INIT)], [_status("ray-worker", WAIT_INIT)],
             conditions=NOT_INITIALIZED),
        ("0/1", "Init:0/1", "0"),
    ),
    (
        "second of two init containers running",
        _pod([_status("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
              _status("b", RUNNING)], [_status("ray-worker", WAIT_INIT)],
             conditions=NOT_INITIALIZED),
        ("0/1", "Init:1/2", "0"),
    ),
    (
        "init image cannot be pulled",
        _pod([_status("wait-gcs-ready", {"waiting": {"reason": "ImagePullBackOff"}})],
             [_status("ray-worker", WAIT_INIT)], conditions=NOT_INITIALIZED),
        ("0/1", "Init:ImagePullBackOff", "0"),
    ),
    (
        "init container failed with a reason",
        _pod([_status("wait-gcs-ready", {"terminated": {"exitCode": 1, "reason": "Error"}})],
             [_status("ray-worker", WAIT_INIT)], conditions=NOT_INITIALIZED),
        ("0/1", "Init:Error", "0"),
    ),
    (
        "init container failed without a reason",
        _pod([_status("wait-gcs-ready", {"terminated": {"exitCode": 3}})],
             [_status("ray-worker", WAIT_INIT)], conditions=NOT_INITIALIZED),
        ("0/1", "Init:ExitCode:3", "0"),
    ),
    (
        "init container killed by a signal",
        _pod([_status("wait-gcs-ready", {"terminated": {"exitCode": 137, "signal": 9}})],
             [_status("ray-worker", WAIT_INIT)], conditions=NOT_INITIALIZED),
        ("0/1", "Init:Signal:9", "0"),
    ),
    (
        "init container crash-looping counts its restarts",
        _pod([_status("wait-gcs-ready", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3,
                      lastState={"terminated": {"exitCode": 1, "finishedAt": _stamp(20)}})],
             [_status("ray-worker", WAIT_INIT)], conditions=NOT_INITIALIZED),
        ("0/1", "Init:CrashLoopBackOff", "3 (20s ago)"),
    ),
    (
        "initialized and ready",
        _pod([_status("wait-gcs-ready", {"terminated": {"exitCode": 0, "reason": "Completed"}})],
             [_status("ray-worker", RUNNING, ready=True)], phase="Running",
             conditions={"Initialized": "True", "Ready": "True"}),
        ("1/1", "Running", "0"),
    ),
    (
        "app container crash-looping shows when it last restarted",
        _pod(None, [_status("ray-head", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=2,
                            lastState={"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                                      "finishedAt": _stamp(150)}})],
             phase="Running", conditions={"Ready": "False"}),
        ("0/1", "CrashLoopBackOff", "2 (2m30s ago)"),
    ),
    (
        "app container exited without a reason",
        _pod(None, [_status("ray-head", {"terminated": {"exitCode": 2}})], phase="Running"),
        ("0/1", "ExitCode:2", "0"),
    ),
    (
        "one container completed while another still runs, pod not ready",
        _pod(None, [_status("a", RUNNING, ready=True),
                    _status("b", {"terminated": {"exitCode": 0, "reason": "Completed"}})],
             phase="Running", conditions={"Ready": "False"}),
        ("1/2", "NotReady", "0"),
    ),
    (
        "one container completed while another still runs, pod ready",
        _pod(None, [_status("a", RUNNING, ready=True),
                    _status("b", {"terminated": {"exitCode": 0, "reason": "Completed"}})],
             phase="Running", conditions={"Ready": "True"}),
        ("1/2", "Running", "0"),
    ),
    (
        "running pod being deleted",
        _pod(None, [_status("ray-head", RUNNING, ready=True)], phase="Running", deleting=True),
        ("1/1", "Terminating", "0"),
    ),
    (
        "failed pod being deleted keeps its phase",
        _pod(None, [_status("ray-head", {"terminated": {"exitCode": 1, "reason": "Error"}})],
             phase="Failed", deleting=True),
        ("0/1", "Error", "0"),
    ),
    (
        "started sidecar init container counts as a ready container",
        _pod([_status("log-agent", RUNNING, ready=True, started=True)],
             [_status("ray-worker", RUNNING, ready=True)], phase="Running",
             conditions={"Initialized": "True", "Ready": "True"}, sidecar=True),
        ("2/2", "Running", "0"),
    ),
    (
        "unscheduled pod",
        _pod(None, [_status("ray-worker", {"waiting": {"reason": "ContainerCreating"}})]),
        ("0/1", "ContainerCreating", "0"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("pod", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pod_ready_status_and_restarts_cells_match_print_pod(
    pod: Obj, expected: tuple[str, str, str]
) -> None:
    assert pod_status_cells(pod, NOW) == expected


def test_pod_table_row_carries_the_printed_status_and_age() -> None:
    pod = CASES[0][1]
    table = to_table("pods", [pod], now=NOW)
    assert table["rows"][0]["cells"][:5] == ["p", "0/1", "Init:0/1", "0", "5m"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "<invalid>"), (-0.5, "0s"), (59, "59s"), (119, "119s"), (150, "2m30s"), (600, "10m"),
     (3 * 3600 + 60, "3h1m"), (9 * 3600, "9h"), (50 * 3600, "2d2h"), (400 * 86400, "400d"),
     (3 * 365 * 86400, "3y")],
)  # fmt: skip
def test_human_duration_matches_apimachinery(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def _node(ready: str | None, *, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {
        "metadata": {"name": "n1", "labels": labels or {}, "creationTimestamp": _stamp(90000)},
        "spec": spec,
        "status": {
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "10.128.0.10"}],
            "nodeInfo": {"kubeletVersion": "v1.34.1", "containerRuntimeVersion": "containerd://2"},
        },
    }


@pytest.mark.parametrize(
    ("node", "status", "roles"),
    [(_node("True"), "Ready", "<none>"),
     (_node("False"), "NotReady", "<none>"),
     (_node("Unknown"), "NotReady", "<none>"),
     (_node(None), "Unknown", "<none>"),
     (_node("True", unschedulable=True), "Ready,SchedulingDisabled", "<none>"),
     (_node("True", labels={"node-role.kubernetes.io/control-plane": "",
                            "kubernetes.io/role": "worker", "node-role.kubernetes.io/": ""}),
      "Ready", "control-plane,worker")],
)  # fmt: skip
def test_node_rows_match_print_node(node: Obj, status: str, roles: str) -> None:
    table = to_table("nodes", [node], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name", "Status", "Roles", "Age", "Version"
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == [
        "n1", status, roles, "25h", "v1.34.1", "10.128.0.10", "<none>", "<unknown>", "<unknown>",
        "containerd://2",
    ]  # fmt: skip
