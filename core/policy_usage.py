"""What the policy counts: the live RayClusters krayne made, read where the bot may look.

Quotas are counted from the API server at the moment of asking (no database to drift): one LIST
per namespace the bot manages (one cluster-wide LIST when it manages all of them), plus the
namespace of the request if it is not among them.
"""

from __future__ import annotations

import asyncio

from core.kube import MANAGED_BY_SELECTOR, KubeClient
from core.objects import RayClusterView


async def live_clusters(
    namespaces: list[str] | None, *, client: KubeClient, also: str | None = None
) -> list[RayClusterView]:
    """krayne's RayClusters in ``namespaces`` (``None``: all) and ``also``."""
    scopes: list[str | None]
    if namespaces is None:
        scopes = [None]
    else:
        scopes = list(dict.fromkeys([*namespaces, *([also] if also else [])]))
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(client.list_rayclusters(ns, label_selector=MANAGED_BY_SELECTOR))
                for ns in scopes
            ]
    except ExceptionGroup as failed:  # the first failure says what went wrong (a KrayneError)
        raise failed.exceptions[0] from None
    return [RayClusterView.parse(item) for task in tasks for item in task.result()["items"]]
