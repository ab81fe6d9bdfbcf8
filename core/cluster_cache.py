"""`list`, `describe` and App Home answered from the shared informer, with no API request.

The ``ClusterWatcher`` already holds every krayne RayCluster, pod and Warning event of the
namespaces it watches, each cluster with its derived status — the same status its Slack thread
shows. Asking the API again for every `/krayne list` cost two LISTs (and ``describe`` a LIST of
the namespace's events) that competed with the acks for the event loop. These readers answer
from that cache; they return None where the cache cannot answer (a namespace not watched, or
not listed yet, or its RayCluster or pod stream failing since its last list), and the caller
asks the API as before.

What the cache does not hold: RayClusters krayne did not make (the watch selects
``managed-by=krayne``). ``--all`` lists them, so it asks the API; ``describe`` of a name the cache
does not know asks the API too, so an unmanaged cluster is still told apart from a missing one.
"""

from __future__ import annotations

from datetime import datetime

from core.cluster_info import ClusterDetails, ClusterSummary, details_from, summary_from
from core.watching import ClusterChange, ClusterWatcher

__all__ = ["cached_details", "cached_summaries"]


def cached_summaries(
    watcher: ClusterWatcher | None, namespace: str, *, owner: str | None, now: datetime
) -> list[ClusterSummary] | None:
    """The rows of `/krayne list` for ``namespace``, sorted like ``api.list_clusters``; None
    when the watcher does not (yet) hold that namespace."""
    if watcher is None or not watcher.holds(namespace):
        return None
    rows = [
        _summary(watcher, change, now)
        for change in watcher.snapshot()
        if change.namespace == namespace and change.raycluster is not None
    ]
    rows = [row for row in rows if owner is None or row.owner == owner]
    return sorted(rows, key=lambda r: (r.name, r.namespace))


def cached_details(
    watcher: ClusterWatcher | None, name: str, namespace: str, *, now: datetime
) -> ClusterDetails | None:
    """What `/krayne describe` shows; None when the cache does not know the cluster (not
    watched, not listed yet, or not krayne's: the caller asks the API)."""
    if watcher is None or not watcher.holds(namespace):
        return None
    change = watcher.get(namespace, name)
    if change is None or change.raycluster is None:
        return None
    pods = watcher.pods_of(namespace, name)
    events = watcher.events_of(namespace, name)
    return details_from(change.raycluster, pods, events, now, status=change.status)


def _summary(watcher: ClusterWatcher, change: ClusterChange, now: datetime) -> ClusterSummary:
    assert change.raycluster is not None
    pods = watcher.pods_of(change.namespace, change.name)
    return summary_from(change.raycluster, pods, [], now, status=change.status)
