"""The one typed, never-failing reader of RayCluster, Pod and Event JSON.

The API server's objects arrive as plain dicts and may be partial (a pod that was just created has
no ``status``; a fuzzer sends ``null`` anywhere). Every reader here tolerates missing keys and wrong
types. Status, ``/krayne list``, describe, the status card and the notifier all read through these
views, so they cannot disagree on what a cluster is (how many workers, how many GPUs, which images).
"""

from core.objects.events import SCALE_UP_ACTING, SCALE_UP_REFUSED, EventView, cluster_warnings
from core.objects.fields import aware, integer, obj, objs, text, timestamp
from core.objects.pods import (
    CANNOT_START,
    GCS_WAIT_CONTAINER,
    PULL_ERRORS,
    STARTING,
    ContainerView,
    PodView,
    Termination,
    pods_by_cluster,
)
from core.objects.rayclusters import (
    DEFAULT_HEAD_PORTS,
    GroupView,
    HeadView,
    RayClusterView,
    condition,
    desired_workers,
)

__all__ = [
    "CANNOT_START",
    "DEFAULT_HEAD_PORTS",
    "GCS_WAIT_CONTAINER",
    "PULL_ERRORS",
    "SCALE_UP_ACTING",
    "SCALE_UP_REFUSED",
    "STARTING",
    "ContainerView",
    "EventView",
    "GroupView",
    "HeadView",
    "PodView",
    "RayClusterView",
    "Termination",
    "aware",
    "cluster_warnings",
    "condition",
    "desired_workers",
    "integer",
    "obj",
    "objs",
    "pods_by_cluster",
    "text",
    "timestamp",
]
