"""The status vocabulary: phases, the status value, and the settings the rules take.

Kept apart from ``core.status`` so the rule modules (``core.status_waits``) and every reader of a
status share the types without importing the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Phase(StrEnum):
    CREATING = "creating"
    PODS_PENDING = "pods-pending"
    CONTAINERS_CREATING = "containers-creating"
    RUNNING = "running"
    READY = "ready"
    IMAGE_PULL_ERROR = "image-pull-error"
    CRASH_LOOP = "crash-loop"
    UNSCHEDULABLE = "unschedulable"
    FAILED = "failed"
    SUSPENDED = "suspended"
    DELETING = "deleting"
    # Waits that may pass on their own: a node autoscaler adding a node, the kubelet retrying a
    # pull or a container create. Calm, not failures; each escalates after StatusSettings' grace.
    WAITING_FOR_NODE = "waiting-for-node"
    RETRYING = "retrying"
    STALLED = "stalled"  # a pod stuck in Init (its GCS never answered) past the threshold

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES

    @property
    def is_settled(self) -> bool:
        """Nothing more will happen without a user acting (ready, failed, suspended)."""
        return self is Phase.READY or self is Phase.SUSPENDED or self.is_failure


_FAILURES = frozenset(
    {Phase.IMAGE_PULL_ERROR, Phase.CRASH_LOOP, Phase.UNSCHEDULABLE, Phase.FAILED, Phase.STALLED}
)


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    phase: Phase
    reason: str
    hint: str | None = None
    pod: str | None = None
    ready_workers: int = 0
    desired_workers: int = 0
    head_ready: bool = False
    #: When time alone would change this status (a grace period or retry budget ends): the
    #: watcher derives it again then instead of polling. Not part of what the status *is*.
    recheck_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StatusSettings:
    """How long a passing state may last before it is reported as the failure it then is.

    The defaults follow what the platforms do: a node autoscaler needs minutes to add a GPU node
    (cluster-autoscaler's default ``--max-node-provision-time`` is 15 min; Karpenter launches in
    about one); the kubelet's image and container back-off doubles from 10 s to 5 min
    (kubernetes ``pkg/kubelet/images/image_manager.go``, ``backOffPeriod``).
    """

    #: An Unschedulable pod with no autoscaler verdict waits this long where a node autoscaler was
    #: ever seen acting in the cluster…
    node_grace_with_autoscaler: timedelta = timedelta(minutes=10)
    #: …and this long where none was (nothing will add a node: say so soon).
    node_grace_without_autoscaler: timedelta = timedelta(seconds=60)
    #: Transient pull/create errors (rate limits, timeouts) are retried by the kubelet this long
    #: before they are reported as failures.
    retry_budget: timedelta = timedelta(minutes=5)
    #: A pod in Init (waiting for the head's GCS) this long is reported as stalled.
    init_stall_after: timedelta = timedelta(minutes=5)
    #: A node autoscaler was seen acting in this cluster (the watcher remembers it).
    autoscaler_seen: bool = False

    def faster(self, speed: float) -> StatusSettings:
        """Every period divided by ``speed``: for a sandbox whose simulated time runs faster."""
        return replace(
            self,
            node_grace_with_autoscaler=self.node_grace_with_autoscaler / speed,
            node_grace_without_autoscaler=self.node_grace_without_autoscaler / speed,
            retry_budget=self.retry_budget / speed,
            init_stall_after=self.init_stall_after / speed,
        )
