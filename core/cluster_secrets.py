"""The Secrets a RayCluster reads, made by krayne in the same call that creates the cluster.

Services (notebook token, code-server password, ssh keys) and Ray's token (when token
authentication is on) live in Secrets named after the cluster. A Secret of such a name that
already exists is never adopted, changed or mounted: it may be someone else's, or planted to
hand its values to the next cluster of that name (issue 12, hole 1). Each is created fresh,
and only a Secret created in this call is given the RayCluster as its owner.
"""

from __future__ import annotations

import logging
import secrets

from core.config import ClusterConfig
from core.errors import (
    AlreadyExists,
    ClusterAlreadyExistsError,
    ClusterNotFoundError,
    KrayneError,
    KubeConnectionError,
)
from core.kube import KubeClient, Obj
from manifests import labels
from manifests.raycluster import (
    AUTH_TOKEN_KEY,
    CODE_SERVER_PASSWORD_KEY,
    NOTEBOOK_TOKEN_KEY,
    auth_secret_name,
    services_secret_name,
)

log = logging.getLogger("core.api")


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


def _secret_body(name: str, config: ClusterConfig, data: dict[str, str], owner: str | None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": config.namespace,
            "labels": labels.cluster_labels(config.name, owner),
        },
        "stringData": data,
    }


def own_secrets(config: ClusterConfig, raycluster: Obj, owner: str | None) -> list[Obj]:
    """The Secrets the cluster will read, each made by this call with fresh random values: the
    services Secret, and the Ray token Secret when token authentication is on. The operator
    would use any existing Secret of the token's name as it is (``reconcileAuthSecret``), so
    krayne creates it first: one planted beforehand is refused, never trusted."""
    wanted: list[Obj] = []
    tokens = _service_tokens(config)
    if tokens is not None:
        wanted.append(_secret_body(services_secret_name(config.name), config, tokens, owner))
    if (raycluster["spec"].get("authOptions") or {}).get("mode") == "token":
        token = {AUTH_TOKEN_KEY: secrets.token_urlsafe(32)}
        wanted.append(_secret_body(auth_secret_name(config.name), config, token, owner))
    return wanted


async def create_own_secret(client: KubeClient, body: Obj, name: str, namespace: str) -> Obj:
    """Create one of the cluster's Secrets. If the name is taken, either the cluster exists (and
    the Secret is its own) or the Secret is someone else's: never adopt, change or mount it
    (issue 12, hole 1)."""
    try:
        return await client.create_secret(body)
    except AlreadyExists:
        await raise_if_cluster_exists(client, name, namespace)
        raise _secret_in_the_way(body["metadata"]["name"], namespace) from None


async def _discard_secret(client: KubeClient, name: str, namespace: str) -> None:
    """Best-effort removal of a Secret we created for a RayCluster that does not exist."""
    try:
        await client.delete_secret(name, namespace)
    except KrayneError as err:
        log.warning("could not delete Secret %s/%s: %s", namespace, name, err)


async def discard_secrets(client: KubeClient, made: list[Obj]) -> None:
    for secret in made:
        meta = secret.get("metadata") or {}
        await _discard_secret(client, str(meta.get("name")), str(meta.get("namespace")))


async def hand_secret_to(client: KubeClient, raycluster: Obj, secret: Obj) -> None:
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


async def surely_absent(client: KubeClient, name: str, namespace: str, err: BaseException) -> bool:
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


async def raise_if_cluster_exists(client: KubeClient, name: str, namespace: str) -> None:
    try:
        await client.get_raycluster(name, namespace)
    except ClusterNotFoundError:
        return
    raise ClusterAlreadyExistsError(name, namespace)
