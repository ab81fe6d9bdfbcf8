"""The async lifecycle API: free functions, the Kubernetes client injected, frozen results.

Every function talks to Kubernetes only through ``KubeClient`` and lets only ``KrayneError``s out.
The result types live in ``core.cluster_info`` (with the pure builders) and are re-exported here;
the scale rules are in ``core.scaling``; the Secrets a cluster reads in ``core.cluster_secrets``;
``wait_until_ready`` is in ``core.waiting``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from core import thread_index
from core.cluster_info import (
    ClusterDetails,
    ClusterSummary,
    EventInfo,
    HeadInfo,
    SlackRef,
    WorkerGroupInfo,
    details_from,
    pods_by_cluster,
    summary_from,
    warning_events,
)
from core.cluster_secrets import (
    create_own_secret,
    discard_secrets,
    hand_secret_to,
    own_secrets,
    surely_absent,
)
from core.config import ClusterConfig
from core.errors import (
    Conflict,
    ConflictError,
    KrayneError,
)
from core.kube import MANAGED_BY_SELECTOR, KubeClient, Obj
from core.scaling import (
    GroupScale,
    apply_scale,
    autoscaling_enabled,
    current_scale,
    pick_group,
    plan_scale,
)
from core.state import (
    SCALE_REQUESTS,
    SCALED_BY,
    scale_requests_with,
    scaled_by_request,
    state_patch,
)
from core.waiting import wait_until_ready
from manifests import labels
from manifests.raycluster import (
    DEFAULT_PYTHON_TAG,
    DEFAULT_RAY_VERSION,
    GPU_TYPE_LABEL,
    build_raycluster,
)

__all__ = [
    "ScaleResult",
    "scale_group",
    "ClusterDetails",
    "ClusterSummary",
    "EventInfo",
    "HeadInfo",
    "SlackRef",
    "WorkerGroupInfo",
    "annotate_cluster",
    "create_cluster",
    "delete_cluster",
    "describe_cluster",
    "get_cluster",
    "list_clusters",
    "scale_cluster",
    "wait_until_ready",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")
SCALE_ATTEMPTS = 5  # optimistic writes before ConflictError; each retry re-reads the cluster
WARNINGS_SELECTOR = "type=Warning"


def _now() -> datetime:
    return datetime.now(UTC)


async def _both(first: Coroutine[Any, Any, T], second: Coroutine[Any, Any, U]) -> tuple[T, U]:
    """Run two requests at once; if one fails the other is cancelled and the failure (a
    ``KrayneError`` where there is one, never an ExceptionGroup) is raised."""
    try:
        async with asyncio.TaskGroup() as tg:
            a, b = tg.create_task(first), tg.create_task(second)
    except BaseExceptionGroup as group:
        raise _first_leaf(group)  # noqa: B904 — the leaf keeps its own __cause__ (aiohttp error)
    return a.result(), b.result()


def _first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = list(exc.exceptions)
        else:
            leaves.append(exc)
    return next((e for e in leaves if isinstance(e, KrayneError)), leaves[0])


async def create_cluster(
    config: ClusterConfig,
    *,
    client: KubeClient,
    ray_version: str = DEFAULT_RAY_VERSION,
    owner: str | None = None,
    annotations: dict[str, str] | None = None,
    wait: bool = False,
    timeout: float = 300,  # noqa: ASYNC109 — the contract's name; applied via asyncio.timeout
    python_tag: str = DEFAULT_PYTHON_TAG,
    gpu_type_label: str = GPU_TYPE_LABEL,
    gpu_tolerations: Sequence[Mapping[str, str]] = (),
) -> ClusterSummary:
    """Create the Secrets the cluster reads (services, Ray token), then the RayCluster; a
    refused RayCluster leaves nothing behind, and an existing Secret is never touched.
    ``wait=True`` returns once it is ready (or raises)."""
    name, namespace = config.name, config.namespace
    body = build_raycluster(
        config, ray_version=ray_version, python_tag=python_tag, owner=owner,
        annotations=annotations, gpu_type_label=gpu_type_label, gpu_tolerations=gpu_tolerations,
    )  # fmt: skip
    secrets_wanted = own_secrets(config, body, owner)
    made: list[Obj] = []
    try:
        for secret in secrets_wanted:
            made.append(await create_own_secret(client, secret, name, namespace))
    except BaseException:
        await discard_secrets(client, made)  # an earlier Secret of this call: ours to remove
        raise
    try:
        created = await client.create_raycluster(body)
    except BaseException as err:
        if made and await surely_absent(client, name, namespace, err):
            await discard_secrets(client, made)
        raise
    for secret in made:
        await hand_secret_to(client, created, secret)
    if wait:
        await wait_until_ready(name, namespace, client=client, timeout=timeout)
        return await get_cluster(name, namespace, client=client)
    return summary_from(created, [], [], _now())


async def _cluster_objects(
    client: KubeClient, name: str, namespace: str
) -> tuple[Obj, list[Obj], list[Obj]]:
    """The RayCluster, its pods and the namespace's Warning events (3 requests, concurrently)."""
    selector = f"{labels.RAY_CLUSTER}={name}"
    raycluster, (pods, events) = await _both(
        client.get_raycluster(name, namespace),
        _both(
            client.list_pods(namespace, label_selector=selector),
            client.list_events(namespace, field_selector=WARNINGS_SELECTOR),
        ),
    )
    return raycluster, pods["items"], events["items"]


async def get_cluster(name: str, namespace: str, *, client: KubeClient) -> ClusterSummary:
    raycluster, pods, events = await _cluster_objects(client, name, namespace)
    return summary_from(raycluster, pods, warning_events(name, pods, events), _now())


async def list_clusters(
    namespace: str | None = None, *, client: KubeClient, owner: str | None = None,
    managed_only: bool = True,
) -> list[ClusterSummary]:
    """Two LISTs whatever the number of clusters: RayClusters and every Ray pod in the scope.
    Events are not fetched here (``describe_cluster`` has them). ``managed_only=False`` adds
    the RayClusters krayne did not make (``ClusterSummary.managed`` tells them apart)."""
    selector = MANAGED_BY_SELECTOR if managed_only else None
    clusters, pods = await _both(
        client.list_rayclusters(namespace, label_selector=selector),
        client.list_pods(namespace, label_selector=labels.RAY_CLUSTER),
    )
    by_cluster = pods_by_cluster(pods["items"])
    now = _now()
    rows = []
    for raycluster in clusters["items"]:
        meta = raycluster.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        row = summary_from(raycluster, by_cluster.get(key, []), [], now)
        if owner is None or row.owner == owner:
            rows.append(row)
    return sorted(rows, key=lambda r: (r.name, r.namespace))


async def describe_cluster(name: str, namespace: str, *, client: KubeClient) -> ClusterDetails:
    raycluster, pods, events = await _cluster_objects(client, name, namespace)
    return details_from(raycluster, pods, events, _now())


async def scale_cluster(
    name: str,
    namespace: str,
    group: str | None = None,
    replicas: int | None = None,
    *,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    client: KubeClient,
) -> ClusterSummary:
    """Scale one worker group (the Krayne SDK's call); ``scale_group`` says what changed."""
    result = await scale_group(
        name, namespace, group, replicas,
        min_replicas=min_replicas, max_replicas=max_replicas, client=client,
    )  # fmt: skip
    return result.summary


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """What a scale did to one group, so the reply can say it exactly."""

    summary: ClusterSummary
    group: str
    before: GroupScale
    after: GroupScale
    autoscaling: bool
    repeated: bool = False
    """The request had been applied already (Slack's retry of it): nothing was written."""


async def scale_group(
    name: str,
    namespace: str,
    group: str | None = None,
    replicas: int | None = None,
    *,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    client: KubeClient,
    by: str | None = None,
    request: str | None = None,
    delta: int = 0,
) -> ScaleResult:
    """Read, change one group, write back with the read's resourceVersion; on 409 read again
    and re-apply, so a concurrent change to anything else is kept (rules: ``core.scaling``).
    ``by`` (a Slack user) is recorded in the same write, so the thread can tell a scale from
    Slack from one made with kubectl; so is ``request`` (the Slack request asking for it), and
    a read that finds it recorded is a retry of a scale already written: nothing changes
    (``repeated``). The check runs on every read, so two replicas racing with the same
    request write once: the loser's write conflicts and its re-read finds the request.
    ``delta`` (a +1/-1 button, ``replicas`` None) is applied to the replicas of each read, so
    two clicks racing add two workers, not one."""
    repeated = False
    for _attempt in range(SCALE_ATTEMPTS):
        raycluster = await client.get_raycluster(name, namespace)
        index = pick_group(raycluster, group)
        spec = raycluster["spec"]["workerGroupSpecs"][index]
        before = current_scale(spec)
        autoscaling = autoscaling_enabled(raycluster)
        if scaled_by_request(raycluster, request):
            after, repeated = before, True
            break
        wanted = max(0, before.replicas + delta) if replicas is None and delta else replicas
        after = plan_scale(
            before, autoscaling=autoscaling, replicas=wanted,
            min_replicas=min_replicas, max_replicas=max_replicas,
        )  # fmt: skip
        if after == before and all(k in spec for k in ("replicas", "minReplicas", "maxReplicas")):
            break
        try:
            notes = {SCALED_BY: f"{by}:{secrets.token_hex(4)}"} if by else {}
            if request:
                notes[SCALE_REQUESTS] = scale_requests_with(raycluster, request)
            updated = apply_scale(raycluster, index, after, annotations=notes)
            await client.replace_raycluster(updated)
        except Conflict:
            log.info("scale %s/%s: conflict, re-reading (attempt %d)", namespace, name,
                     _attempt + 1)  # fmt: skip
            continue
        break
    else:
        raise ConflictError(
            f"Cluster `{name}` kept changing while it was being scaled "
            f"({SCALE_ATTEMPTS} attempts); nothing was changed."
        )
    summary = await get_cluster(name, namespace, client=client)
    group_name = str(spec.get("groupName", group or ""))
    return ScaleResult(summary, group_name, before, after, autoscaling, repeated)


async def delete_cluster(name: str, namespace: str, *, client: KubeClient) -> None:
    """Delete the RayCluster; its pods, Services and services Secret follow by ownership."""
    await client.delete_raycluster(name, namespace)


async def annotate_cluster(
    name: str, namespace: str, annotations: dict[str, str | None], *, client: KubeClient
) -> Obj | None:
    """Merge-patch annotations (None removes a key): how the bot records Slack thread state.
    Returns the RayCluster as patched."""
    if not annotations:
        return None
    patch = {"metadata": {"annotations": dict(annotations)}}
    return await client.patch_raycluster(name, namespace, patch, patch_type="merge")


async def link_thread(
    name: str, namespace: str, *, channel: str, thread_ts: str, owner: str | None,
    client: KubeClient,
) -> None:  # fmt: skip
    """Record a cluster's Slack thread on it and in the namespace's thread index (which
    outlives the cluster, ``core.thread_index``)."""
    patched = await annotate_cluster(
        name, namespace, state_patch(thread_ts=thread_ts), client=client
    )
    uid = str(((patched or {}).get("metadata") or {}).get("uid") or "")
    if not uid:
        return
    entry = thread_index.ThreadEntry(uid, namespace, name, channel, thread_ts, owner)
    try:
        await thread_index.remember(client, entry)
    except KrayneError as err:  # the thread works; only a delete while the bot is away is missed
        log.warning("thread index: %s/%s not recorded: %s", namespace, name, err.message)


async def set_suspended(
    name: str,
    namespace: str,
    suspended: bool,
    *,
    annotations: dict[str, str | None] | None = None,
    client: KubeClient,
) -> ClusterSummary:
    """Suspend (KubeRay deletes every pod and keeps the definition, ``spec.suspend: true``) or
    resume a cluster, with the bot's bookkeeping annotations in the same merge patch."""
    patch: dict[str, Any] = {"spec": {"suspend": suspended}}
    if annotations:
        patch["metadata"] = {"annotations": dict(annotations)}
    await client.patch_raycluster(name, namespace, patch, patch_type="merge")
    return await get_cluster(name, namespace, client=client)
