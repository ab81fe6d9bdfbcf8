"""The simulated KubeRay operator: reconcile RayClusters into pods and a head Service, keep status.

One reconcile per changed RayCluster (coalesced), triggered like controller-runtime's watches:
RayCluster generation/label/annotation changes and any change to a pod or Service it controls.
Each reconcile does what ``rayClusterReconcile`` does in v1.5.1 — validate (Warning
``InvalidRayClusterSpec`` and no status), autoscaler RBAC, the token Secret (``kuberay_auth``),
head Service, head pod, worker pods per group (create missing, delete surplus only without
autoscaling, honour ``workersToDelete``, replace Failed pods) — then ``calculate_status`` and a
status write only when it changed. A failed pod creation (a per-namespace pod quota) sets
``ReplicaFailure`` and retries after 2 s, as ``DefaultRequeueDuration`` does.

KubeRay creates all missing pods in one reconcile, a request each (seconds for 1000). Here a
reconcile creates at most ``CREATE_BATCH`` and goes on at the next turn of the loop: a
1000-worker cluster no longer holds the sandbox's API server for a second.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import clone, format_time, generate_name
from core.sandbox.sim.kuberay_auth import add_token_env, ensure_auth_secret, validate_auth
from core.sandbox.sim.kuberay_pods import (
    build_head_pod,
    build_head_service,
    build_worker_pod,
    desired_replicas,
    head_service_name,
    is_autoscaling,
    owner_reference,
    validate,
    validate_metadata,
)
from core.sandbox.sim.kuberay_status import calculate_status, status_changed
from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simloop import SimTimers, WorkQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]
COMPONENT = "raycluster-controller"
REQUEUE_SECONDS = 2.0
CREATE_BATCH = 20  # pods created per reconcile before the API server gets a turn
# Metadata first, as ``rayClusterReconcile`` does: each failure is one Warning event, no status.
_VALIDATIONS: tuple[tuple[str, str, Callable[[Any], str | None]], ...] = (
    ("InvalidRayClusterMetadata", "metadata", validate_metadata),
    ("InvalidRayClusterSpec", "spec", validate),
    ("InvalidRayClusterSpec", "spec", validate_auth),
)
_RBAC_EVENTS = {
    "serviceaccounts": ("CreatedServiceAccount", "service account"),
    "roles": ("CreatedRole", "role"),
    "rolebindings": ("CreatedRoleBinding", "role binding"),
}


class ReplicaFailureError(Exception):
    """A pod create/delete the API refused: ``reason`` is the ReplicaFailure condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}\n{message}")
        self.reason = reason


class KubeRayOperator:
    def __init__(self, store: Any, config: SimConfig, timers: SimTimers) -> None:
        self.store = store
        self.timers = timers
        self.quotas = config.quotas
        self.queue = WorkQueue("kuberay-operator", self.reconcile)
        self._rng = random.Random(config.seed)
        self._seen: dict[Key, tuple[Any, ...]] = {}
        self._invalid: dict[Key, tuple[str, int]] = {}
        self._requeue: set[Key] = set()
        self._create_budget = CREATE_BATCH
        self._more_to_create = False

    # ------------------------------------------------------------ triggers
    def on_change(self, event: str, resource: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if resource == "rayclusters":
            key = (meta.get("namespace", ""), meta.get("name", ""))
            if event == "DELETED":
                self._seen.pop(key, None)
                self._invalid.pop(key, None)
                return
            fingerprint = (meta.get("generation"), meta.get("labels"), meta.get("annotations"))
            if self._seen.get(key) != fingerprint:
                self._seen[key] = fingerprint
                self.queue.mark(key)
        elif resource in ("pods", "services"):
            for ref in meta.get("ownerReferences") or ():
                if ref.get("kind") == "RayCluster" and ref.get("controller"):
                    self.queue.mark((meta.get("namespace", ""), ref.get("name", "")))

    def _requeue_later(self, key: Key) -> None:
        if key not in self._requeue and not self.timers.closed:
            self._requeue.add(key)
            self.timers.later(REQUEUE_SECONDS, self._requeue_fire, key)

    def _requeue_fire(self, key: Key) -> None:
        self._requeue.discard(key)
        self.queue.mark(key)

    # ----------------------------------------------------------- reconcile
    def reconcile(self, key: Key) -> None:
        try:
            rc = self.store.get_ref("rayclusters", key[0], key[1])  # read-only: never mutated
        except ApiError:
            return
        meta, spec = rc["metadata"], rc.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        if spec.get("managedBy") not in (None, "", "ray.io/kuberay-operator"):
            return
        for reason, what, check in _VALIDATIONS:
            problem = check(rc)
            if problem is None:
                continue
            marker = (problem, meta.get("generation", 1))
            if self._invalid.get(key) != marker:
                self._invalid[key] = marker
                message = f"The RayCluster {what} is invalid {key[0]}/{key[1]}: {problem}"
                self._event(rc, "Warning", reason, message)
            return
        self._invalid.pop(key, None)
        failure: tuple[str, str] | None = None
        retry = False
        try:
            if is_autoscaling(rc):
                self._ensure_rbac(rc)
            ensure_auth_secret(self.store, rc, self._rng)  # reconcileAuthSecret
            self._ensure_service(rc)
            self._ensure_headless_service(rc)
            self._create_budget, self._more_to_create = CREATE_BATCH, False
            retry = self._reconcile_pods(rc)
            if self._more_to_create:  # the rest on the next turn; status once they all exist
                self.timers.later(0, self.queue.mark, key)
                return
        except ReplicaFailureError as err:
            failure, retry = (err.reason, str(err)), True
        except ApiError as err:
            log.info("reconcile %s/%s: %s", key[0], key[1], err.message)
            retry = True
        pods, _ = self.store.list_refs("pods", key[0], label_selector=f"ray.io/cluster={key[1]}")
        service = self._get("services", key[0], head_service_name(rc))
        now = format_time(self.store.now())
        status = calculate_status(rc, pods, service, replica_failure=failure, now=now)
        if status_changed(rc.get("status"), status):
            ref = {k: meta[k] for k in ("name", "namespace", "resourceVersion")}
            body = {"metadata": ref, "status": status}
            try:
                self.store.update("rayclusters", body, subresource="status")
            except ApiError:
                retry = True  # 409 or deleted meanwhile: the next reconcile sees the new object
        if retry:
            self._requeue_later(key)

    def _get(self, resource: str, namespace: str, name: str) -> Obj | None:
        try:
            return self.store.get_ref(resource, namespace, name)  # type: ignore[no-any-return]
        except ApiError:
            return None

    def _event(self, rc: Obj, type_: str, reason: str, message: str) -> None:
        self.store.record_event(rc, type=type_, reason=reason, message=message, component=COMPONENT)

    def _ensure_rbac(self, rc: Obj) -> None:
        ns = rc["metadata"]["namespace"]
        for resource, obj in autoscaler_rbac(rc):
            if self._get(resource, ns, obj["metadata"]["name"]) is None:
                self.store.create(resource, obj)
                reason, noun = _RBAC_EVENTS[resource]
                self._event(rc, "Normal", reason, f"Created {noun} {ns}/{obj['metadata']['name']}")

    def _ensure_service(self, rc: Obj) -> None:
        ns, name = rc["metadata"]["namespace"], rc["metadata"]["name"]
        existing, _ = self.store.list_refs(
            "services", ns, label_selector=f"ray.io/cluster={name},ray.io/node-type=head"
        )
        if existing:
            return
        service = build_head_service(rc)
        try:
            self.store.create("services", service)
        except ApiError as err:
            self._event(
                rc,
                "Warning",
                "FailedToCreateService",
                f"Failed creating service {ns}/{service['metadata']['name']}, {err.message}",
            )
            raise
        self._event(
            rc, "Normal", "CreatedService", f"Created service {ns}/{service['metadata']['name']}"
        )

    def _ensure_headless_service(self, rc: Obj) -> None:
        """``reconcileHeadlessService``: multi-host groups (numOfHosts > 1) need peer DNS."""
        groups = rc["spec"].get("workerGroupSpecs") or ()
        if not any(int(g.get("numOfHosts") or 1) > 1 for g in groups):
            return
        service = build_headless_service(rc)
        ns, name = rc["metadata"]["namespace"], service["metadata"]["name"]
        if self._get("services", ns, name) is not None:
            return
        try:
            self.store.create("services", service)
        except ApiError as err:
            message = f"Failed creating service {ns}/{name}, {err.message}"
            self._event(rc, "Warning", "FailedToCreateService", message)
            raise
        self._event(rc, "Normal", "CreatedService", f"Created service {ns}/{name}")

    def _create_pod(self, pod: Obj) -> Obj:
        ns = pod["metadata"]["namespace"]
        limit = self.quotas.max_pods.get(ns)
        if limit is not None:
            used = len(self.store.list_refs("pods", ns)[0])
            if used >= limit:
                name = generate_name(pod["metadata"]["generateName"], self._rng)
                raise ApiError(
                    403,
                    "Forbidden",
                    f'pods "{name}" is forbidden: exceeded quota: {self.quotas.quota_name}, '
                    f"requested: pods=1, used: pods={used}, limited: pods={limit}",
                )
        return self.store.create("pods", pod)  # type: ignore[no-any-return]

    def _delete_pod(self, rc: Obj, pod: Obj, reason: str, message: str) -> bool:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return False  # already Terminating: asked once, the kubelet is finishing it
        try:
            self.store.delete("pods", meta["namespace"], meta["name"])
        except ApiError as err:
            if err.code == 404:
                return False
            raise
        self._event(rc, "Normal", reason, message)
        return True

    def _reconcile_pods(self, rc: Obj) -> bool:
        """Create/delete pods toward the spec; True when a requeue is needed (pods replaced)."""
        ns, name = rc["metadata"]["namespace"], rc["metadata"]["name"]
        spec = rc["spec"]
        pods, _ = self.store.list_refs("pods", ns, label_selector=f"ray.io/cluster={name}")
        if spec.get("suspend"):
            if pods:
                for pod in list(pods):
                    self.store.delete("pods", ns, pod["metadata"]["name"])
                self._event(
                    rc,
                    "Normal",
                    "DeletedPod",
                    f"Deleted Pods for RayCluster {ns}/{name} due to suspension",
                )
            return False
        heads = [p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
        if not heads:
            try:
                created = self._create_pod(add_token_env(rc, build_head_pod(rc)))
            except ApiError as err:
                self._event(
                    rc,
                    "Warning",
                    "FailedToCreateHeadPod",
                    f"Failed to create head Pod {ns}/{name}-head-, {err.message}",
                )
                raise ReplicaFailureError("FailedCreateHeadPod", err.message) from err
            self._event(
                rc,
                "Normal",
                "CreatedHeadPod",
                f"Created head Pod {ns}/{created['metadata']['name']}",
            )
        elif _terminal(heads[0]):
            head = heads[0]
            self._delete_pod(rc, head, "DeletedHeadPod", _deleted_message("head", head))
            return True
        for group in spec.get("workerGroupSpecs") or ():
            if self._reconcile_group(rc, group, pods):
                return True
        return False

    def _reconcile_group(self, rc: Obj, group: Obj, pods: list[Obj]) -> bool:
        ns, name = rc["metadata"]["namespace"], rc["metadata"]["name"]
        group_name = group["groupName"]
        mine = [
            p
            for p in pods
            if p["metadata"]["labels"].get("ray.io/node-type") == "worker"
            and p["metadata"]["labels"].get("ray.io/group") == group_name
        ]
        unhealthy = [p for p in mine if _terminal(p)]
        for bad in unhealthy:
            self._delete_pod(rc, bad, "DeletedWorkerPod", _deleted_message("worker", bad))
        if unhealthy:
            return True  # like KubeRay: no creation in a reconcile that replaced pods
        deleted: set[str] = set()
        for pod_name in (group.get("scaleStrategy") or {}).get("workersToDelete") or ():
            named = next((p for p in mine if p["metadata"]["name"] == pod_name), None)
            if named is not None and self._delete_pod(
                rc, named, "DeletedWorkerPod", f"Deleted pod {ns}/{pod_name}"
            ):
                deleted.add(pod_name)
        running = [p for p in mine if p["metadata"]["name"] not in deleted]
        diff = desired_replicas(group) - len(running)
        creating = min(max(0, diff), self._create_budget)
        self._create_budget -= creating
        self._more_to_create = self._more_to_create or creating < diff
        for _ in range(creating):
            try:
                created = self._create_pod(add_token_env(rc, build_worker_pod(rc, group)))
            except ApiError as err:
                self._event(
                    rc,
                    "Warning",
                    "FailedToCreateWorkerPod",
                    f"Failed to create worker Pod for the cluster {ns}/{name}, {err.message}",
                )
                raise ReplicaFailureError("FailedCreateWorkerPod", err.message) from err
            self._event(
                rc,
                "Normal",
                "CreatedWorkerPod",
                f"Created worker Pod {ns}/{created['metadata']['name']}",
            )
        if diff < 0 and not is_autoscaling(rc):
            for pod in running[:-diff]:
                self._delete_pod(
                    rc, pod, "DeletedWorkerPod", f"Deleted Pod {ns}/{pod['metadata']['name']}"
                )
        return False


def _ray_terminated(pod: Obj) -> Obj | None:
    ray_name = pod["spec"]["containers"][0]["name"]
    for cs in (pod.get("status") or {}).get("containerStatuses") or ():
        if cs.get("name") == ray_name:
            terminated: Obj | None = (cs.get("state") or {}).get("terminated")
            return terminated
    return None


def _terminal(pod: Obj) -> bool:
    """``shouldDeletePod``: Failed/Succeeded, or a dead Ray container that will not restart."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Failed", "Succeeded"):
        return True
    restart = pod["spec"].get("restartPolicy", "Always")
    return phase == "Running" and restart == "Never" and _ray_terminated(pod) is not None


def _deleted_message(node_type: str, pod: Obj) -> str:
    meta, status = pod["metadata"], pod.get("status") or {}
    terminated = _ray_terminated(pod)
    shown = "nil"
    if terminated is not None:
        shown = (
            f"&ContainerStateTerminated{{ExitCode:{terminated.get('exitCode')},"
            f"Reason:{terminated.get('reason', '')}}}"
        )
    return (
        f"Deleted {node_type} Pod {meta['namespace']}/{meta['name']}; Pod status: "
        f"{status.get('phase', '')}; Pod restart policy: {pod['spec'].get('restartPolicy', '')}; "
        f"Ray container terminated status: {shown}"
    )


def autoscaler_rbac(rc: Obj) -> list[tuple[str, Obj]]:
    """ServiceAccount, Role and RoleBinding named like the cluster, for the autoscaler sidecar."""
    name, namespace = rc["metadata"]["name"], rc["metadata"]["namespace"]
    meta = {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(rc)]}
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
        {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "patch"]},
    ]
    return [
        ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": clone(meta)}),
        ("roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": clone(meta), "rules": rules}),
        ("rolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": clone(meta),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }),
    ]  # fmt: skip


def build_headless_service(rc: Obj) -> Obj:
    """``BuildHeadlessServiceForRayCluster``: ``<name>-headless`` selecting the worker pods."""
    name, namespace = rc["metadata"]["name"], rc["metadata"]["namespace"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{name}-headless",
            "namespace": namespace,
            "labels": {"ray.io/headless-worker-svc": name},
            "ownerReferences": [owner_reference(rc)],
        },
        "spec": {
            "clusterIP": "None",
            "selector": {"ray.io/cluster": name, "ray.io/node-type": "worker"},
            "type": "ClusterIP",
            "publishNotReadyAddresses": True,
        },
    }
