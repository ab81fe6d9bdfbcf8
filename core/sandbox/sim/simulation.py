"""The simulated cluster behind the sandbox API server: KubeRay operator, scheduler and kubelet.

``Simulation(store, config, speed=...)`` subscribes to the store's change feed and, while
``run()`` is awaited, reacts to it the way the real controllers do: the operator turns
RayClusters into pods and a head Service and keeps their status, the scheduler binds pods to the
configured nodes (or explains why not), the kubelet walks bound pods through image pulls and
container starts. The store listener only records what changed; the work happens on the event
loop afterwards, and every timer and task is cancelled when ``run()`` is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import format_time
from core.sandbox.sim.admission_plugins import extended_resource_toleration
from core.sandbox.sim.kubelet import Kubelet
from core.sandbox.sim.kuberay import KubeRayOperator
from core.sandbox.sim.node_autoscaler import NodeAutoscaler
from core.sandbox.sim.nodes import node_object
from core.sandbox.sim.ray_autoscaler import RayAutoscaler
from core.sandbox.sim.scheduler import Scheduler
from core.sandbox.sim.simconfig import SimConfig
from core.sandbox.sim.simloop import SimTimers

__all__ = ["SimConfig", "Simulation"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class Simulation:
    def __init__(self, store: Any, config: SimConfig | None = None, *, speed: float = 1.0) -> None:
        self.store = store
        self.config = config or SimConfig.default()
        self.speed = speed
        self.timers = SimTimers(speed)
        self.kubelet = Kubelet(store, self.config, self.timers)
        self._nodes = {n.name: n for n in self.config.nodes}
        self.node_autoscaler: NodeAutoscaler | None = None
        self.scheduler = Scheduler(
            store, self.config, self.timers, on_bound=self.kubelet.admit,
            on_unschedulable=self._pod_unschedulable, on_usage=self._node_usage,
        )  # fmt: skip
        if self.config.node_pools:
            self.node_autoscaler = NodeAutoscaler(
                store, self.config, self.timers, scheduler=self.scheduler,
                kubelet=self.kubelet, node_specs=self._nodes,
            )  # fmt: skip
        self.operator = KubeRayOperator(store, self.config, self.timers)
        self.ray_autoscaler = (
            RayAutoscaler(store, self.timers) if self.config.ray_autoscaler else None
        )
        self.started = asyncio.Event()
        # With a kubelet that takes time to stop containers, deleted pods stay Terminating.
        store.graceful_pods = self.config.timings.delete_grace > 0

    async def run(self) -> None:
        """Run the controllers until cancelled."""
        self.timers.bind(asyncio.get_running_loop())
        plugins = self.store.admission_plugins
        if self.config.extended_resource_toleration:
            plugins.append(extended_resource_toleration)
        unsubscribe = self.store.add_listener(self._on_change)
        try:
            self._initial_sync()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.operator.queue.run(), name="sandbox-kuberay-operator")
                self.started.set()
        finally:
            unsubscribe()
            plugins[:] = [p for p in plugins if p is not extended_resource_toleration]
            self.timers.close()
            self.started.clear()

    def _pod_unschedulable(self, key: tuple[str, str]) -> None:
        if self.node_autoscaler is not None:
            self.node_autoscaler.pod_unschedulable(key)

    def _node_usage(self, name: str) -> None:
        if self.node_autoscaler is not None:
            self.node_autoscaler.node_usage(name)

    def _initial_sync(self) -> None:
        """Register the node pool, then adopt what the store already holds, as controllers do
        after their first list."""
        for registered in self.node_objects():
            try:
                self.store.create("nodes", registered)
            except ApiError as err:  # a restarted simulation finds its nodes registered
                if err.reason != "AlreadyExists":
                    raise
        if self.node_autoscaler is not None:
            self.node_autoscaler.start()
        for rc in self.store.list_refs("rayclusters")[0]:
            self.operator.on_change("ADDED", "rayclusters", rc)
        for pod in self.store.list_refs("pods")[0]:
            self.scheduler.pod_changed("ADDED", pod)
            node = self._nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            if node is not None:
                self.kubelet.admit(pod, node)

    def _on_change(self, event: str, resource: str, obj: Obj) -> None:
        """Store listener (synchronous): record what changed, do the work later on the loop."""
        if self.timers.closed:
            return
        if resource in ("rayclusters", "services"):
            self.operator.on_change(event, resource, obj)
            if self.ray_autoscaler is not None and resource == "rayclusters":
                self.ray_autoscaler.cluster_changed(event, obj)
        elif resource == "pods":
            self.operator.on_change(event, resource, obj)
            if self.ray_autoscaler is not None:
                self.ray_autoscaler.pod_changed(event, obj)
            self.scheduler.pod_changed(event, obj)
            meta = obj["metadata"]
            if event == "DELETED":
                self.timers.later(0, self.kubelet.forget, meta["namespace"], meta["name"])
            elif meta.get("deletionTimestamp"):
                self.kubelet.terminate(obj)
            elif (meta["namespace"], meta["name"]) not in self.kubelet.runs:
                node_name = (obj.get("spec") or {}).get("nodeName")
                node = self._nodes.get(node_name or "")
                if node is not None and event == "ADDED":
                    self.timers.later(0, self.kubelet.admit, obj, node)  # created pre-bound

    # ------------------------------------------------------------------ logs
    def read_log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
    ) -> str:
        """``pods/log``: the container's current or previous log, or the API's 400/404."""
        obj = self.store.get_ref("pods", namespace, pod)
        spec = obj.get("spec") or {}
        names = [c["name"] for c in spec.get("containers") or ()]
        init_names = [c["name"] for c in spec.get("initContainers") or ()]
        if container is None:
            if len(names) != 1:
                message = (
                    f"a container name must be specified for pod {pod}, "
                    f"choose one of: [{' '.join(names)}]"
                )
                if init_names:
                    message += f" or one of the init containers: [{' '.join(init_names)}]"
                raise ApiError(400, "BadRequest", message)
            container = names[0]
        if container not in names and container not in init_names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {pod}")
        run = self.kubelet.runs.get((namespace, pod))
        if run is None:
            if not spec.get("nodeName"):
                return ""  # no host assigned yet: the API server streams nothing
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating',
            )
        found = run.container(container)
        assert found is not None
        lines = self.kubelet.read_log(run, found, previous=previous)
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        return "".join(f"{line}\n" for line in lines)

    # ----------------------------------------------------------------- nodes
    def node_objects(self) -> list[Obj]:
        """The node pool as v1 Node objects, registered in the store (``kubectl get nodes``)."""
        now = format_time(self.store.now())
        return [
            node_object(spec, self.kubelet.host_ip(spec.name), now) for spec in self.config.nodes
        ]
