"""The bot runs with exactly deploy/'s RBAC: the whole lifecycle works, and every verb is needed.

Each test starts a sandbox that enforces RBAC, loads the Roles and RoleBindings rendered from
deploy/, and drives the bot's own code path (core.api over core.kube_asyncio) with a token for
the rendered ServiceAccount: no admin credentials anywhere on the client side.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import aiohttp
import pytest
import yaml
from kubernetes_asyncio.client import (
    ApiClient,
    Configuration,
    CoordinationV1Api,
    V1Lease,
    V1LeaseSpec,
    V1ObjectMeta,
)
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import load_kube_config

from core import api, thread_index
from core.audit import AuditRecord, audit
from core.config import ClusterConfig, build_config
from core.errors import ClusterAlreadyExistsError, ClusterNotFoundError, PermissionDeniedError
from core.kube import WatchKind
from core.kube_asyncio import KubernetesAsyncioClient
from core.state import SLACK_THREAD_TS
from core.status import Phase
from core.watching import ClusterWatcher
from manifests.labels import RAY_CLUSTER, RAY_NODE_TYPE
from manifests.raycluster import services_secret_name
from tests.deploy.deployfiles import ROOT
from tests.deploy.rbac_env import Deployed, bot_account, deployed, managed_role, rbac_objects

NAME = "demo"
NO_SERVICES = {"notebook": False, "code_server": False, "ssh": False}
WITH_NOTEBOOK = {"notebook": True, "code_server": False, "ssh": False}


def _config(namespace: str, *, services: dict[str, bool] = NO_SERVICES, gpus: int = 0,
            name: str = NAME) -> ClusterConfig:
    group: dict[str, Any] = {"name": "worker", "replicas": 1, "max_replicas": 4, "gpus": gpus}
    return build_config(
        {"name": name, "namespace": namespace, "worker_groups": [group], "services": services}
    )


def _head_pod(env: Deployed, name: str = NAME) -> str:
    pods, _ = env.sandbox.store.list(
        "pods", env.namespace, label_selector=f"{RAY_CLUSTER}={name},{RAY_NODE_TYPE}=head"
    )
    assert pods, f"no head pod for {name}"
    return str(pods[0]["metadata"]["name"])


async def _until_gone(env: Deployed, name: str) -> None:
    async with asyncio.timeout(20):
        while True:
            try:
                await api.get_cluster(name, env.namespace, client=env.client)
            except ClusterNotFoundError:
                return
            await asyncio.sleep(0.05)


async def test_bot_identity_runs_create_ready_scale_delete(tmp_path: Path) -> None:
    async with deployed(tmp_path, with_kubectl=True) as env:
        ns, client = env.namespace, env.client
        created = await api.create_cluster(
            _config(ns, services=WITH_NOTEBOOK), client=client, owner="U1"
        )
        assert created.owner == "U1"
        ready = await api.wait_until_ready(NAME, ns, client=client, timeout=60)
        assert ready.phase is Phase.READY

        scaled = await api.scale_cluster(NAME, ns, "worker", 2, client=client)
        assert scaled.desired_workers == 2
        ready = await api.wait_until_ready(NAME, ns, client=client, timeout=60)
        assert ready.ready_workers == 2

        await api.annotate_cluster(NAME, ns, {SLACK_THREAD_TS: "1700000000.0001"}, client=client)
        details = await api.describe_cluster(NAME, ns, client=client)
        assert details.summary.status.phase is Phase.READY
        (row,) = await api.list_clusters(ns, client=client)
        assert row.name == NAME and row.ready_workers == 2
        log = await client.read_pod_log(_head_pod(env), ns, container="ray-head", tail_lines=5)
        assert isinstance(log, str)

        watcher = ClusterWatcher(client, [ns])
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(watcher.run(), name="rbac-watcher")
            assert await watcher.wait_synced(10)
            assert watcher.get(ns, NAME) is not None
            task.cancel()

        secret = env.sandbox.store.get("secrets", ns, services_secret_name(NAME))
        owners = secret["metadata"].get("ownerReferences") or []
        assert [o["kind"] for o in owners] == ["RayCluster"], "the Secret goes with its cluster"

        await _audit(env)
        events, _ = env.sandbox.store.list("events", ns)
        assert any(e.get("reason") == "SlackScale" for e in events), "the audit trail is kept"

        await api.delete_cluster(NAME, ns, client=client)
        await _until_gone(env, NAME)
        assert env.denied == []


async def test_bot_identity_gets_nothing_outside_its_namespace(tmp_path: Path) -> None:
    async with deployed(tmp_path) as env:
        with pytest.raises(PermissionDeniedError, match="at the cluster scope"):
            await api.list_clusters(None, client=env.client)
        with pytest.raises(PermissionDeniedError, match='in the namespace "kube-system"'):
            await api.list_clusters("kube-system", client=env.client)
        # The first write of a create is the Ray token Secret, made before the RayCluster.
        with pytest.raises(PermissionDeniedError, match='cannot create resource "secrets"'):
            await api.create_cluster(_config("kube-system"), client=env.client)


# ------------------------------------------------------------------- every verb is needed
Prepare = Literal["nothing", "cluster", "ready", "pending"]
Run = Callable[[Deployed], Awaitable[Any]]


@dataclass(frozen=True)
class Need:
    """Without ``verb`` on ``resource``, ``operation`` fails (or, if ``logged``, goes on but logs
    the refusal: a best-effort step such as handing a Secret to its cluster)."""

    resource: str
    verb: str
    operation: str
    prepare: Prepare
    run: Run
    logged: bool = False
    raises: type[Exception] | None = PermissionDeniedError


def _create(services: dict[str, bool] = NO_SERVICES) -> Run:
    return lambda env: api.create_cluster(
        _config(env.namespace, services=services), client=env.client, owner="U1"
    )


async def _audit(env: Deployed) -> None:
    raycluster = await env.client.get_raycluster(NAME, env.namespace)
    record = AuditRecord("scale", "U1", "T1", "C1", "/krayne scale demo --workers 2", NAME,
                         env.namespace, "ok")  # fmt: skip
    await audit(record, client=env.client, raycluster=raycluster)


def _wait(env: Deployed) -> Awaitable[Any]:
    return api.wait_until_ready(NAME, env.namespace, client=env.client, timeout=30)


NEEDS = [
    Need("rayclusters", "get", "/krayne describe", "cluster",
         lambda env: api.describe_cluster(NAME, env.namespace, client=env.client)),
    Need("rayclusters", "list", "/krayne list", "nothing",
         lambda env: api.list_clusters(env.namespace, client=env.client)),
    Need("rayclusters", "watch", "waiting for ready (watch)", "pending", _wait),
    Need("rayclusters", "create", "/krayne create", "nothing", _create()),
    Need("rayclusters", "update", "/krayne scale (replace with resourceVersion)", "cluster",
         lambda env: api.scale_cluster(NAME, env.namespace, "worker", 2, client=env.client)),
    Need("rayclusters", "patch", "recording the Slack thread (annotations)", "cluster",
         lambda env: api.annotate_cluster(NAME, env.namespace, {SLACK_THREAD_TS: "1.2"},
                                          client=env.client)),
    Need("rayclusters", "delete", "/krayne delete", "cluster",
         lambda env: api.delete_cluster(NAME, env.namespace, client=env.client)),
    Need("pods", "list", "/krayne list (pods of every cluster)", "nothing",
         lambda env: api.list_clusters(env.namespace, client=env.client)),
    Need("pods", "watch", "waiting for ready (pods)", "pending", _wait),
    Need("pods/log", "get", "quoting a crash loop's log", "ready",
         lambda env: env.client.read_pod_log(_head_pod(env), env.namespace, container="ray-head")),
    Need("events", "list", "/krayne describe (events)", "cluster",
         lambda env: api.describe_cluster(NAME, env.namespace, client=env.client)),
    Need("events", "watch", "waiting for ready (warnings)", "pending", _wait),
    Need("events", "create", "the audit Event on a RayCluster", "cluster", lambda env: _audit(env),
         logged=True, raises=None),
    Need("secrets", "create", "/krayne create with a notebook token", "nothing",
         _create(WITH_NOTEBOOK)),
    Need("secrets", "patch", "handing the token Secret to its cluster", "nothing",
         _create(WITH_NOTEBOOK), logged=True, raises=None),
    Need("secrets", "delete", "removing the token Secret of a refused create", "cluster",
         _create(WITH_NOTEBOOK), logged=True, raises=ClusterAlreadyExistsError),
    Need("configmaps", "create", "the thread index, on first use", "cluster",
         lambda env: _link(env), logged=True, raises=None),
    Need("configmaps", "patch", "recording a thread in the index", "cluster",
         lambda env: _link(env), logged=True, raises=None),
    Need("configmaps", "get", "reading the thread index at start", "nothing",
         lambda env: thread_index.entries(env.client, env.namespace)),
]


async def _link(env: Deployed) -> None:
    await api.link_thread(NAME, env.namespace, channel="C1", thread_ts="1.2", owner="U1",
                          client=env.client)  # fmt: skip


def _granted(*, every_role: bool = False) -> set[tuple[str, str]]:
    """What the managed namespace's Role grants (``every_role``: the Lease's Role too)."""
    objects = rbac_objects()
    roles = [o for o in objects if o["kind"] == "Role"] if every_role else [managed_role(objects)]
    return {
        (resource, verb)
        for role in roles
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _without(rules: list[dict[str, Any]], resource: str, verb: str) -> list[dict[str, Any]]:
    """The rules minus one verb on one resource (a rule left with no verbs disappears)."""
    out = []
    for rule in rules:
        if resource not in rule["resources"] or verb not in rule["verbs"]:
            out.append(rule)
            continue
        others = [r for r in rule["resources"] if r != resource]
        if others:
            out.append({**rule, "resources": others})
        verbs = [v for v in rule["verbs"] if v != verb]
        if verbs:
            out.append({**rule, "resources": [resource], "verbs": verbs})
    return out


async def _prepare(env: Deployed, prepare: Prepare) -> None:
    if prepare == "nothing":
        return
    # "pending" asks for more GPUs than any node has: it stays unschedulable, so waiting must watch.
    config = _config(env.namespace, gpus=16 if prepare == "pending" else 0)
    await api.create_cluster(config, client=env.client, owner="U1")
    if prepare == "ready":
        await api.wait_until_ready(NAME, env.namespace, client=env.client, timeout=60)


def test_every_granted_verb_is_needed_by_a_named_operation() -> None:
    assert {(n.resource, n.verb) for n in NEEDS} == _granted()


# What each KubernetesAsyncioClient method asks of the API server. A new method must be added
# here, and the Role follows from which methods the code calls.
CLIENT_METHODS: dict[str, set[tuple[str, str]]] = {
    "get_raycluster": {("rayclusters", "get")},
    "list_rayclusters": {("rayclusters", "list")},
    "create_raycluster": {("rayclusters", "create")},
    "replace_raycluster": {("rayclusters", "update")},
    "patch_raycluster": {("rayclusters", "patch")},
    "delete_raycluster": {("rayclusters", "delete")},
    "list_pods": {("pods", "list")},
    "list_events": {("events", "list")},
    "read_pod_log": {("pods/log", "get")},
    "get_secret": {("secrets", "get")},
    "create_secret": {("secrets", "create")},
    "patch_secret": {("secrets", "patch")},
    "delete_secret": {("secrets", "delete")},
    "create_event": {("events", "create")},
    "get_configmap": {("configmaps", "get")},
    "create_configmap": {("configmaps", "create")},
    "patch_configmap": {("configmaps", "patch")},
    "watch": {(kind, "watch") for kind in get_args(WatchKind)},
    # kubernetes-asyncio's LeaseLock: read, create once, replace to renew (and to release).
    "elect": {("leases", "get"), ("leases", "create"), ("leases", "update")},
    "release_lease": {("leases", "get"), ("leases", "update")},
}


def test_role_grants_exactly_what_the_code_calls() -> None:
    public = {
        name for name in vars(KubernetesAsyncioClient)
        if not name.startswith("_") and name not in ("server", "close")
    }
    assert public == set(CLIENT_METHODS), "map the client's new methods in CLIENT_METHODS"
    calls = re.compile(r"\.(" + "|".join(CLIENT_METHODS) + r")\(")
    called: set[str] = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "core").rglob("*.py")]:
        if "sandbox" in path.parts or path.name in ("kube_asyncio.py", "kube.py"):
            continue
        called |= set(calls.findall(path.read_text()))
    needed = set().union(*(CLIENT_METHODS[m] for m in called))
    assert needed == _granted(every_role=True)


@pytest.mark.parametrize("need", NEEDS, ids=lambda n: f"{n.resource}:{n.verb}")
async def test_removing_a_verb_breaks_its_operation_with_a_clear_error(
    need: Need, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = f'cannot {need.verb} resource "{need.resource}"'
    async with deployed(tmp_path) as env:
        await _prepare(env, need.prepare)
        env.set_rules(_without(managed_role(env.objects)["rules"], need.resource, need.verb))
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            if need.raises is None:
                await need.run(env)
            else:
                with pytest.raises(need.raises) as caught:
                    await need.run(env)
    if need.logged:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any(expected in w for w in warnings), f"{need.operation}: {warnings}"
    else:
        assert isinstance(caught.value, PermissionDeniedError)
        assert expected in str(caught.value), f"{need.operation}: {caught.value}"


def _message(err: ApiException) -> str:
    return str(json.loads(err.body or "{}")["message"])


# ---------------------------------------------------------------------- the leader election
# The calls kubernetes-asyncio's LeaseLock makes (get, create, replace), as the deployed bot.
async def test_leader_election_lets_the_bot_hold_a_lease_in_its_namespace_only(
    tmp_path: Path,
) -> None:
    async with deployed(tmp_path) as env:
        bot_namespace, _ = bot_account(env.objects)
        lease = V1Lease(
            metadata=V1ObjectMeta(name="krayne-bot"),
            spec=V1LeaseSpec(holder_identity="krayne-bot-0", lease_duration_seconds=15),
        )
        configuration = Configuration()
        await load_kube_config(str(env.kubeconfig), client_configuration=configuration)
        async with ApiClient(configuration) as api_client:
            leases = CoordinationV1Api(api_client)
            created = await leases.create_namespaced_lease(bot_namespace, lease)
            got = await leases.read_namespaced_lease("krayne-bot", bot_namespace)
            got.spec.holder_identity = "krayne-bot-1"
            renewed = await leases.replace_namespaced_lease("krayne-bot", bot_namespace, got)
            assert created.spec.holder_identity == "krayne-bot-0"
            assert renewed.spec.holder_identity == "krayne-bot-1"
            with pytest.raises(ApiException) as caught:
                await leases.create_namespaced_lease(env.namespace, lease)
            assert caught.value.status == 403
            assert 'cannot create resource "leases"' in _message(caught.value)
            with pytest.raises(ApiException) as caught:
                await leases.delete_namespaced_lease("krayne-bot", bot_namespace)
            assert 'cannot delete resource "leases"' in _message(caught.value)


# ------------------------------------------------------------------------------ on the wire
async def test_refusals_are_the_api_servers_status_objects(tmp_path: Path) -> None:
    async with deployed(tmp_path) as env, aiohttp.ClientSession() as http:
        url = f"{env.sandbox.url}/apis/ray.io/v1/namespaces/kube-system/rayclusters"
        token = yaml.safe_load(env.kubeconfig.read_text())["users"][0]["user"]["token"]
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 403
            forbidden = await response.json()
        async with http.get(url, headers={"Authorization": "Bearer not-a-token"}) as response:
            assert response.status == 401
            unauthorized = await response.json()
    assert forbidden["kind"] == "Status" and forbidden["status"] == "Failure"
    assert (forbidden["code"], forbidden["reason"]) == (403, "Forbidden")
    assert forbidden["message"] == (
        'rayclusters.ray.io is forbidden: User "system:serviceaccount:krayne:krayne-bot" '
        'cannot list resource "rayclusters" in API group "ray.io" in the namespace "kube-system"'
    )
    assert forbidden["details"]["kind"] == "rayclusters"
    assert forbidden["details"]["group"] == "ray.io"
    assert (unauthorized["code"], unauthorized["reason"]) == (401, "Unauthorized")


class _Seen(logging.Handler):
    """Sets ``event`` when a log record containing ``needle`` is emitted."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.WARNING)
        self.needle = needle
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.event.set()


async def test_without_a_list_grant_the_watcher_never_syncs_and_logs_the_refusal(
    tmp_path: Path,
) -> None:
    """What an operator sees when the Role misses a rule: /readyz stays 503 (the watcher is not
    synced) and the log names the refused request."""
    seen = _Seen('cannot list resource "pods" in API group "" in the namespace')
    logging.getLogger().addHandler(seen)
    try:
        async with deployed(tmp_path) as env:
            env.set_rules(_without(managed_role(env.objects)["rules"], "pods", "list"))
            watcher = ClusterWatcher(env.client, [env.namespace])
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(watcher.run(), name="rbac-watcher")
                async with asyncio.timeout(20):
                    await seen.event.wait()
                assert not watcher.synced
                task.cancel()
    finally:
        logging.getLogger().removeHandler(seen)
