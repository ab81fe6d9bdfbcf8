"""Cluster status: one phase, one human reason, one hint — derived purely from live objects.

The types here are the contract between the API, the watcher and the Slack notifier.
``derive_status`` is a pure function of the RayCluster, its pods and Warning events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


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

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES

    @property
    def is_settled(self) -> bool:
        """Nothing more will happen without a user acting (ready, failed, suspended)."""
        return self is Phase.READY or self is Phase.SUSPENDED or self.is_failure


_FAILURES = frozenset(
    {Phase.IMAGE_PULL_ERROR, Phase.CRASH_LOOP, Phase.UNSCHEDULABLE, Phase.FAILED}
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


def derive_status(
    raycluster: dict[str, Any],
    pods: list[dict[str, Any]],
    events: list[dict[str, Any]],
    now: datetime,
) -> ClusterStatus:
    raise NotImplementedError  # implemented by the status work (issue 3)
