"""Passing states on real, elastic clusters are calm phases until they prove final.

Each case is what a platform really records: cluster-autoscaler's TriggeredScaleUp and
NotTriggerScaleUp (kubernetes/autoscaler processors/status/eventing_scale_up_processor.go),
Karpenter's Nominated and its own FailedScheduling (kubernetes-sigs/karpenter
pkg/controllers/provisioning/scheduling/events.go), the scheduler's nominatedNodeName, the
kubelet's pull and create errors and its back-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from core.status import Phase, StatusSettings, derive_status
from tests.unit.kube_objects import (
    NOW,
    event,
    group,
    head,
    raycluster,
    rc_condition,
    running,
    terminated,
    waiting,
    worker,
)

Obj = dict[str, Any]
GPU_MESSAGE = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
GPU_ASK = {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}
RATE_LIMIT = (
    'Failed to pull image "rayproject/ray:2.60.0-py312-gpu": failed to pull and unpack image '
    '"docker.io/rayproject/ray:2.60.0-py312-gpu": failed to copy: httpReadSeeker: failed open: '
    "unexpected status code https://registry-1.docker.io/v2/rayproject/ray/manifests/sha256:1: "
    "429 Too Many Requests - Server message: toomanyrequests: "
    "You have reached your pull rate limit."
)


def _gpu_worker(**kwargs: Any) -> Obj:
    return worker(
        ready=False, phase="Pending", scheduled=GPU_MESSAGE, requests=GPU_ASK, init=[], **kwargs
    )


def _autoscaler(reason: str, message: str, *, component: str, kind: str = "Normal") -> Obj:
    raw = event("Pod", "demo-worker-worker-abc12", reason, message, type_=kind, minutes_ago=2)
    raw["source"] = {"component": component}
    return raw


def _nominated(name: str) -> Obj:
    raw = _gpu_worker()
    raw["status"]["nominatedNodeName"] = name
    return raw


def _pull_failed(minutes_ago: float) -> Obj:
    return event("Pod", "demo-worker-worker-abc12", "Failed", RATE_LIMIT, minutes_ago=minutes_ago)


@dataclass
class Case:
    id: str
    pods: list[Obj]
    phase: Phase
    reason: tuple[str, ...] = ()
    events: list[Obj] = field(default_factory=list)
    after: timedelta = timedelta(0)  # how long after the fixtures' NOW status is derived
    settings: StatusSettings = field(default_factory=StatusSettings)
    rc: Obj = field(default_factory=raycluster)


def _autoscaling(*, min_replicas: int, replicas: int) -> Obj:
    rc = raycluster(groups=[group("worker", replicas, min_replicas=min_replicas, max_replicas=4)])
    rc["spec"]["enableInTreeAutoscaling"] = True
    rc["status"] = {
        "conditions": [
            rc_condition(
                "ReplicaFailure",
                "True",
                "FailedCreateWorkerPod",
                'pods "demo-worker-worker-x" is forbidden: exceeded quota: gpu, requested: '
                "nvidia.com/gpu=1, used: nvidia.com/gpu=8, limited: nvidia.com/gpu=8",
            )
        ]
    }
    return rc


SCALE_UP = "pod triggered scale-up: [{gpu-a100 0->1 (max: 1)}]"
MAXED = "pod didn't trigger scale-up: 1 max node group size reached, 2 Insufficient nvidia.com/gpu"
CASES = [
    Case(
        "cluster-autoscaler-scaling-up-is-waiting-for-node",
        [head(), _gpu_worker()],
        Phase.WAITING_FOR_NODE,
        ("waiting for a new node", "gpu-a100 0->1"),
        events=[_autoscaler("TriggeredScaleUp", SCALE_UP, component="cluster-autoscaler")],
    ),
    Case(
        "karpenter-nomination-is-waiting-for-node",
        [head(), _gpu_worker()],
        Phase.WAITING_FOR_NODE,
        ("nodeclaim/gpu-x7k2q",),
        events=[
            _autoscaler(
                "Nominated", "Pod should schedule on: nodeclaim/gpu-x7k2q", component="karpenter"
            )
        ],
    ),
    Case(
        "a-nominated-node-is-waiting-for-node",
        [head(), _nominated("gke-gpu-pool-1")],
        Phase.WAITING_FOR_NODE,
        ("gke-gpu-pool-1",),
    ),
    Case(
        "not-trigger-scale-up-is-unschedulable-with-the-autoscalers-reason",
        [head(), _gpu_worker()],
        Phase.UNSCHEDULABLE,
        ("max node group size reached",),
        events=[_autoscaler("NotTriggerScaleUp", MAXED, component="cluster-autoscaler")],
    ),
    Case(
        "karpenters-own-failed-scheduling-is-unschedulable",
        [head(), _gpu_worker()],
        Phase.UNSCHEDULABLE,
        ("incompatible with nodepool",),
        events=[
            _autoscaler(
                "FailedScheduling",
                'Failed to schedule pod, incompatible with nodepool "gpu", no instance type has '
                "enough resources",
                component="karpenter",
                kind="Warning",
            )
        ],
    ),
    Case(
        "a-newer-scale-up-overrides-an-older-refusal",
        [head(), _gpu_worker()],
        Phase.WAITING_FOR_NODE,
        events=[
            {**_autoscaler("NotTriggerScaleUp", MAXED, component="cluster-autoscaler"),
             "lastTimestamp": "2026-11-25T11:50:00Z"},
            _autoscaler("TriggeredScaleUp", SCALE_UP, component="cluster-autoscaler"),
        ],
    ),  # fmt: skip
    Case(
        "no-autoscaler-signal-inside-the-grace-is-pods-pending",
        [head(), _gpu_worker()],
        Phase.PODS_PENDING,
        after=timedelta(minutes=-2, seconds=-30),  # 30 s after it became Unschedulable
    ),
    Case(
        "no-autoscaler-in-the-cluster-past-60s-is-unschedulable",
        [head(), _gpu_worker()],
        Phase.UNSCHEDULABLE,
        ("Insufficient nvidia.com/gpu",),
    ),
    Case(
        "an-autoscaler-seen-elsewhere-earns-the-long-grace",
        [head(), _gpu_worker()],
        Phase.PODS_PENDING,
        settings=StatusSettings(autoscaler_seen=True),
    ),
    Case(
        "the-long-grace-runs-out-too",
        [head(), _gpu_worker()],
        Phase.UNSCHEDULABLE,
        after=timedelta(minutes=10),
        settings=StatusSettings(autoscaler_seen=True),
    ),
    Case(
        "a-scale-up-whose-node-never-comes-is-unschedulable-after-the-grace",
        [head(), _gpu_worker()],
        Phase.UNSCHEDULABLE,
        ("no node took it",),
        events=[_autoscaler("TriggeredScaleUp", SCALE_UP, component="cluster-autoscaler")],
        after=timedelta(minutes=10),
    ),
    Case(
        "a-rate-limited-pull-is-retrying",
        [head(), worker(ready=False, phase="Pending", containers=[
            waiting("ray-worker", "ErrImagePull", RATE_LIMIT)])],
        Phase.RETRYING,
        ("pull rate limit", "keeps retrying"),
        events=[_pull_failed(1)],
    ),  # fmt: skip
    Case(
        "a-rate-limit-past-the-retry-budget-is-image-pull-error",
        [head(), worker(ready=False, phase="Pending", containers=[
            waiting("ray-worker", "ImagePullBackOff", 'Back-off pulling image "x"')])],
        Phase.IMAGE_PULL_ERROR,
        ("pull rate limit",),
        events=[_pull_failed(6)],
    ),  # fmt: skip
    Case(
        "a-missing-tag-is-final-at-once",
        [head(), worker(ready=False, phase="Pending", containers=[
            waiting("ray-worker", "ErrImagePull", 'Failed to pull image "ray:9": not found')])],
        Phase.IMAGE_PULL_ERROR,
        ("not found",),
    ),  # fmt: skip
    Case(
        "a-transient-create-container-error-is-retrying",
        [head(), worker(ready=False, phase="Pending", containers=[
            waiting("ray-worker", "CreateContainerError", "context deadline exceeded")])],
        Phase.RETRYING,
        ("could not be created",),
    ),  # fmt: skip
    Case(
        "a-create-container-error-past-the-budget-is-failed",
        [head(), worker(ready=False, phase="Pending", containers=[
            waiting("ray-worker", "CreateContainerError", "context deadline exceeded")])],
        Phase.FAILED,
        events=[event("Pod", "demo-worker-worker-abc12", "Failed", "Error", minutes_ago=6)],
    ),  # fmt: skip
    Case(
        "one-crash-in-back-off-is-not-a-loop",
        [head(), worker(ready=False, containers=[
            waiting("ray-worker", "CrashLoopBackOff", restarts=1,
                    last=terminated("OOMKilled", 137))])],
        Phase.RUNNING,
    ),  # fmt: skip
    Case(
        "the-second-crash-is-a-loop",
        [head(), worker(ready=False, containers=[
            waiting("ray-worker", "CrashLoopBackOff", restarts=2,
                    last=terminated("OOMKilled", 137))])],
        Phase.CRASH_LOOP,
    ),  # fmt: skip
    Case(
        "a-worker-in-init-for-minutes-is-stalled-with-the-gcs-address",
        [head(), worker(ready=False, phase="Pending", containers=[],
                        init=[running("wait-gcs-ready", ready=False)])],
        Phase.STALLED,
        ("demo-head-svc.default.svc.cluster.local:6379",),
        after=timedelta(minutes=4),
    ),  # fmt: skip
    Case(
        "a-worker-in-init-briefly-is-progress",
        [head(), worker(ready=False, phase="Pending", containers=[],
                        init=[running("wait-gcs-ready", ready=False)])],
        Phase.CONTAINERS_CREATING,
    ),  # fmt: skip
    Case(
        "a-quota-refusal-while-the-ray-autoscaler-grows-a-ready-cluster-is-not-a-failure",
        [head(), worker("a1"), worker("b2")],
        Phase.RUNNING,
        rc=_autoscaling(min_replicas=1, replicas=3),
    ),
    Case(
        "a-quota-refusal-below-the-minimum-is-a-failure",
        [head()],
        Phase.FAILED,
        ("exceeded quota",),
        rc=_autoscaling(min_replicas=1, replicas=1),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_passing_states_wait_and_final_ones_fail(case: Case) -> None:
    status = derive_status(case.rc, case.pods, case.events, NOW + case.after, case.settings)
    assert status.phase is case.phase, status
    for text in case.reason:
        assert text in status.reason, status.reason


def test_waiting_for_node_and_retrying_are_calm_not_failures() -> None:
    for phase in (Phase.WAITING_FOR_NODE, Phase.RETRYING, Phase.PODS_PENDING):
        assert not phase.is_failure and not phase.is_settled
    assert Phase.STALLED.is_failure
