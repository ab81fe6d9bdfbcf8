"""derive_status: one phase with a human reason and hint for every situation of DESIGN §4."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.status import CRASH_RECENT, ClusterStatus, Phase, derive_status
from core.status_reasons import PullProblem, classify_pull_error
from tests.unit.kube_objects import (
    NOW,
    completed,
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

GPU_MESSAGE = (
    "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available: "
    "4 No preemption victims found for incoming pod."
)
QUOTA = (
    'pods "demo-head-x7k2p" is forbidden: exceeded quota: compute, requested: '
    "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4"
)
NOT_FOUND = (
    'Failed to pull image "rayproject/ray:9.9.9": rpc error: code = NotFound desc = failed to pull '
    'and unpack image "docker.io/rayproject/ray:9.9.9": failed to resolve reference '
    '"docker.io/rayproject/ray:9.9.9": docker.io/rayproject/ray:9.9.9: not found'
)


def crashed_now(name: str, restarts: int, *, exit_code: int = 1) -> dict[str, Any]:
    """A container the kubelet has just seen exit, before it restarts or backs off."""
    return {
        "name": name,
        "image": "docker.io/rayproject/ray:2.53.0-py311",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"terminated": terminated("Error", exit_code, minutes_ago=0)},
        "lastState": {"terminated": terminated("Error", 1, minutes_ago=2)} if restarts else {},
    }


@dataclass
class Case:
    id: str
    rc: dict[str, Any]
    pods: list[dict[str, Any]]
    phase: Phase
    reason: tuple[str, ...]  # substrings the reason must contain
    events: list[dict[str, Any]] = field(default_factory=list)
    hint: str | None = None  # a substring of the hint; None means "no hint expected"
    pod: str | None = None
    counts: tuple[int, int, bool] | None = None  # ready_workers, desired_workers, head_ready
    absent: tuple[str, ...] = ()  # substrings the reason must not contain


CASES = [
    Case(
        "no-pods-yet-is-creating",
        raycluster(),
        [],
        Phase.CREATING,
        ("Waiting for KubeRay to create the head pod",),
        counts=(0, 1, False),
    ),
    Case(
        "sticky-ready-state-without-pods-is-creating",
        raycluster(status={"state": "ready", "readyWorkerReplicas": 1, "desiredWorkerReplicas": 1}),
        [],
        Phase.CREATING,
        ("head pod is gone",),
    ),
    Case(
        "no-status-for-minutes-suggests-no-operator",
        raycluster(created_minutes_ago=6),
        [],
        Phase.CREATING,
        ("has not picked the cluster up yet", "6 min"),
        hint="KubeRay operator is running",
    ),
    Case(
        "being-deleted",
        raycluster(deleting=True),
        [head(terminating=True), worker(terminating=True)],
        Phase.DELETING,
        ("being deleted; 2 pods are still shutting down",),
    ),
    Case(
        "deleting-wins-over-failures",
        raycluster(deleting=True),
        [head(ready=False, containers=[waiting("ray-head", "ImagePullBackOff")], phase="Pending")],
        Phase.DELETING,
        ("being deleted",),
    ),
    Case(
        "suspended-with-no-pods",
        raycluster(suspend=True, status={"state": "suspended"}),
        [],
        Phase.SUSPENDED,
        ("suspended: all its pods are stopped",),
        hint="/krayne resume demo",
        counts=(0, 1, False),
    ),
    Case(
        "suspending-while-pods-stop",
        raycluster(suspend=True),
        [head(terminating=True)],
        Phase.SUSPENDED,
        ("suspending; 1 pod is still shutting down",),
        hint="/krayne delete demo",
    ),
    Case(
        "replica-failure-quota",
        raycluster(
            status={
                "conditions": [rc_condition("ReplicaFailure", "True", "FailedCreateHeadPod", QUOTA)]
            }
        ),
        [],
        Phase.FAILED,
        ("could not create the head pod", "exceeded quota"),
        hint="quota is used up",
    ),
    Case(
        "invalid-spec-event-with-no-status",
        raycluster(),
        [],
        Phase.FAILED,
        ("rejected the cluster spec", "headGroupSpec should have at least one container"),
        events=[
            event(
                "RayCluster",
                "demo",
                "InvalidRayClusterSpec",
                "headGroupSpec should have at least one container",
            )
        ],
        hint="/krayne delete demo",
    ),
    Case(
        "invalid-spec-event-superseded-by-later-status",
        raycluster(status={"lastUpdateTime": "2026-11-25T11:59:59Z"}),
        [],
        Phase.CREATING,
        ("Waiting for KubeRay",),
        events=[event("RayCluster", "demo", "InvalidRayClusterSpec", "bad", minutes_ago=3)],
    ),
    Case(
        "failed-to-create-worker-pod-event-while-workers-missing",
        raycluster(),
        [head()],
        Phase.FAILED,
        ("could not create worker pods", "exceeded quota"),
        events=[
            event(
                "RayCluster",
                "demo",
                "FailedToCreateWorkerPod",
                f"Failed to create worker Pod for the cluster default/demo, {QUOTA}",
            )
        ],
        hint="quota",
    ),
    Case(
        "old-failed-to-create-event-is-ignored",
        raycluster(),
        [head()],
        Phase.RUNNING,
        ("0/1 workers are ready",),
        events=[event("RayCluster", "demo", "FailedToCreateWorkerPod", QUOTA, minutes_ago=40)],
    ),
    Case(
        "head-image-not-found",
        raycluster(),
        [
            head(
                ready=False,
                phase="Pending",
                image="rayproject/ray:9.9.9",
                containers=[waiting("ray-head", "ErrImagePull", NOT_FOUND)],
            )
        ],
        Phase.IMAGE_PULL_ERROR,
        (
            "ray-head in demo-head-x7k2p cannot pull `rayproject/ray:9.9.9`: the image or its tag "
            "was not found in the registry (docker.io/rayproject/ray:9.9.9: not found).",
        ),
        hint="Check the image name and tag",
        pod="demo-head-x7k2p",
    ),
    Case(
        "backoff-message-takes-detail-from-pod-event",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                phase="Pending",
                image="registry.corp/private/ray:1",
                init=[waiting("wait-gcs-ready", "ImagePullBackOff", 'Back-off pulling image "x"')],
                containers=[waiting("ray-worker", "PodInitializing")],
            ),
        ],
        Phase.IMAGE_PULL_ERROR,
        ("wait-gcs-ready", "`registry.corp/private/ray:1`", "denied access"),
        events=[
            event(
                "Pod",
                "demo-worker-worker-abc12",
                "Failed",
                'Failed to pull image "registry.corp/private/ray:1": failed to authorize: '
                "failed to fetch anonymous token: 401 Unauthorized",
            )
        ],
        hint="registry credentials",
        pod="demo-worker-worker-abc12",
    ),
    Case(
        "invalid-image-name",
        raycluster(),
        [
            head(
                ready=False,
                phase="Pending",
                image="RayProject/Ray:latest",
                containers=[
                    waiting(
                        "ray-head",
                        "InvalidImageName",
                        'Failed to apply default image tag "RayProject/Ray:latest": couldn\'t '
                        'parse image reference "RayProject/Ray:latest": invalid reference format: '
                        "repository name must be lowercase",
                    )
                ],
            )
        ],
        Phase.IMAGE_PULL_ERROR,
        ("not a valid image reference",),
        hint="lowercase",
    ),
    Case(
        "registry-timeout-is-retried-within-the-budget",
        raycluster(),
        [
            head(
                ready=False,
                phase="Pending",
                containers=[
                    waiting(
                        "ray-head",
                        "ErrImagePull",
                        'Failed to pull image "r.example:5000/ray:1": dial tcp 10.0.0.1:5000: '
                        "i/o timeout",
                    )
                ],
            )
        ],
        Phase.RETRYING,
        ("the registry did not answer in time", "keeps retrying"),
    ),
    Case(
        "registry-timeout-past-the-retry-budget-is-image-pull-error",
        raycluster(),
        [
            head(
                ready=False,
                phase="Pending",
                containers=[
                    waiting(
                        "ray-head",
                        "ErrImagePull",
                        'Failed to pull image "r.example:5000/ray:1": dial tcp 10.0.0.1:5000: '
                        "i/o timeout",
                    )
                ],
            )
        ],
        Phase.IMAGE_PULL_ERROR,
        ("the registry did not answer in time",),
        events=[
            event(
                "Pod", "demo-head-x7k2p", "Failed", "Error: ErrImagePull", minutes_ago=6
            )
        ],
        hint="registry address",
    ),
    Case(
        "worker-crash-loop-after-head-ready",
        raycluster(groups=[group("worker", 2)]),
        [
            head(),
            worker("aaaaa"),
            worker(
                "bbbbb",
                ready=False,
                containers=[
                    waiting(
                        "ray-worker",
                        "CrashLoopBackOff",
                        "back-off 40s restarting failed container",
                        restarts=4,
                        last=terminated("Error", 1),
                    )
                ],
            ),
        ],
        Phase.CRASH_LOOP,
        (
            "ray-worker in demo-worker-worker-bbbbb keeps crashing: last exit code 1 (Error), "
            "restarted 4 times.",
        ),
        hint="kubectl logs demo-worker-worker-bbbbb -n default -c ray-worker --previous",
        pod="demo-worker-worker-bbbbb",
        counts=(1, 2, True),
    ),
    Case(
        "oom-crash-loop-names-oomkilled",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                containers=[
                    waiting(
                        "ray-worker",
                        "CrashLoopBackOff",
                        restarts=4,
                        last=terminated("OOMKilled", 137),
                    )
                ],
            ),
        ],
        Phase.CRASH_LOOP,
        ("keeps crashing: last exit OOMKilled (exit code 137), restarted 4 times",),
        hint="--memory",
    ),
    Case(
        # One OOM kill and a recovery is not a loop: the cluster is ready (issue: real clusters).
        "running-and-ready-after-one-recent-oom-kill-is-ready",
        raycluster(),
        [
            head(),
            worker(
                containers=[running("ray-worker", restarts=1, last=terminated("OOMKilled", 137))]
            ),
        ],
        Phase.READY,
        ("The head and its worker are ready.",),
        counts=(1, 1, True),
    ),
    Case(
        "oom-restart-long-ago-is-ready",
        raycluster(),
        [
            head(),
            worker(
                containers=[
                    running(
                        "ray-worker", restarts=1, last=terminated("OOMKilled", 137, minutes_ago=90)
                    )
                ]
            ),
        ],
        Phase.READY,
        ("The head and its worker are ready.",),
        counts=(1, 1, True),
    ),
    Case(
        "head-oom-hint-names-head-memory",
        raycluster(groups=[]),
        [
            head(
                ready=False,
                containers=[
                    waiting(
                        "ray-head",
                        "CrashLoopBackOff",
                        restarts=2,
                        last=terminated("OOMKilled", 137),
                    )
                ],
            )
        ],
        Phase.CRASH_LOOP,
        ("ray-head", "OOMKilled"),
        hint="--head-memory",
    ),
    # Between two crashes the kubelet shows the container Running (or just terminated) rather
    # than CrashLoopBackOff: still a crash loop until it is Ready again, or the crash is old.
    Case(
        "between-crashes-running-not-ready-is-crash-loop",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                containers=[
                    running("ray-worker", ready=False, restarts=3, last=terminated("Error", 1))
                ],
            ),
        ],
        Phase.CRASH_LOOP,
        (
            "ray-worker in demo-worker-worker-abc12 keeps crashing: last exit code 1 (Error), "
            "restarted 3 times.",
        ),
        hint="kubectl logs demo-worker-worker-abc12 -n default -c ray-worker --previous",
        pod="demo-worker-worker-abc12",
        counts=(0, 1, True),
    ),
    Case(
        "head-between-oom-kills-is-crash-loop-naming-head-memory",
        raycluster(groups=[]),
        [
            head(
                ready=False,
                containers=[
                    running("ray-head", ready=False, restarts=2, last=terminated("OOMKilled", 137))
                ],
            )
        ],
        Phase.CRASH_LOOP,
        ("ray-head in demo-head-x7k2p keeps crashing: last exit OOMKilled (exit code 137)",),
        hint="--head-memory",
    ),
    Case(
        "terminated-again-before-back-off-is-crash-loop-naming-the-new-exit",
        raycluster(),
        [head(), worker(ready=False, containers=[crashed_now("ray-worker", 2, exit_code=3)])],
        Phase.CRASH_LOOP,
        ("keeps crashing: last exit code 3 (Error), restarted 2 times.",),
        hint="--previous",
    ),
    Case(
        "recovered-and-ready-after-a-crash-is-ready",
        raycluster(),
        [
            head(),
            worker(containers=[running("ray-worker", restarts=1, last=terminated("Error", 1))]),
        ],
        Phase.READY,
        ("The head and its worker are ready.",),
        counts=(1, 1, True),
    ),
    Case(
        "crashed-once-long-ago-and-ready-since-is-ready",
        raycluster(),
        [
            head(),
            worker(
                containers=[
                    running("ray-worker", restarts=1, last=terminated("Error", 1, minutes_ago=90))
                ]
            ),
        ],
        Phase.READY,
        ("The head and its worker are ready.",),
    ),
    Case(
        "first-start-running-not-ready-is-running",
        raycluster(groups=[]),
        [head(ready=False, containers=[running("ray-head", ready=False)])],
        Phase.RUNNING,
        ("The head pod demo-head-x7k2p is running; waiting for Ray",),
        counts=(0, 0, False),
    ),
    Case(
        "first-crash-not-yet-restarted-is-running",
        raycluster(),
        [head(), worker(ready=False, containers=[crashed_now("ray-worker", 0)])],
        Phase.RUNNING,
        ("0/1 workers are ready; waiting for demo-worker-worker-abc12.",),
    ),
    Case(
        "crash-long-ago-then-not-ready-is-running",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                containers=[
                    running(
                        "ray-worker",
                        ready=False,
                        restarts=2,
                        last=terminated("Error", 1, minutes_ago=90),
                    )
                ],
            ),
        ],
        Phase.RUNNING,
        ("0/1 workers are ready",),
    ),
    Case(
        "restarted-after-a-clean-exit-is-running",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                containers=[
                    running("ray-worker", ready=False, restarts=1, last=terminated("Completed", 0))
                ],
            ),
        ],
        Phase.RUNNING,
        ("0/1 workers are ready",),
    ),
    Case(
        "missing-secret-cannot-start",
        raycluster(),
        [
            head(
                ready=False,
                phase="Pending",
                containers=[
                    waiting(
                        "ray-head", "CreateContainerConfigError", 'secret "demo-services" not found'
                    )
                ],
            )
        ],
        Phase.FAILED,
        ("cannot start (CreateContainerConfigError)", 'secret "demo-services" not found'),
        hint="secrets",
    ),
    Case(
        "worker-pending-on-gpus",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                phase="Pending",
                scheduled=GPU_MESSAGE,
                requests={"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
            ),
        ],
        Phase.UNSCHEDULABLE,
        (
            "demo-worker-worker-abc12 (it asks for 4 CPUs, 16Gi memory and 1 nvidia.com/gpu) "
            "cannot be scheduled: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
        ),
        absent=("preemption",),
        hint="fewer GPUs",
        pod="demo-worker-worker-abc12",
    ),
    Case(
        "unschedulable-message-from-failed-scheduling-event",
        raycluster(),
        [
            head(
                ready=False,
                phase="Pending",
                scheduled="",
                requests={"cpu": "500m", "memory": "512Mi"},
            )
        ],
        Phase.UNSCHEDULABLE,
        ("500m CPU and 512Mi memory", "0/3 nodes are available: 3 Insufficient cpu."),
        events=[
            event(
                "Pod",
                "demo-head-x7k2p",
                "FailedScheduling",
                "0/3 nodes are available: 3 Insufficient cpu.",
            )
        ],
        hint="less CPU or memory",
    ),
    Case(
        "pods-pending-before-scheduling",
        raycluster(),
        [head(ready=False, phase="Pending", scheduled=False)],
        Phase.PODS_PENDING,
        ("demo-head-x7k2p is waiting to be scheduled",),
        pod="demo-head-x7k2p",
    ),
    Case(
        "head-containers-creating",
        raycluster(),
        [head(ready=False, phase="Pending", containers=[waiting("ray-head", "ContainerCreating")])],
        Phase.CONTAINERS_CREATING,
        ("ray-head is ContainerCreating",),
    ),
    Case(
        "head-ready-worker-waiting-for-gcs-is-containers-creating",
        raycluster(),
        [
            head(),
            worker(
                ready=False,
                phase="Pending",
                init=[running("wait-gcs-ready", ready=False)],
                containers=[waiting("ray-worker", "PodInitializing")],
            ),
        ],
        Phase.CONTAINERS_CREATING,
        ("waiting for the head's Ray GCS", "Init:0/1"),
        pod="demo-worker-worker-abc12",
        counts=(0, 1, True),
    ),
    Case(
        "scheduled-pod-without-container-statuses-is-starting",
        raycluster(),
        [head(ready=False, phase="Pending")],
        Phase.CONTAINERS_CREATING,
        ("demo-head-x7k2p has a node and is starting its containers.",),
    ),
    Case(
        "head-running-not-ready",
        raycluster(),
        [head(ready=False), worker(ready=False)],
        Phase.RUNNING,
        ("head pod demo-head-x7k2p is running",),
    ),
    Case(
        "fewer-workers-than-desired-is-running",
        raycluster(groups=[group("worker", 3)]),
        [head(), worker("aaaaa"), worker("bbbbb")],
        Phase.RUNNING,
        ("2/3 workers are ready; KubeRay is creating the rest",),
        counts=(2, 3, True),
    ),
    Case(
        "ready",
        raycluster(groups=[group("worker", 2), group("gpu", 1, min_replicas=2)]),
        [head(), worker("aaaaa"), worker("bbbbb"), worker("ccccc"), worker("ddddd")],
        Phase.READY,
        ("The head and all 4 workers are ready.",),
        pod="demo-head-x7k2p",
        counts=(4, 4, True),
    ),
    Case(
        "terminating-and-failed-pods-do-not-count",
        raycluster(),
        [
            head(),
            worker("aaaaa"),
            worker(
                "old00",
                ready=False,
                terminating=True,
                containers=[waiting("ray-worker", "CrashLoopBackOff", restarts=9)],
            ),
            worker("evict", ready=False, phase="Failed", containers=[]),
        ],
        Phase.READY,
        ("ready",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_derive_status_table(case: Case) -> None:
    status = derive_status(case.rc, case.pods, case.events, NOW)
    assert status.phase is case.phase, status
    for fragment in case.reason:
        assert fragment in status.reason, status.reason
    for fragment in case.absent:
        assert fragment not in status.reason, status.reason
    if case.hint is None:
        assert status.hint is None, status.hint
    else:
        assert status.hint is not None and case.hint in status.hint, status.hint
    if case.pod is not None:
        assert status.pod == case.pod
    if case.counts is not None:
        assert (status.ready_workers, status.desired_workers, status.head_ready) == case.counts


@pytest.mark.parametrize(
    ("minutes_ago", "phase"),
    [
        (CRASH_RECENT.total_seconds() / 60 - 1, Phase.CRASH_LOOP),
        (CRASH_RECENT.total_seconds() / 60 + 1, Phase.RUNNING),
    ],
)
def test_a_crash_counts_until_crash_recent_has_passed(minutes_ago: float, phase: Phase) -> None:
    last = terminated("Error", 1, minutes_ago=minutes_ago)
    container = running("ray-worker", ready=False, restarts=5, last=last)
    status = derive_status(
        raycluster(), [head(), worker(ready=False, containers=[container])], [], NOW
    )
    assert status.phase is phase, status


@pytest.mark.parametrize(
    ("groups", "desired"),
    [
        ([group("a", 3, max_replicas=2)], 2),  # clamped down to max
        ([group("a", 0, min_replicas=2)], 2),  # clamped up to min
        ([group("a", 1, min_replicas=5, max_replicas=3)], 3),  # min > max: KubeRay uses max
        ([group("a", 2, num_of_hosts=4)], 8),
        ([group("a", 2, suspend=True), group("b", 1)], 1),
        ([], 0),
    ],
)
def test_desired_workers_follow_kuberay_formula(groups: list[dict[str, Any]], desired: int) -> None:
    status = derive_status(raycluster(groups=groups), [], [], NOW)
    assert status.desired_workers == desired


def test_desired_workers_fall_back_to_status_without_spec() -> None:
    rc = {"metadata": {"name": "demo"}, "status": {"desiredWorkerReplicas": 3}}
    assert derive_status(rc, [], [], NOW).desired_workers == 3


def test_worker_failure_is_found_even_when_head_ok_and_sorted_stable() -> None:
    pods = [
        worker("zzzzz", ready=False, containers=[waiting("ray-worker", "ErrImagePull", NOT_FOUND)]),
        head(ready=False, containers=[waiting("ray-head", "ErrImagePull", NOT_FOUND)]),
    ]
    assert derive_status(raycluster(), pods, [], NOW).pod == "demo-head-x7k2p"


def test_init_container_done_then_main_container_creating() -> None:
    pods = [
        head(),
        worker(
            ready=False,
            phase="Pending",
            init=[completed("wait-gcs-ready")],
            containers=[waiting("ray-worker", "ContainerCreating")],
        ),
    ]
    status = derive_status(raycluster(), pods, [], NOW)
    assert status.phase is Phase.CONTAINERS_CREATING
    assert "ray-worker is ContainerCreating" in status.reason


@pytest.mark.parametrize(
    ("reason", "message", "problem"),
    [
        ("ErrImagePull", NOT_FOUND, PullProblem.NOT_FOUND),
        ("ErrImagePull", "manifest unknown: manifest unknown", PullProblem.NOT_FOUND),
        (
            "ErrImagePull",
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed",
            PullProblem.NOT_FOUND_OR_DENIED,
        ),
        ("ErrImagePull", "unexpected status code 403 Forbidden", PullProblem.DENIED),
        ("ErrImagePull", "context deadline exceeded", PullProblem.TIMEOUT),
        (
            "ErrImagePull",
            "dial tcp: lookup r.example on 10.0.0.10:53: no such host",
            PullProblem.UNREACHABLE,
        ),
        ("InvalidImageName", "whatever", PullProblem.INVALID),
        ("ErrImageNeverPull", 'Container image "x" is not present', PullProblem.NEVER_PULL),
        ("ImagePullBackOff", 'Back-off pulling image "x"', PullProblem.UNKNOWN),
    ],
)
def test_pull_errors_are_classified_from_the_kubelet_message(
    reason: str, message: str, problem: PullProblem
) -> None:
    assert classify_pull_error(reason, message) is problem


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("rayproject/ray:9.9.9", PullProblem.NOT_FOUND),
        ("docker.io/krayne/private-ray:1.0", PullProblem.NOT_FOUND_OR_DENIED),
        ("ghcr.io/someone/secret-ray:1.0", PullProblem.DENIED),
        ("registry.internal.example:5000/ray:2.53.0", PullProblem.TIMEOUT),
        ("registry.nowhere.invalid/ray:2.53.0", PullProblem.UNREACHABLE),
    ],
)
def test_sandbox_pull_errors_read_like_containerd_and_are_classified(
    image: str, problem: PullProblem
) -> None:
    """The sandbox copies containerd's wording; classifying it proves the patterns match."""
    from core.sandbox.sim.images import ImageCatalogue
    from core.sandbox.sim.simconfig import ImageCatalogueConfig

    result = ImageCatalogue(ImageCatalogueConfig()).resolve(image)
    message = f'Failed to pull image "{image}": {result.error}'
    assert classify_pull_error("ErrImagePull", message) is problem, message


# --- totality: arbitrary, partial and null-ridden objects never make it raise --------------

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "True",
            "False",
            "Running",
            "Pending",
            "head",
            "worker",
            "CrashLoopBackOff",
            "ErrImagePull",
            "OOMKilled",
            "Unschedulable",
            "2026-11-25T11:00:00Z",
            "4Gi",
            "500m",
            "demo",
        ]
    )
)
_KEYS = [
    "metadata", "spec", "status", "name", "labels", "ray.io/node-type", "deletionTimestamp",
    "suspend", "workerGroupSpecs", "replicas", "minReplicas", "maxReplicas", "numOfHosts",
    "conditions", "type", "reason", "message", "phase", "containerStatuses",
    "initContainerStatuses", "state", "waiting", "running", "terminated", "lastState",
    "restartCount", "exitCode", "finishedAt", "containers", "resources", "requests",
    "involvedObject", "kind", "lastTimestamp", "creationTimestamp", "nodeName",
]  # fmt: skip
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(
    rc=_json,
    pods=st.lists(_json, max_size=4),
    events=st.lists(_json, max_size=3),
    when=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_derive_status_never_raises_and_always_explains(
    rc: Any, pods: list[Any], events: list[Any], when: datetime
) -> None:
    status = derive_status(rc, pods, events, when)
    assert isinstance(status, ClusterStatus)
    assert status.reason.strip()
    assert status.desired_workers >= 0 and status.ready_workers >= 0


@settings(max_examples=100, deadline=None)
@given(
    pods=st.lists(
        st.builds(
            lambda i, ready, phase: worker(f"p{i:04d}", ready=ready, phase=phase),
            st.integers(0, 9999),
            st.booleans(),
            st.sampled_from(["Running", "Pending", "Failed"]),
        ),
        max_size=5,
    )
)
def test_ready_never_claimed_unless_head_and_all_desired_workers_ready(pods: list[Any]) -> None:
    status = derive_status(raycluster(groups=[group("worker", 3)]), [head(), *pods], [], NOW)
    if status.phase is Phase.READY:
        assert status.head_ready and status.ready_workers >= 3
