"""Ray's in-tree autoscaler for KubeRay, simulated: it writes ``replicas`` and ``workersToDelete``.

For a RayCluster with ``enableInTreeAutoscaling: true`` (and ``ray_autoscaler: true`` in the
sandbox config), this plays the ``autoscaler`` sidecar of the head pod. There is no Ray workload in
the sandbox, so pending demand is declared on the RayCluster with an annotation::

    sandbox.krayne.io/ray-demand: '{"workers": 3}'

meaning "3 pending resource bundles, each the size of one worker of group ``workers``", i.e. three
busy workers of that group are wanted. Remove the annotation (or set 0) and the workers go idle.

Each pass does what ``StandardAutoscaler.update`` does through ``KubeRayNodeProvider``
(python/ray/autoscaler/_private/kuberay/node_provider.py; autoscaler v2, the default from Ray
2.47, writes the same fields from v2/instance_manager/cloud_providers/kuberay/cloud_provider.py
``KubeRayProvider._submit_scale_request``): ``safe_to_scale`` first (back off while a pod named in
``workersToDelete`` still exists, then patch the lists empty), then scale up
(``replicas`` raised to what the demand needs, capped at ``maxReplicas``) or terminate workers idle
for the cluster's ``autoscalerOptions.idleTimeoutSeconds`` (default 60; a group's own
``idleTimeoutSeconds`` wins, as in v2) down to ``minReplicas``:
``replicas`` lowered and the pod names put in ``scaleStrategy.workersToDelete``, in one JSON patch.
The simulated KubeRay operator then deletes exactly those pods (raycluster_controller.go
``reconcilePods``). Passes run 5 s after a change (AUTOSCALER_UPDATE_INTERVAL_S) and when an idle
timer expires; nothing polls.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.patching import apply_json_patch
from core.sandbox.sim.simloop import SimTimers

log = logging.getLogger(__name__)
Obj = dict[str, Any]
ClusterKey = tuple[str, str]

DEMAND_ANNOTATION = "sandbox.krayne.io/ray-demand"
# ray: python/ray/autoscaler/_private/constants.py AUTOSCALER_UPDATE_INTERVAL_S
UPDATE_INTERVAL = 5.0
# KubeRay: apis/ray/v1/raycluster_types.go AutoscalerOptions.IdleTimeoutSeconds (default 60)
DEFAULT_IDLE_TIMEOUT = 60.0


def parse_demand(rc: Obj) -> dict[str, int]:
    """The annotation's {group: bundles}; anything malformed counts as no demand."""
    raw = ((rc.get("metadata") or {}).get("annotations") or {}).get(DEMAND_ANNOTATION)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, int) and v > 0}


def _running(pod: Obj) -> bool:
    """node_provider.py ``status_tag``: the Ray container (containerStatuses[0]) is running."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and "running" in (statuses[0].get("state") or {})


class RayAutoscaler:
    def __init__(self, store: Any, timers: SimTimers) -> None:
        self.store = store
        self.timers = timers
        self._due: dict[ClusterKey, asyncio.TimerHandle] = {}
        self._idle_timer: dict[ClusterKey, asyncio.TimerHandle] = {}
        self._idle_since: dict[tuple[str, str], datetime] = {}  # (namespace, pod) -> since

    # ------------------------------------------------------------------ store hooks
    def cluster_changed(self, event: str, rc: Obj) -> None:
        meta = rc["metadata"]
        key = (meta["namespace"], meta["name"])
        if event == "DELETED":
            self.timers.cancel(self._due.pop(key, None))
            self.timers.cancel(self._idle_timer.pop(key, None))
            return
        if (rc.get("spec") or {}).get("enableInTreeAutoscaling"):
            self._soon(key)

    def pod_changed(self, event: str, pod: Obj) -> None:
        meta = pod["metadata"]
        cluster = (meta.get("labels") or {}).get("ray.io/cluster")
        if event == "DELETED":
            self._idle_since.pop((meta["namespace"], meta["name"]), None)
        if cluster:
            self._soon((meta["namespace"], cluster))

    def _soon(self, key: ClusterKey) -> None:
        if key not in self._due:
            self._due[key] = self.timers.later(UPDATE_INTERVAL, self._pass, key)

    # ------------------------------------------------------------------ one autoscaler pass
    def _pass(self, key: ClusterKey) -> None:
        self._due.pop(key, None)
        try:
            rc = self.store.get_ref("rayclusters", key[0], key[1])
        except ApiError:
            return
        spec = rc.get("spec") or {}
        if not spec.get("enableInTreeAutoscaling"):
            return
        pods = [
            p
            for p in self.store.list_refs(
                "pods", key[0], label_selector=f"ray.io/cluster={key[1]}"
            )[0]
            if "deletionTimestamp" not in p["metadata"]  # _get_non_terminating_pods
        ]
        head = [p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
        if not head or not _running(head[0]):
            return  # the autoscaler is a container of the head pod: no head, no autoscaler
        if not self._safe_to_scale(rc, {p["metadata"]["name"] for p in pods}):
            return
        rc = self.store.get_ref("rayclusters", key[0], key[1])
        self._scale(rc, pods)

    def _safe_to_scale(self, rc: Obj, live: set[str]) -> bool:
        """node_provider.py ``KubeRayNodeProvider.safe_to_scale``: wait for the operator to delete
        every pod in ``workersToDelete``, then patch those lists to ``[]``."""
        groups = (rc.get("spec") or {}).get("workerGroupSpecs") or []
        patch = []
        for index, group in enumerate(groups):
            names = (group.get("scaleStrategy") or {}).get("workersToDelete") or []
            if any(name in live for name in names):
                return False
            if names:
                patch.append(
                    _replace(
                        f"/spec/workerGroupSpecs/{index}/scaleStrategy", {"workersToDelete": []}
                    )
                )
        if patch:
            self._patch(rc, patch)
        return True

    def _scale(self, rc: Obj, pods: list[Obj]) -> None:
        """``_scale_request_to_patch_payload``: one JSON patch of replicas and workersToDelete."""
        ns, name = rc["metadata"]["namespace"], rc["metadata"]["name"]
        spec = rc.get("spec") or {}
        idle_timeout = float(
            (spec.get("autoscalerOptions") or {}).get("idleTimeoutSeconds", DEFAULT_IDLE_TIMEOUT)
        )
        demand = parse_demand(rc)
        now = self.store.now()
        patch: list[Obj] = []
        next_deadline: float | None = None
        for index, group in enumerate(spec.get("workerGroupSpecs") or ()):
            group_name = group["groupName"]
            low, high = int(group.get("minReplicas", 0)), group.get("maxReplicas")
            workers = sorted(
                (
                    p
                    for p in pods
                    if p["metadata"]["labels"].get("ray.io/group") == group_name
                    and p["metadata"]["labels"].get("ray.io/node-type") == "worker"
                ),
                key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
            )
            wanted = demand.get(group_name, 0)
            # v2 cloud_provider.py _initialize_scale_request: the base is max(replicas, minReplicas)
            current = max(int(group.get("replicas", 1)), low)  # _worker_group_replicas: 1 if unset
            target = max(wanted, low)
            if high is not None:  # "Autoscaler attempted to create more than maxReplicas pods"
                target = min(target, int(high))
            if target > current:
                patch.append(_replace(f"/spec/workerGroupSpecs/{index}/replicas", target))
                continue
            timeout = float(group.get("idleTimeoutSeconds", idle_timeout))  # per group in v2
            # Busy: the oldest `wanted` workers hold the demand; the rest are idle once running.
            victims: list[str] = []
            for pod in workers[wanted:]:
                pod_key = (ns, pod["metadata"]["name"])
                if not _running(pod):
                    continue
                since = self._idle_since.setdefault(pod_key, now)
                left = timeout - (now - since).total_seconds() * self.timers.speed
                if left <= 1e-6:
                    victims.append(pod["metadata"]["name"])
                else:
                    next_deadline = left if next_deadline is None else min(next_deadline, left)
            for pod in workers[:wanted]:
                self._idle_since.pop((ns, pod["metadata"]["name"]), None)
            # StandardAutoscaler._get_nodes_to_terminate: idle past the timeout, keep min_workers
            victims = victims[: max(0, min(len(workers), current) - max(low, wanted))]
            if victims:
                patch.append(
                    _replace(f"/spec/workerGroupSpecs/{index}/replicas", current - len(victims))
                )
                patch.append(
                    _replace(
                        f"/spec/workerGroupSpecs/{index}/scaleStrategy",
                        {"workersToDelete": victims},
                    )
                )
        if patch:
            self._patch(rc, patch)
        key = (ns, name)
        self.timers.cancel(self._idle_timer.pop(key, None))
        if next_deadline is not None:
            self._idle_timer[key] = self.timers.later(next_deadline, self._pass, key)

    def _patch(self, rc: Obj, operations: list[Obj]) -> None:
        """``_submit_raycluster_patch``: PATCH application/json-patch+json on the RayCluster."""
        meta = rc["metadata"]
        try:
            current = self.store.get_ref("rayclusters", meta["namespace"], meta["name"])
            # kube-apiserver applies JSON patches with gopkg.in/evanphx/json-patch.v4, whose
            # partialDoc.get returns (nil, nil) for a missing key: "replace" of an absent field
            # (scaleStrategy is usually unset) succeeds like "add". Ray relies on that.
            ops = [
                {**op, "op": "add"}
                if op["op"] == "replace" and not _has(current, op["path"])
                else op
                for op in operations
            ]
            self.store.update("rayclusters", apply_json_patch(current, ops))
        except ApiError as err:
            log.info(
                "ray autoscaler: patch of %s/%s failed: %s",
                meta["namespace"],
                meta["name"],
                err.message,
            )


def _replace(path: str, value: Any) -> Obj:
    """node_provider.py ``replace_patch``."""
    return {"op": "replace", "path": path, "value": value}


def _has(doc: Any, path: str) -> bool:
    for part in path.strip("/").split("/"):
        if isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return False
    return True
