"""Which Slack thread belongs to which RayCluster, kept where it outlives the cluster.

The thread's address lives on the RayCluster (``core.state``), and so disappears with it. A
cluster deleted while the bot is down would then never get its "deleted" reply, and its card
would keep live buttons. So the bot also keeps a small index, one ConfigMap per namespace
(``krayne-bot-threads``: key = the cluster's uid, value = compact JSON), and at start-up tells
every indexed thread whose cluster is gone.

Why not a finalizer on the RayCluster (kopf's way): a finalizer holds the cluster — and so its
pods and GPUs, which the garbage collector frees only once the owner is gone — until the bot
removes it; an uninstalled or crash-looping bot would block every delete. The index never
blocks anything; at worst an entry outlives its thread, and the next start cleans it up.

Entries are added and removed with a JSON merge patch of one key, so concurrent writers (any
replica's command, the leader's notifier) never overwrite each other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import AlreadyExists, NotFound
from core.kube import KubeClient

INDEX_NAME = "krayne-bot-threads"
_MANAGED = {"app.kubernetes.io/managed-by": "krayne", "app.kubernetes.io/name": "krayne-bot"}


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    uid: str
    namespace: str
    name: str
    channel: str
    thread_ts: str
    owner: str | None = None

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> ThreadEntry | None:
        try:
            raw = json.loads(text)
            return cls(**{k: raw[k] for k in ("uid", "namespace", "name", "channel",
                                              "thread_ts")}, owner=raw.get("owner"))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None


async def remember(client: KubeClient, entry: ThreadEntry) -> None:
    """Add (or refresh) one cluster's thread; creates the index on first use."""
    patch: dict[str, Any] = {"data": {entry.uid: entry.encode()}}
    try:
        await client.patch_configmap(INDEX_NAME, entry.namespace, patch)
    except NotFound:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": INDEX_NAME, "namespace": entry.namespace, "labels": _MANAGED},
            "data": patch["data"],
        }
        try:
            await client.create_configmap(body)
        except AlreadyExists:  # created meanwhile by another replica: add to it instead
            await client.patch_configmap(INDEX_NAME, entry.namespace, patch)


async def forget(client: KubeClient, namespace: str, uid: str) -> None:
    """Drop one entry (its thread was told the cluster is gone)."""
    try:
        await client.patch_configmap(INDEX_NAME, namespace, {"data": {uid: None}})
    except NotFound:
        return


async def entries(client: KubeClient, namespace: str) -> list[ThreadEntry]:
    """Every indexed thread of ``namespace`` (none if there is no index yet)."""
    try:
        index = await client.get_configmap(INDEX_NAME, namespace)
    except NotFound:
        return []
    found = (ThreadEntry.decode(v) for v in (index.get("data") or {}).values())
    return [e for e in found if e is not None]
