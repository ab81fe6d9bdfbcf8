"""The simulated kubelet: drives bound pods through pull → create → start → ready, or failure.

Each pod is a small state machine advanced by speed-scaled timers (no polling): sandbox and IP,
init containers in order (KubeRay's ``wait-gcs-ready`` runs until its cluster's head pod is
Ready), then image pulls (serial per node, cached per node, ``Always`` for ``:latest``), create,
start, readiness after a delay. Unknown images go ErrImagePull → ImagePullBackOff with kubelet's
back-off (10 s doubling to 300 s); images configured as crashing terminate (Error/exit 1 or
OOMKilled/137) and crash-loop with ``restartCount`` growing. Every step records the kubelet's
Event with its real wording and writes the pod status only when it changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from collections.abc import Callable
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import format_time
from core.sandbox.sim.images import ImageCatalogue, InvalidImageNameError, PullResult
from core.sandbox.sim.images import default_pull_policy as _default_policy
from core.sandbox.sim.kubelet_status import (
    ContainerRun,
    PodRun,
    go_duration,
    log_error,
    ray_start_log,
    render_status,
    waiting_reason,
)
from core.sandbox.sim.simconfig import NodeSpec, SimConfig
from core.sandbox.sim.simloop import SimTimers

Obj = dict[str, Any]
ClusterKey = tuple[str, str]
GIB = 1 << 30


class Kubelet:
    """All nodes' kubelets in one: ``admit`` a bound pod, ``forget`` a deleted one."""

    def __init__(self, store: Any, config: SimConfig, timers: SimTimers) -> None:
        self.store = store
        self.timers = timers
        self.t = config.timings
        self.catalogue = ImageCatalogue(config.images)
        self.runs: dict[tuple[str, str], PodRun] = {}
        self._cache: dict[str, set[str]] = {}
        self._subnets: dict[str, tuple[ipaddress.IPv4Network, str]] = {}
        self._next_ip: dict[str, int] = {}
        for node in config.nodes:
            self.add_node(node.name)
        self._head_ready: set[ClusterKey] = set()
        self._unwritten: set[tuple[str, str]] = set()
        self._gcs_waiters: dict[ClusterKey, set[tuple[str, str]]] = {}
        self._terminating: set[tuple[str, str]] = set()

    # ---------------------------------------------------------------- entry points
    def admit(self, pod: Obj, node: NodeSpec, scheduled_at: str | None = None) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        key = (meta["namespace"], meta["name"])
        if key in self.runs:
            return
        labels = meta.get("labels") or {}
        now = format_time(self.store.now())
        scheduled = scheduled_at or next(
            (c.get("lastTransitionTime") for c in (pod.get("status") or {}).get("conditions") or ()
             if c.get("type") == "PodScheduled" and c.get("status") == "True"),
            now,
        )  # fmt: skip
        run = PodRun(
            namespace=key[0], name=key[1], uid=meta.get("uid", ""), node=node,
            host_ip=self._subnets[node.name][1], cluster=labels.get("ray.io/cluster", ""),
            is_head=labels.get("ray.io/node-type") == "head",
            restart_policy=spec.get("restartPolicy", "Always"),
            qos_class=(pod.get("status") or {}).get("qosClass", "BestEffort"),
            init=[self._container(c, True) for c in spec.get("initContainers") or ()],
            main=[self._container(c, False) for c in spec.get("containers") or ()],
            scheduled_at=scheduled, start_time=now,
        )  # fmt: skip
        for c in [*run.init, *run.main]:
            c.state = {"waiting": {"reason": waiting_reason(run, c)}}
        self.runs[key] = run
        self._write(run)
        self._after(run, self.t.container_create, self._sandbox_ready, run)

    def forget(self, namespace: str, name: str) -> None:
        """The pod was deleted: stop its containers (Killing events) and drop its timers."""
        run = self.runs.pop((namespace, name), None)
        if run is not None:
            self._stop(run)

    def _stop(self, run: PodRun) -> None:
        for handle in run.timers:
            self.timers.cancel(handle)
        run.timers.clear()
        for c in [*run.init, *run.main]:
            if c.running and not c.killed:
                self._event(run, c, "Normal", "Killing", f"Stopping container {c.name}")
                c.killed = True
        cluster = (run.namespace, run.cluster)
        self._gcs_waiters.get(cluster, set()).discard(run.key)
        if run.is_head:
            self._head_ready.discard(cluster)

    def terminate(self, pod: Obj) -> None:
        """A pod marked for deletion: stop its containers, then remove it for good.

        pkg/kubelet/kubelet.go (HandlePodRemoves -> podWorkers.UpdatePod with SyncPodKill): the
        containers get SIGTERM (Killing events) and up to the pod's deletionGracePeriodSeconds;
        then the status manager (pkg/kubelet/status/status_manager.go, syncPod ->
        canBeDeleted) deletes it with grace period 0 and a UID precondition. The simulated
        containers stop within ``timings.delete_grace``, capped by the grace period."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self._terminating:
            return
        self._terminating.add(key)
        run = self.runs.get(key)
        if run is not None:
            self._stop(run)
        grace = float(meta.get("deletionGracePeriodSeconds") or 0)
        seconds = min(self.t.delete_grace, grace)
        self.timers.later(seconds, self._finish_termination, key, meta.get("uid", ""))

    def _finish_termination(self, key: tuple[str, str], uid: str) -> None:
        self._terminating.discard(key)
        try:
            current = self.store.get_ref("pods", key[0], key[1])
            if current["metadata"].get("uid") == uid:
                self.store.delete("pods", key[0], key[1], grace_period=0)
        except ApiError:
            pass  # already gone (forced deletion, namespace deleted)

    def read_log(self, run: PodRun, container: ContainerRun, *, previous: bool) -> list[str]:
        problem = log_error(run.name, container, previous=previous)
        if problem is not None:
            raise ApiError(400, "BadRequest", problem)
        if previous or (not container.running and not container.state.get("terminated")):
            return list(container.previous_logs or [])
        if container.init and container.running:
            return self._gcs_wait_lines(container)
        return list(container.logs)

    # --------------------------------------------------------------- state machine
    def _container(self, spec: Obj, init: bool) -> ContainerRun:
        image = str(spec.get("image") or "")
        return ContainerRun(
            name=spec["name"], image=image, init=init,
            pull_policy=spec.get("imagePullPolicy") or _default_policy(image),
            probed=bool(spec.get("readinessProbe")), pull_backoff=self.t.backoff_base,
        )  # fmt: skip

    def _after(self, run: PodRun, seconds: float, fn: Callable[..., None], *args: Any) -> None:
        holder: list[asyncio.TimerHandle] = []

        def step() -> None:
            run.timers.discard(holder[0])
            if self.runs.get(run.key) is run:
                fn(*args)

        holder.append(self.timers.later(seconds, step))
        run.timers.add(holder[0])

    def add_node(self, node_name: str) -> None:
        """A node's kubelet starts: its pod CIDR, InternalIP and an empty image cache."""
        if node_name in self._subnets:
            return
        i = len(self._subnets)
        self._subnets[node_name] = (
            ipaddress.IPv4Network(f"10.{108 + i // 250}.{i % 250}.0/24"),
            f"10.128.{i // 240}.{10 + i % 240}",
        )
        self._cache[node_name] = set()
        self._next_ip[node_name] = 0

    def host_ip(self, node_name: str) -> str:
        """The node's InternalIP, which its pods report as ``hostIP``."""
        return self._subnets[node_name][1]

    def _sandbox_ready(self, run: PodRun) -> None:
        subnet, _ = self._subnets[run.node.name]
        run.pod_ip = str(subnet[self._next_ip[run.node.name] % 250 + 2])
        self._next_ip[run.node.name] += 1
        run.sandbox_ready = True
        self._write(run)
        self._advance(run)

    def _advance(self, run: PodRun) -> None:
        """Start the next container that is due: init containers one by one, then the rest."""
        for c in run.init:
            if c.completed:
                continue
            if not (c.running or c.pending or c.last_error):
                self._begin(run, c)
            return
        for c in run.main:
            if c.pending:
                return  # kubelet pulls and starts one container at a time
            if not c.started_once and not c.last_error:
                self._begin(run, c)
                return

    def _begin(self, run: PodRun, c: ContainerRun) -> None:
        c.pending = True
        try:
            result = self.catalogue.resolve(c.image)
        except InvalidImageNameError as err:
            c.last_error, c.pending = str(err), False
            c.state = {"waiting": {"reason": "InvalidImageName", "message": str(err)}}
            self._event(run, c, "Warning", "InspectFailed", str(err))
            self._event(run, c, "Warning", "Failed", "Error: InvalidImageName")
            self._write(run)
            return
        cached = result.ok and result.ref.full in self._cache[run.node.name]
        if cached and c.pull_policy != "Always":
            message = f'Container image "{c.image}" already present on machine'
            self._event(run, c, "Normal", "Pulled", message)
            self._pulled(run, c, result, None)
            return
        # Only a pull that reaches the registry can hit its rate limit. Kubelet's image manager
        # (pkg/kubelet/images/image_manager.go, EnsureImageExists) turns the failure into
        # ErrImagePull, starts the image's back-off, answers ImagePullBackOff until it expires
        # and then pulls again: _pulled -> _pull_backoff -> _begin below.
        result = self.catalogue.throttle(result)
        self._event(run, c, "Normal", "Pulling", f'Pulling image "{c.image}"')
        if result.ok:
            per_gib = self.t.pull_per_gib * result.size_bytes / GIB
            seconds = 0.3 if cached else self.t.pull_base + per_gib
        elif result.outcome == "timeout":
            seconds = self.t.registry_timeout
        else:
            seconds = self.t.pull_error
        self._after(run, seconds, self._pulled, run, c, result, seconds)

    def _pulled(self, run: PodRun, c: ContainerRun, result: PullResult, took: float | None) -> None:
        if not result.ok:
            c.last_error, c.pending = result.error, False
            c.state = {"waiting": {"reason": "ErrImagePull", "message": result.error}}
            failed = f'Failed to pull image "{c.image}": {result.error}'
            self._event(run, c, "Warning", "Failed", failed)
            self._event(run, c, "Warning", "Failed", "Error: ErrImagePull")
            self._write(run)
            self._after(run, self.t.status_sync, self._pull_backoff, run, c)
            self._advance(run)  # the next container tries its own pull, as SyncPod does
            return
        c.last_error = ""
        c.pull_backoff = self.t.backoff_base
        self._cache[run.node.name].add(result.ref.full)
        c.image_id = result.image_id
        if took is not None:
            shown = f"{took:.3f}s"
            self._event(run, c, "Normal", "Pulled",
                        f'Successfully pulled image "{c.image}" in {shown} ({shown} including '
                        f"waiting). Image size: {result.size_bytes} bytes.")  # fmt: skip
        c.state = {"waiting": {"reason": waiting_reason(run, c)}}
        self._after(run, self.t.container_create, self._created, run, c)

    def _pull_backoff(self, run: PodRun, c: ContainerRun) -> None:
        message = f'Back-off pulling image "{c.image}"'
        c.state = {"waiting": {"reason": "ImagePullBackOff",
                               "message": f"{message}: ErrImagePull: {c.last_error}"}}  # fmt: skip
        self._event(run, c, "Normal", "BackOff", message)
        self._event(run, c, "Warning", "Failed", "Error: ImagePullBackOff")
        self._write(run)
        delay, c.pull_backoff = c.pull_backoff, min(c.pull_backoff * 2, self.t.backoff_max)
        self._after(run, delay, self._begin, run, c)

    def _created(self, run: PodRun, c: ContainerRun) -> None:
        seed = f"{run.uid}/{c.name}/{c.restart_count}"
        c.container_id = "containerd://" + hashlib.sha256(seed.encode()).hexdigest()
        self._event(run, c, "Normal", "Created", f"Created container: {c.name}")
        self._after(run, self.t.container_start, self._started, run, c)

    def _started(self, run: PodRun, c: ContainerRun) -> None:
        now = self.store.now()
        c.state = {"running": {"startedAt": format_time(now)}}
        c.started_once, c.pending = True, False
        c.started_mono = asyncio.get_running_loop().time()
        self._event(run, c, "Normal", "Started", f"Started container {c.name}")
        # a crashing image breaks the Ray process; KubeRay's autoscaler sidecar runs other code
        crash = None if c.name == "autoscaler" else self.catalogue.crash_spec(c.image)
        stamp = now.strftime("%Y-%m-%d %H:%M:%S,") + f"{now.microsecond // 1000:03d}"
        if c.init:
            c.logs = []
            if (run.namespace, run.cluster) in self._head_ready:
                self._after(run, self.t.init_complete, self._init_done, run, c)
            else:
                self._gcs_waiters.setdefault((run.namespace, run.cluster), set()).add(run.key)
        elif crash is not None:
            c.logs = list(crash.log)
            self._after(run, crash.run_seconds, self._crashed, run, c)
        elif c.name == "autoscaler":
            c.logs = [
                f"{stamp}\tINFO monitor.py:690 -- Starting autoscaler metrics server on port 44217",
                f"{stamp}\tINFO autoscaler.py:276 -- StandardAutoscaler: {{'cluster_name': "
                f"'{run.cluster}', 'provider': {{'type': 'kuberay'}}}}",
            ]
            c.ready = True
        else:
            address = f"{run.cluster}-head-svc.{run.namespace}.svc.cluster.local:6379"
            c.logs = ray_start_log(stamp, run.pod_ip, head=run.is_head, address=address)
            if c.probed:
                delay = self.t.head_ready if run.is_head else self.t.worker_ready
                self._after(run, delay, self._ready, run, c)
            else:
                c.ready = True
        self._write(run)
        self._advance(run)
        self._check_head(run)

    def _ready(self, run: PodRun, c: ContainerRun) -> None:
        if c.running:
            c.ready = True
            self._write(run)
            self._check_head(run)

    def _check_head(self, run: PodRun) -> None:
        if not run.is_head or not run.ready:
            return
        cluster = (run.namespace, run.cluster)
        self._head_ready.add(cluster)
        for key in sorted(self._gcs_waiters.pop(cluster, set())):
            worker = self.runs.get(key)
            init = next((c for c in worker.init if c.running), None) if worker else None
            if worker is not None and init is not None:
                self._after(worker, self.t.init_complete, self._init_done, worker, init)

    def _init_done(self, run: PodRun, c: ContainerRun) -> None:
        c.logs = [*self._gcs_wait_lines(c), "GCS is ready."]
        c.state = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "containerID": c.container_id,
                "startedAt": c.state["running"]["startedAt"],
                "finishedAt": format_time(self.store.now()),
            }
        }
        c.ready = True
        for other in run.main:
            if not other.started_once:
                other.state = {"waiting": {"reason": waiting_reason(run, other)}}
        self._write(run)
        self._advance(run)

    def _gcs_wait_lines(self, c: ContainerRun) -> list[str]:
        elapsed = (asyncio.get_running_loop().time() - c.started_mono) * self.timers.speed
        count = min(int(elapsed // self.t.gcs_wait_poll) + 1, 500)
        poll = int(self.t.gcs_wait_poll)
        return [f"{i * poll} seconds elapsed: Waiting for GCS to be ready." for i in range(count)]

    def _crashed(self, run: PodRun, c: ContainerRun) -> None:
        crash = self.catalogue.crash_spec(c.image)
        assert crash is not None
        terminated = {"exitCode": crash.code, "reason": crash.reason, "containerID": c.container_id,
                      "startedAt": c.state["running"]["startedAt"],
                      "finishedAt": format_time(self.store.now())}  # fmt: skip
        c.state, c.ready = {"terminated": terminated}, False
        if run.restart_policy == "Never":
            run.failed = True
            self._write(run)
            return
        self._write(run)
        if c.restart_count == 0:
            self._after(run, self.t.status_sync, self._restart, run, c)
            return
        backoff = min(self.t.backoff_base * 2 ** (c.restart_count - 1), self.t.backoff_max)
        pod_ref = f"{run.name}_{run.namespace}({run.uid})"
        c.previous_logs, c.last_state = c.logs, {"terminated": terminated}
        c.state = {"waiting": {"reason": "CrashLoopBackOff",
                               "message": f"back-off {go_duration(backoff)} restarting failed "
                                          f"container={c.name} pod={pod_ref}"}}  # fmt: skip
        self._after(run, self.t.status_sync, self._write, run)
        self._event(run, c, "Warning", "BackOff",
                    f"Back-off restarting failed container {c.name} in pod {pod_ref}")  # fmt: skip
        self._after(run, backoff, self._restart, run, c)

    def _restart(self, run: PodRun, c: ContainerRun) -> None:
        terminated = c.state.get("terminated") or (c.last_state.get("terminated") or {})
        c.previous_logs, c.last_state = c.logs, {"terminated": terminated}
        c.restart_count += 1
        present = f'Container image "{c.image}" already present on machine'
        self._event(run, c, "Normal", "Pulled", present)
        c.pending = True
        self._after(run, self.t.container_create, self._created, run, c)

    # ------------------------------------------------------------------ writes
    def _write(self, run: PodRun) -> None:
        """Write the pod's status once per loop tick, however many steps changed it."""
        if run.key not in self._unwritten and not self.timers.closed:
            self._unwritten.add(run.key)
            self.timers.later(0, self._flush, run)

    def _flush(self, run: PodRun) -> None:
        self._unwritten.discard(run.key)
        if self.runs.get(run.key) is not run:
            return
        status = render_status(run, format_time(self.store.now()))
        body = {"metadata": {"name": run.name, "namespace": run.namespace}, "status": status}
        try:
            self.store.update("pods", body, subresource="status")
        except ApiError:
            self.forget(run.namespace, run.name)  # deleted under us

    def _event(
        self, run: PodRun, c: ContainerRun | None, type_: str, reason: str, msg: str
    ) -> None:
        self.store.record_event(run.involved(c), type=type_, reason=reason, message=msg,
                                component="kubelet")  # fmt: skip
