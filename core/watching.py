"""The shared cluster informer (DESIGN §6): one watch per kind and namespace, any number of readers.

For every namespace (or all of them) three ``core.informer.Informer`` streams keep a cache of
krayne's RayClusters, every KubeRay pod (``ray.io/cluster`` label — KubeRay does not copy the
RayCluster's labels to its pods) and Warning events. Any change recomputes ``derive_status`` for
the cluster concerned; when its status or annotations changed, a ``ClusterChange`` goes to every
subscriber. API load is three watches per namespace whatever the number of subscribers.

Decisions:

- Nothing is published for a namespace until all three of its streams have listed once, so a
  restarted bot never announces a ready cluster as ``creating`` because its pods were not
  listed yet. Changes seen during a (re-)list are applied as one batch for the same reason.
- Subscribers never slow the informer: each has its own queue holding at most one pending change
  per cluster object (the latest), delivered in the order clusters first changed. A deleted
  cluster and a new one of the same name are different objects (uid) and both are delivered.
- Warning events are optional: if listing them is forbidden (RBAC), clusters are published
  without them instead of never; the events stream keeps retrying.
- A deletion is published with ``deleted=True`` and the last known RayCluster (its annotations
  locate the Slack thread), not ``None``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core import status_reasons as msg
from core.coalesce import CoalescingRunner
from core.errors import KrayneError, PermissionDeniedError
from core.informer import ChangeType, Informer, WatchSettings
from core.kube import MANAGED_BY_SELECTOR, KubeClient, Obj, WatchKind
from core.objects import SCALE_UP_ACTING, SCALE_UP_REFUSED, EventView, PodView
from core.status import ClusterStatus, Phase, StatusSettings, derive_status
from manifests.raycluster import GPU_RESOURCE

__all__ = ["ClusterChange", "ClusterWatcher", "Subscription", "WatchSettings"]

log = logging.getLogger(__name__)

POD_SELECTOR = "ray.io/cluster"  # the label exists: every pod KubeRay made
EVENT_SELECTOR = "type=Warning"
#: Node autoscalers record these on pods as *Normal* events (see core.objects.events): one small
#: stream each, since a field selector cannot ask for several reasons at once.
AUTOSCALER_EVENT_SELECTORS = tuple(
    f"reason={reason}" for reason in sorted(SCALE_UP_ACTING | SCALE_UP_REFUSED)
)
ClusterKey = tuple[str, str]  # (namespace, name)
REFRESH_BATCH = 50  # clusters re-derived between two yields of the periodic refresh
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ClusterChange:
    namespace: str
    name: str
    raycluster: dict[str, Any] | None
    status: ClusterStatus
    deleted: bool
    #: GPUs its scheduled pods hold (what a deletion frees once they are gone).
    gpus_held: int = 0

    @property
    def uid(self) -> str:
        return str(((self.raycluster or {}).get("metadata") or {}).get("uid") or "")

    @property
    def annotations(self) -> dict[str, str]:
        return dict(((self.raycluster or {}).get("metadata") or {}).get("annotations") or {})


class Subscription:
    """An async iterator of changes with per-cluster coalescing; ends when the watcher stops."""

    def __init__(self) -> None:
        self._pending: OrderedDict[tuple[str, str, str], ClusterChange] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._closed = False

    def offer(self, change: ClusterChange) -> None:
        # Replacing keeps the key's place: the latest state, in first-changed order.
        self._pending[(change.namespace, change.name, change.uid)] = change
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ClusterChange:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._pending.popitem(last=False)[1]


class ClusterWatcher:
    """Informer over RayClusters, their pods and Warning events; see the module docstring."""

    def __init__(
        self,
        client: KubeClient,
        namespaces: Sequence[str] | None,
        *,
        settings: WatchSettings = WatchSettings(),  # noqa: B008 - frozen, so sharing is safe
        status: StatusSettings = StatusSettings(),  # noqa: B008 - frozen, so sharing is safe
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.settings = settings
        self.status_settings = status
        self._rechecks: dict[ClusterKey, datetime] = {}
        self._recheck_moved = asyncio.Event()
        self._clock = clock
        self._all_namespaces = namespaces is None
        self._clusters: dict[ClusterKey, Obj] = {}
        self._pods: dict[ClusterKey, dict[str, Obj]] = {}  # (ns, cluster) -> pod name -> pod
        self._pod_cluster: dict[ClusterKey, str] = {}  # (ns, pod) -> cluster name
        self._events: dict[tuple[str, str, str], dict[str, Obj]] = {}  # (ns, kind, name) -> ...
        self._current: dict[ClusterKey, ClusterChange] = {}
        self._dirty: set[ClusterKey] = set()
        # Changes to one cluster in a burst are derived once, big clusters within a CPU share.
        self._deriving = CoalescingRunner(self._derive_marked, share=settings.derive_share)
        self._subscribers: set[Subscription] = set()
        self._synced = asyncio.Event()
        self._closed = False
        self._started = False
        self._scopes: dict[str | None, list[Informer]] = {}
        self._unsynced: set[Informer] = set()
        self._recovering: set[Informer] = set()  # failed since their last complete list
        for scope in list(dict.fromkeys(namespaces)) if namespaces is not None else [None]:
            self._scopes[scope] = [
                self._informer(scope, "rayclusters", self._on_cluster, label=MANAGED_BY_SELECTOR),
                self._informer(scope, "pods", self._on_pod, label=POD_SELECTOR),
                *(
                    self._informer(scope, "events", self._on_event, field=field, optional=True)
                    for field in (EVENT_SELECTOR, *AUTOSCALER_EVENT_SELECTORS)
                ),
            ]
            self._unsynced.update(self._scopes[scope])
        if not self._unsynced:  # an empty namespace list watches nothing and is synced at once
            self._synced.set()

    # -- public API -------------------------------------------------------------------------

    @property
    def informers(self) -> list[Informer]:
        return [i for streams in self._scopes.values() for i in streams]

    @property
    def synced(self) -> bool:
        """True once every stream has listed, and none has failed since its last list (for
        /readyz: a stream backing off from API errors serves a cache that may be stale)."""
        return self._synced.is_set() and not self._recovering

    async def wait_synced(self, timeout: float | None) -> bool:  # noqa: ASYNC109 - contract
        """Wait for the first full list of every stream; False if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Watch until cancelled; every task is owned by one TaskGroup and ends with it."""
        if self._started:
            raise RuntimeError("ClusterWatcher.run() may be called only once")
        self._started = True
        try:
            async with asyncio.TaskGroup() as tasks:
                for informer in self.informers:
                    tasks.create_task(informer.run(), name=f"krayne-watch-{informer.name}")
                tasks.create_task(self._recompute_periodically(), name="krayne-watch-recompute")
        finally:
            self._closed = True
            self._deriving.close()
            for subscription in list(self._subscribers):
                subscription.close()

    @asynccontextmanager
    async def subscribe(self, *, replay: bool = False) -> AsyncIterator[Subscription]:
        """Changes from now on (and, with ``replay``, every known cluster first)."""
        subscription = Subscription()
        if replay:
            for change in self.snapshot():
                subscription.offer(change)
        if self._closed:
            subscription.close()
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def holds(self, namespace: str) -> bool:
        """The cache answers for ``namespace``: it is watched, every stream has listed, and
        neither the RayCluster nor the pod stream is failing (a stale cache asks the API)."""
        scope = self._scope_of(namespace)
        if scope not in self._scopes or self._closed or not self._settled(scope):
            return False
        return not any(i.failing for i in self._scopes[scope][:2])  # events are optional

    def snapshot(self) -> list[ClusterChange]:
        return [self._current[key] for key in sorted(self._current)]

    def get(self, namespace: str, name: str) -> ClusterChange | None:
        return self._current.get((namespace, name))

    def pods_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        pods = self._pods.get((namespace, name), {})
        return [pods[pod] for pod in sorted(pods)]

    def events_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The cluster's and its pods' recent Warning events, newest first, at most N."""
        keys = [(namespace, "RayCluster", name)]
        keys += [(namespace, "Pod", pod) for pod in self._pods.get((namespace, name), {})]
        found = [e for key in keys for e in self._events.get(key, {}).values()]
        found = [e for e in found if not self._too_old(e)]
        found.sort(key=_seen, reverse=True)
        return found[: self.settings.events_per_cluster]

    # -- informer callbacks ----------------------------------------------------------------

    def _informer(
        self,
        scope: str | None,
        kind: WatchKind,
        handler: Callable[[ChangeType, Obj], None],
        *,
        label: str | None = None,
        field: str | None = None,
        optional: bool = False,
    ) -> Informer:
        def failed(error: KrayneError) -> None:
            # Warnings only sharpen reasons: if RBAC forbids them, publish without them rather
            # than never (the informer keeps retrying, so granting access later is picked up).
            if optional and isinstance(error, PermissionDeniedError):
                if informer in self._unsynced:
                    log.error("%s: %s; cluster status will go without events", informer.name, error)
                    self._on_synced(informer)
                return
            self._recovering.add(informer)

        informer = Informer(
            self.client,
            kind,
            scope,
            on_change=handler,
            on_synced=lambda: self._on_synced(informer),
            on_error=failed,
            label_selector=label,
            field_selector=field,
            settings=self.settings,
        )
        return informer

    def _on_cluster(self, change: ChangeType, obj: Obj) -> None:
        namespace, name = _ns_name(obj)
        if change == "DELETED":
            self._clusters.pop((namespace, name), None)
        else:
            self._clusters[(namespace, name)] = obj
        # At once, not coalesced: a delete and a re-create in one burst are both published.
        self._mark((namespace, name), now=True)

    def _on_pod(self, change: ChangeType, obj: Obj) -> None:
        namespace, pod = _ns_name(obj)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        cluster = str(labels.get(POD_SELECTOR) or "")
        previous = self._pod_cluster.pop((namespace, pod), None)
        if previous is not None:
            self._pods.get((namespace, previous), {}).pop(pod, None)
            if not self._pods.get((namespace, previous), True):
                del self._pods[(namespace, previous)]
            if previous != cluster:
                self._mark((namespace, previous))
        if change == "DELETED":
            self._events.pop((namespace, "Pod", pod), None)  # a gone pod's warnings are moot
        elif cluster:
            self._pod_cluster[(namespace, pod)] = cluster
            self._pods.setdefault((namespace, cluster), {})[pod] = obj
        if cluster:
            self._mark((namespace, cluster))

    def _on_event(self, change: ChangeType, obj: Obj) -> None:
        about = obj.get("involvedObject") or obj.get("regarding") or {}
        kind, name = str(about.get("kind") or ""), str(about.get("name") or "")
        namespace = str(about.get("namespace") or _ns_name(obj)[0])
        if kind not in ("RayCluster", "Pod") or not name:
            return
        seen = self.status_settings.autoscaler_seen
        if not seen and kind == "Pod" and EventView.parse(obj).from_node_autoscaler:
            # Once a node autoscaler has acted here, Unschedulable pods get its long grace.
            self.status_settings = replace(self.status_settings, autoscaler_seen=True)
        key, event_name = (namespace, kind, name), _ns_name(obj)[1]
        if change == "DELETED":
            self._events.get(key, {}).pop(event_name, None)
        elif not self._too_old(obj):
            kept = self._events.setdefault(key, {})
            kept[event_name] = obj
            if len(kept) > self.settings.events_per_cluster:
                newest = sorted(kept.values(), key=_seen, reverse=True)
                self._events[key] = {
                    _ns_name(e)[1]: e for e in newest[: self.settings.events_per_cluster]
                }
        cluster = name if kind == "RayCluster" else self._pod_cluster.get((namespace, name))
        if cluster:
            self._mark((namespace, cluster))

    def _on_synced(self, informer: Informer) -> None:
        self._unsynced.discard(informer)
        self._recovering.discard(informer)
        if not self._unsynced:
            self._synced.set()
        self._flush(informer.namespace)

    # -- derivation and publishing ----------------------------------------------------------

    def _scope_of(self, namespace: str) -> str | None:
        return None if self._all_namespaces else namespace

    def _settled(self, scope: str | None) -> bool:
        """Every stream of the scope has listed and none is in the middle of a list."""
        return all(i not in self._unsynced and not i.listing for i in self._scopes.get(scope, []))

    def _mark(self, key: ClusterKey, *, now: bool = False) -> None:
        if self._settled(self._scope_of(key[0])):
            if now:
                self._recompute(key)
            else:
                self._deriving.mark(key)
        else:
            self._dirty.add(key)

    def _derive_marked(self, key: Any) -> None:
        if self._closed:
            return
        if self._settled(self._scope_of(key[0])):
            self._recompute(key)
        else:  # a re-list began meanwhile: derived with its batch
            self._dirty.add(key)

    def _flush(self, scope: str | None) -> None:
        if not self._settled(scope):
            return
        for key in sorted(k for k in self._dirty if self._scope_of(k[0]) == scope):
            self._dirty.discard(key)
            self._recompute(key)

    def _recompute(self, key: ClusterKey) -> None:
        previous = self._current.get(key)
        raycluster = self._clusters.get(key)
        pods = self.pods_of(*key)
        if raycluster is None:
            if previous is not None:
                self._recompute_gone(key, previous, pods)
            return
        events = self.events_of(*key)
        status = derive_status(raycluster, pods, events, self._clock(), self.status_settings)
        self._schedule_recheck(key, status.recheck_at)
        held = _gpus_held(pods) if pods else 0
        change = ClusterChange(*key, raycluster, status, deleted=False, gpus_held=held)
        self._current[key] = change
        if (
            previous is None
            or previous.status != status
            or previous.uid != change.uid
            or previous.annotations != change.annotations
        ):
            self._publish(change)

    def _recompute_gone(
        self, key: ClusterKey, previous: ClusterChange, pods: list[Obj]
    ) -> None:
        """The RayCluster is gone. Its pods are garbage-collected after it (KubeRay sets them
        ownerReferences) and stay Terminating for their grace period, holding GPUs: until the
        last one is gone the cluster is ``deleting``; then it is deleted."""
        freed = max(previous.gpus_held, _gpus_held(pods))
        self._rechecks.pop(key, None)
        if pods:
            left = msg.plural(len(pods), "pod") + (" is" if len(pods) == 1 else " are")
            status = ClusterStatus(Phase.DELETING, msg.DELETING_PODS.format(pods=left))
            change = ClusterChange(*key, previous.raycluster, status, False, gpus_held=freed)
            self._current[key] = change
            if previous.status != status:
                self._publish(change)
            return
        del self._current[key]
        self._deriving.discard(key)
        gone = ClusterStatus(Phase.DELETING, msg.DELETED, pod=None)
        self._publish(ClusterChange(*key, previous.raycluster, gone, True, gpus_held=freed))

    def _publish(self, change: ClusterChange) -> None:
        for subscription in self._subscribers:
            subscription.offer(change)

    def _schedule_recheck(self, key: ClusterKey, when: datetime | None) -> None:
        before = min(self._rechecks.values(), default=None)
        if when is None:
            self._rechecks.pop(key, None)
        else:
            self._rechecks[key] = when
        if when is not None and (before is None or when < before):
            self._recheck_moved.set()

    async def _next_tick(self) -> None:
        """Sleep until the periodic refresh, or the first moment a status changes by time alone
        (a grace period or retry budget ending), whichever comes first."""
        self._recheck_moved.clear()
        wait = self.settings.recompute_interval
        first = min(self._rechecks.values(), default=None)
        if first is not None:
            wait = min(wait, max((first - self._clock()).total_seconds(), 0.0) + 0.001)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._recheck_moved.wait()

    async def _recompute_periodically(self) -> None:
        """Status depends on time (event age, recent crashes, grace periods): derive it again
        when a status says it will change, refresh everything now and then, and forget warnings
        too old to matter."""
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while True:
            await self._next_tick()
            now = self._clock()
            for key in [k for k, when in self._rechecks.items() if when <= now]:
                self._rechecks.pop(key, None)
                if key in self._current and self._settled(self._scope_of(key[0])):
                    self._recompute(key)
            if loop.time() - last_full < self.settings.recompute_interval:
                continue
            last_full = loop.time()
            for about, kept in list(self._events.items()):
                fresh = {name: e for name, e in kept.items() if not self._too_old(e)}
                if fresh:
                    self._events[about] = fresh
                else:
                    del self._events[about]
            for done, key in enumerate(list(self._current), start=1):
                if key in self._current and self._settled(self._scope_of(key[0])):
                    self._recompute(key)
                if done % REFRESH_BATCH == 0:
                    # 1000 clusters take ~0.5 s to derive: in batches, Slack's acks and the
                    # watch streams get the loop in between instead of waiting for all of it.
                    await asyncio.sleep(0)

    def _too_old(self, event: Obj) -> bool:
        age = self._clock() - _seen(event)
        return age > timedelta(seconds=self.settings.event_max_age)


def _gpus_held(pods: list[Obj]) -> int:
    """GPUs asked for by the pods that have a node (they hold them until they are gone)."""
    views = (PodView.parse(p) for p in pods if _asks_for_gpus(p))
    return int(sum(v.requests.get(GPU_RESOURCE, 0) for v in views if v.scheduled))


def _asks_for_gpus(pod: Obj) -> bool:
    """Cheap pre-check: parsing every pod's quantities on each refresh cost more than deriving
    its status, and most pods ask for no GPU."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        if GPU_RESOURCE in (resources.get("requests") or {}) or GPU_RESOURCE in (
            resources.get("limits") or {}
        ):
            return True
    return False


def _ns_name(obj: Obj) -> ClusterKey:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _seen(event: Obj) -> datetime:
    return EventView.parse(event).last_seen or _EPOCH
