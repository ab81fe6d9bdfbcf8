"""The async lifecycle API: free functions, the Kubernetes client injected, frozen results.

Every function talks to Kubernetes only through ``KubeClient`` and lets only ``KrayneError``s out.
The result types live in ``core.cluster_info`` (with the pure builders) and are re-exported here;
the scale rules are in ``core.scaling``; ``wait_until_ready`` is in ``core.waiting``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

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
from core.config import ClusterConfig
from core.errors import (
    AlreadyExists,
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    Conflict,
    ConflictError,
    KrayneError,
    KubeConnectionError,
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
from core.waiting import wait_until_ready
from manifests import labels
from manifests.raycluster import (
    CODE_SERVER_PASSWORD_KEY,
    DEFAULT_PYTHON_TAG,
    DEFAULT_RAY_VERSION,
    GPU_TYPE_LABEL,
    NOTEBOOK_TOKEN_KEY,
    build_raycluster,
    services_secret_name,
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


def _service_tokens(config: ClusterConfig) -> dict[str, str] | None:
    """Random credentials for the services that must never run open (DESIGN §3); ``None`` when
    no service reads the services Secret. ssh needs the Secret too (its authorized keys are
    added there later), so that the name can never resolve to a Secret someone else planted."""
    services = config.services
    if not (services.notebook or services.code_server or services.ssh):
        return None
    tokens: dict[str, str] = {}
    if services.notebook:
        tokens[NOTEBOOK_TOKEN_KEY] = secrets.token_urlsafe(24)
    if services.code_server:
        tokens[CODE_SERVER_PASSWORD_KEY] = secrets.token_urlsafe(24)
    return tokens


def _secret_body(config: ClusterConfig, tokens: dict[str, str], owner: str | None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": services_secret_name(config.name),
            "namespace": config.namespace,
            "labels": labels.cluster_labels(config.name, owner),
        },
        "stringData": tokens,
    }


async def _discard_secret(client: KubeClient, name: str, namespace: str) -> None:
    """Best-effort removal of a Secret we created for a RayCluster that does not exist."""
    try:
        await client.delete_secret(name, namespace)
    except KrayneError as err:
        log.warning("could not delete Secret %s/%s: %s", namespace, name, err)


async def _hand_secret_to(client: KubeClient, raycluster: Obj, secret: Obj) -> None:
    """Make the RayCluster own the services Secret this call created, so deleting the cluster
    deletes it. The patch carries the Secret's resourceVersion: if the object changed since we
    created it, it is no longer ours to touch and the patch is refused (409)."""
    meta = raycluster.get("metadata") or {}
    secret_meta = secret.get("metadata") or {}
    if not meta.get("uid"):
        return
    owner_ref = {
        "apiVersion": raycluster.get("apiVersion", "ray.io/v1"),
        "kind": raycluster.get("kind", "RayCluster"),
        "name": meta["name"],
        "uid": meta["uid"],
    }
    patch: Obj = {"metadata": {"ownerReferences": [owner_ref]}}
    if secret_meta.get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = secret_meta["resourceVersion"]
    try:
        await client.patch_secret(str(secret_meta.get("name")), meta["namespace"], patch)
    except KrayneError as err:  # the cluster works; only garbage collection of the Secret is lost
        log.warning("could not set the owner of Secret %s: %s", secret_meta.get("name"), err)


def _secret_in_the_way(secret_name: str, namespace: str) -> AlreadyExists:
    """The refusal when ``<name>-services`` exists but no cluster of that name does: it is not
    ours (or a leftover of a create that died), and krayne never adopts or changes it."""
    return AlreadyExists(
        f"A Secret `{secret_name}` already exists in namespace `{namespace}` and krayne did not"
        " create it for this cluster, so it was left alone and nothing was created.",
        hint=(
            "Pick another cluster name. If the Secret is a leftover you no longer need, delete it"
            f" (`kubectl delete secret {secret_name} -n {namespace}`) and try again."
        ),
        status=409,
        reason="AlreadyExists",
    )


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
) -> ClusterSummary:
    """Create the services Secret (if a service reads it), then the RayCluster; a refused
    RayCluster leaves nothing behind, and an existing Secret of that name is never touched.
    ``wait=True`` returns once it is ready (or raises)."""
    name, namespace = config.name, config.namespace
    body = build_raycluster(
        config, ray_version=ray_version, python_tag=python_tag, owner=owner,
        annotations=annotations, gpu_type_label=gpu_type_label,
    )  # fmt: skip
    tokens = _service_tokens(config)
    secret_name = services_secret_name(name)
    created_secret: Obj | None = None
    if tokens is not None:
        try:
            created_secret = await client.create_secret(_secret_body(config, tokens, owner))
        except AlreadyExists:
            # Either the cluster exists (and the Secret is its own), or the Secret belongs to
            # someone else: never adopt, change or mount it (issue 12, hole 1).
            await _raise_if_cluster_exists(client, name, namespace)
            raise _secret_in_the_way(secret_name, namespace) from None
    try:
        created = await client.create_raycluster(body)
    except BaseException as err:
        if created_secret is not None and await _surely_absent(client, name, namespace, err):
            await _discard_secret(client, secret_name, namespace)
        raise
    if created_secret is not None:
        await _hand_secret_to(client, created, created_secret)
    if wait:
        await wait_until_ready(name, namespace, client=client, timeout=timeout)
        return await get_cluster(name, namespace, client=client)
    return summary_from(created, [], [], _now())


async def _surely_absent(client: KubeClient, name: str, namespace: str, err: BaseException) -> bool:
    """After a failed create: is it certain no RayCluster was made? An API refusal says so; after
    a timeout, a lost connection or a cancellation the request may have landed, so look. When
    in doubt the Secret stays; a later create of that name then says how to remove it."""
    if isinstance(err, KrayneError) and not isinstance(err, KubeConnectionError):
        return True
    try:
        await client.get_raycluster(name, namespace)
    except ClusterNotFoundError:
        return True
    except KrayneError:
        return False
    return False


async def _raise_if_cluster_exists(client: KubeClient, name: str, namespace: str) -> None:
    try:
        await client.get_raycluster(name, namespace)
    except ClusterNotFoundError:
        return
    raise ClusterAlreadyExistsError(name, namespace)


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
    namespace: str | None = None, *, client: KubeClient, owner: str | None = None
) -> list[ClusterSummary]:
    """Two LISTs whatever the number of clusters: RayClusters and every Ray pod in the scope.
    Events are not fetched here (``describe_cluster`` has them)."""
    clusters, pods = await _both(
        client.list_rayclusters(namespace, label_selector=MANAGED_BY_SELECTOR),
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


async def scale_group(
    name: str,
    namespace: str,
    group: str | None = None,
    replicas: int | None = None,
    *,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    client: KubeClient,
) -> ScaleResult:
    """Read, change one group, write back with the read's resourceVersion; on 409 read again
    and re-apply, so a concurrent change to anything else is kept (rules: ``core.scaling``)."""
    for _attempt in range(SCALE_ATTEMPTS):
        raycluster = await client.get_raycluster(name, namespace)
        index = pick_group(raycluster, group)
        spec = raycluster["spec"]["workerGroupSpecs"][index]
        before = current_scale(spec)
        autoscaling = autoscaling_enabled(raycluster)
        after = plan_scale(
            before, autoscaling=autoscaling, replicas=replicas,
            min_replicas=min_replicas, max_replicas=max_replicas,
        )  # fmt: skip
        if after == before and all(k in spec for k in ("replicas", "minReplicas", "maxReplicas")):
            break
        try:
            await client.replace_raycluster(apply_scale(raycluster, index, after))
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
    return ScaleResult(summary, group_name, before, after, autoscaling)


async def delete_cluster(name: str, namespace: str, *, client: KubeClient) -> None:
    """Delete the RayCluster; its pods, Services and services Secret follow by ownership."""
    await client.delete_raycluster(name, namespace)


async def annotate_cluster(
    name: str, namespace: str, annotations: dict[str, str | None], *, client: KubeClient
) -> None:
    """Merge-patch annotations (None removes a key): how the bot records Slack thread state."""
    if not annotations:
        return
    patch = {"metadata": {"annotations": dict(annotations)}}
    await client.patch_raycluster(name, namespace, patch, patch_type="merge")
