"""``wait_until_ready``: check, then watch, under one timeout (kr8s ``async_wait``), no polling.

A snapshot (the RayCluster, its pods, the namespace's Warning events) is taken and the status
derived; if it is not settled, three watches resume from the snapshot's resourceVersions and the
status is derived again on every event. A watch that ends, expires (410) or drops is not an error:
a new snapshot is taken and the watches restart from it (with a short backoff when that keeps
happening without progress). A 429 is not one either: the next snapshot waits out its Retry-After.

Failing fast: image-pull-error, crash-loop and failed raise ``ClusterFailedError`` on the event
that shows them. ``unschedulable`` does not by default — a cluster autoscaler may be adding a GPU
node, which takes minutes — so the wait goes on and a timeout names the scheduler's message;
``unschedulable_grace=S`` fails once the cluster has been unschedulable for S seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.cluster_info import warning_events
from core.errors import (
    ClusterFailedError,
    ClusterNotFoundError,
    ClusterTimeoutError,
    KrayneError,
    KubeConnectionError,
    TooManyRequests,
    WatchExpiredError,
)
from core.kube import KubeClient, Obj, WatchEvent, WatchKind
from core.status import ClusterStatus, Phase, derive_status
from manifests import labels

FAIL_AT_ONCE = frozenset({Phase.IMAGE_PULL_ERROR, Phase.CRASH_LOOP, Phase.FAILED})
RESYNC_BACKOFF = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)  # seconds before re-snapshot N without progress
WATCH_SECONDS = 300

_Item = tuple[WatchKind, WatchEvent | KrayneError | None]


@dataclass
class _View:
    """The live objects of one cluster, kept current from the watches."""

    name: str
    namespace: str
    raycluster: Obj
    pods: dict[str, Obj]
    events: dict[str, Obj]
    versions: dict[WatchKind, str]
    last: ClusterStatus | None = None
    unschedulable_since: float | None = None
    progress: int = field(default=0)
    retry_after: float | None = None  # a watch's 429 asked to wait this long before re-listing

    def derive(self) -> ClusterStatus:
        pods = list(self.pods.values())
        mine = warning_events(self.name, pods, self.events.values())
        self.last = derive_status(self.raycluster, pods, mine, datetime.now(UTC))
        return self.last

    def keeps_event(self, event: Obj) -> bool:
        involved = event.get("involvedObject") or {}
        name = str(involved.get("name", ""))
        if involved.get("kind") == "RayCluster":
            return name == self.name
        return involved.get("kind") == "Pod" and name.startswith(f"{self.name}-")

    def apply(self, kind: WatchKind, event: WatchEvent) -> None:
        obj, kind_of_change = event["object"], event["type"]
        meta = obj.get("metadata") or {}
        if meta.get("resourceVersion"):
            self.versions[kind] = str(meta["resourceVersion"])
        if kind_of_change == "BOOKMARK":
            return
        self.progress += 1
        if kind == "rayclusters":
            if meta.get("name") != self.name:
                return
            if kind_of_change == "DELETED":
                raise ClusterNotFoundError(self.name, self.namespace)
            self.raycluster = obj
            return
        store = self.pods if kind == "pods" else self.events
        key = str(meta.get("uid") or meta.get("name"))
        if kind_of_change == "DELETED":
            store.pop(key, None)
        elif kind == "pods" or self.keeps_event(obj):
            store[key] = obj


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or meta.get("name"))


async def _snapshot(client: KubeClient, name: str, namespace: str) -> _View:
    raycluster = await client.get_raycluster(name, namespace)
    pods = await client.list_pods(namespace, label_selector=f"{labels.RAY_CLUSTER}={name}")
    events = await client.list_events(namespace, field_selector="type=Warning")
    view = _View(
        name=name,
        namespace=namespace,
        raycluster=raycluster,
        pods={_key(p): p for p in pods["items"]},
        events={},
        versions={
            "rayclusters": str((raycluster.get("metadata") or {}).get("resourceVersion", "")),
            "pods": pods["resourceVersion"],
            "events": events["resourceVersion"],
        },
    )
    view.events = {_key(e): e for e in events["items"] if view.keeps_event(e)}
    return view


def _verdict(view: _View, status: ClusterStatus, grace: float | None) -> ClusterStatus | None:
    """The status if the wait is over with success; raises if it is over with failure."""
    name = view.name
    if status.phase is Phase.READY:
        return status
    if status.phase in FAIL_AT_ONCE:
        raise ClusterFailedError(f"Cluster `{name}` failed: {status.reason}", cluster_status=status)
    if status.phase is Phase.DELETING:
        raise ClusterFailedError(f"Cluster `{name}` is being deleted.", cluster_status=status)
    if status.phase is Phase.SUSPENDED:
        raise ClusterFailedError(
            f"Cluster `{name}` is suspended, so it will not become ready.", cluster_status=status
        )
    now = asyncio.get_running_loop().time()
    if status.phase is not Phase.UNSCHEDULABLE:
        view.unschedulable_since = None
    elif view.unschedulable_since is None:
        view.unschedulable_since = now
    since = view.unschedulable_since
    if grace is not None and since is not None and now - since >= grace:
        raise ClusterFailedError(
            f"Cluster `{name}` cannot be scheduled: {status.reason}", cluster_status=status
        )
    return None


async def _pump(
    client: KubeClient, view: _View, kind: WatchKind, queue: asyncio.Queue[_Item]
) -> None:
    """Feed one watch into the queue; its end or failure is an item too, never an exception."""
    selectors: dict[WatchKind, dict[str, str]] = {
        "rayclusters": {"field_selector": f"metadata.name={view.name}"},
        "pods": {"label_selector": f"{labels.RAY_CLUSTER}={view.name}"},
        "events": {"field_selector": "type=Warning"},
    }
    try:
        async for event in client.watch(
            kind, view.namespace, resource_version=view.versions[kind] or None,
            timeout_seconds=WATCH_SECONDS, **selectors[kind],
        ):  # fmt: skip
            queue.put_nowait((kind, event))
        queue.put_nowait((kind, None))
    except KrayneError as err:
        queue.put_nowait((kind, err))


async def _follow(client: KubeClient, view: _View, grace: float | None) -> ClusterStatus | None:
    """Watch until the verdict is in (returned or raised), or ``None`` when a re-snapshot is due."""
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    kinds: tuple[WatchKind, ...] = ("rayclusters", "pods", "events")
    tasks = [
        asyncio.create_task(_pump(client, view, k, queue), name=f"wait-{view.name}-{k}")
        for k in kinds
    ]
    loop = asyncio.get_running_loop()
    try:
        while True:
            wait: float | None = None
            if grace is not None and view.unschedulable_since is not None:
                wait = max(0.0, view.unschedulable_since + grace - loop.time())
            try:
                kind, item = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                status = view.derive()
            else:
                if isinstance(item, TooManyRequests):
                    view.retry_after = item.retry_after
                    return None
                if item is None or isinstance(item, WatchExpiredError | KubeConnectionError):
                    return None
                if isinstance(item, KrayneError):
                    raise item
                view.apply(kind, item)
                if not queue.empty():  # derive once per burst, not once per event
                    continue
                status = view.derive()
            if (done := _verdict(view, status, grace)) is not None:
                return done
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _pause(stalls: int, retry_after: float | None) -> float:
    """The wait before the next snapshot: the backoff, or a 429's Retry-After if longer."""
    return max(RESYNC_BACKOFF[min(stalls, len(RESYNC_BACKOFF) - 1)], retry_after or 0.0)


async def wait_until_ready(
    name: str,
    namespace: str,
    *,
    client: KubeClient,
    timeout: float = 300,  # noqa: ASYNC109 — the contract's name; applied via asyncio.timeout
    unschedulable_grace: float | None = None,
) -> ClusterStatus:
    """Return the ``ready`` status, or raise ``ClusterFailedError`` (at once on a failure phase),
    ``ClusterTimeoutError`` (naming the last status) or ``ClusterNotFoundError`` (deleted)."""
    view: _View | None = None
    stalls = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    view = await _snapshot(client, name, namespace)
                except TooManyRequests as err:
                    stalls += 1
                    await asyncio.sleep(_pause(stalls, err.retry_after))
                    continue
                if (done := _verdict(view, view.derive(), unschedulable_grace)) is not None:
                    return done
                if (done := await _follow(client, view, unschedulable_grace)) is not None:
                    return done
                stalls = 0 if view.progress else stalls + 1
                await asyncio.sleep(_pause(stalls, view.retry_after))
    except TimeoutError:
        last: Any = view.last if view else None
        where = f": {last.phase.value} — {last.reason}" if last else ""
        raise ClusterTimeoutError(
            f"Cluster `{name}` was not ready after {timeout:g} s{where}",
            hint=last.hint if last and last.hint else None,
        ) from None
