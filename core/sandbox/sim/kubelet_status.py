"""What the simulated kubelet reports: a pod's runtime state rendered as ``.status``, and log text.

The kubelet keeps one ``PodRun`` per pod it runs; ``render_status`` turns it into exactly the
shape a real kubelet writes (phase, the five conditions with their reasons and transition
times, init and app container statuses with waiting/running/terminated and ``lastState``), and
``log_error`` gives the API server's answer when logs are not available yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.sandbox.sim.simconfig import NodeSpec

Obj = dict[str, Any]


@dataclass
class ContainerRun:
    name: str
    image: str
    init: bool
    pull_policy: str
    probed: bool  # has a readiness probe: Ready only after the readiness delay
    state: Obj = field(default_factory=dict)
    last_state: Obj = field(default_factory=dict)
    ready: bool = False
    started_once: bool = False
    restart_count: int = 0
    image_id: str = ""
    container_id: str = ""
    logs: list[str] = field(default_factory=list)
    previous_logs: list[str] | None = None
    started_mono: float = 0.0  # loop time of the current start (wait-gcs-ready's log)
    pull_backoff: float = 0.0
    last_error: str = ""  # the pull error while in ErrImagePull/ImagePullBackOff
    pending: bool = False  # being pulled/created/started right now
    killed: bool = False  # stopped because its pod is being deleted (Killing already recorded)

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def completed(self) -> bool:
        done = self.state.get("terminated") or {}
        return bool(done) and done.get("exitCode") == 0

    def status(self) -> Obj:
        out: Obj = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.running,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


@dataclass
class PodRun:
    namespace: str
    name: str
    uid: str
    node: NodeSpec
    host_ip: str
    cluster: str
    is_head: bool
    restart_policy: str
    qos_class: str
    init: list[ContainerRun]
    main: list[ContainerRun]
    scheduled_at: str
    start_time: str
    pod_ip: str = ""
    sandbox_ready: bool = False
    failed: bool = False
    timers: set[Any] = field(default_factory=set)
    cond_times: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def initialized(self) -> bool:
        return all(c.completed for c in self.init)

    @property
    def ready(self) -> bool:
        return self.initialized and all(c.ready for c in self.main) and not self.failed

    def container(self, name: str) -> ContainerRun | None:
        return next((c for c in [*self.init, *self.main] if c.name == name), None)

    def involved(self, container: ContainerRun | None = None) -> Obj:
        ref: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
        }
        if container is not None:
            kind = "initContainers" if container.init else "containers"
            ref["fieldPath"] = f"spec.{kind}{{{container.name}}}"
        return ref


def _condition(run: PodRun, kind: str, ok: bool, now: str, reason: str = "", msg: str = "") -> Obj:
    status = "True" if ok else "False"
    previous = run.cond_times.get(kind)
    if previous is None or previous[0] != status:
        run.cond_times[kind] = (status, now)
    cond: Obj = {"type": kind, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": run.cond_times[kind][1]}  # fmt: skip
    if not ok and reason:
        cond["reason"], cond["message"] = reason, msg
    return cond


def render_status(run: PodRun, now: str) -> Obj:
    """The pod's ``.status`` as the kubelet writes it."""
    if run.failed:
        phase = "Failed"
    elif any(c.started_once for c in run.main):
        phase = "Running"
    else:
        phase = "Pending"
    incomplete = [c.name for c in run.init if not c.completed]
    unready = [c.name for c in run.main if not c.ready]
    ready_msg = f"containers with unready status: [{' '.join(unready)}]"
    conditions = [
        _condition(run, "PodReadyToStartContainers", run.sandbox_ready and not run.failed, now),
        _condition(run, "Initialized", not incomplete, now, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(incomplete)}]"),
        _condition(run, "Ready", run.ready, now, "ContainersNotReady", ready_msg),
        _condition(run, "ContainersReady", run.ready, now, "ContainersNotReady", ready_msg),
    ]  # fmt: skip
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": run.scheduled_at,
        }  # fmt: skip
    )
    status: Obj = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": run.host_ip,
        "hostIPs": [{"ip": run.host_ip}],
        "startTime": run.start_time,
        "qosClass": run.qos_class,
        "containerStatuses": [c.status() for c in run.main],
    }
    if run.pod_ip:
        status["podIP"] = run.pod_ip
        status["podIPs"] = [{"ip": run.pod_ip}]
    if run.init:
        status["initContainerStatuses"] = [c.status() for c in run.init]
    return status


def waiting_reason(run: PodRun, container: ContainerRun) -> str:
    """The reason a container that has not started waits with, before any failure."""
    if container.init:
        return "PodInitializing"
    return "ContainerCreating" if run.initialized else "PodInitializing"


def log_error(pod_name: str, container: ContainerRun, *, previous: bool) -> str | None:
    """kubelet's ``validateContainerLogStatus``: why there are no logs, or None if there are."""
    name = container.name
    terminated_before = container.last_state.get("terminated")
    if previous:
        if not terminated_before:
            return f'previous terminated container "{name}" in pod "{pod_name}" not found'
        return None
    if container.running or container.state.get("terminated") or terminated_before:
        return None
    waiting = container.state.get("waiting") or {}
    reason = waiting.get("reason", "")
    if reason == "ErrImagePull":
        return f'container "{name}" in pod "{pod_name}" is waiting to start: image can\'t be pulled'
    if reason == "ImagePullBackOff":
        return (
            f'container "{name}" in pod "{pod_name}" is waiting to start: '
            "trying and failing to pull image"
        )
    return f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}'


def ray_start_log(stamp: str, ip: str, *, head: bool, address: str) -> list[str]:
    """What ``ray start --block`` prints, with ``stamp`` as the log timestamp."""
    if head:
        body = [
            "INFO usage_lib.py:473 -- Usage stats collection is enabled by default without user "
            "confirmation because this terminal is detected to be non-interactive. To disable "
            "this, add `--disable-usage-stats` to the command that starts the cluster, or run "
            "the following command: `ray disable-usage-stats` before starting the cluster. See "
            "https://docs.ray.io/en/master/cluster/usage-stats.html for more details.",
            "INFO scripts.py:904 -- Local node IP: " + ip,
            "SUCC scripts.py:940 -- --------------------",
            "SUCC scripts.py:941 -- Ray runtime started.",
            "SUCC scripts.py:942 -- --------------------",
            "INFO scripts.py:944 -- Next steps",
            "INFO scripts.py:947 -- To add another node to this Ray cluster, run",
            f"INFO scripts.py:950 --   ray start --address='{ip}:6379'",
            "INFO scripts.py:959 -- To connect to this Ray cluster:",
            "INFO scripts.py:961 -- import ray",
            "INFO scripts.py:962 -- ray.init()",
            "INFO scripts.py:976 -- To submit a Ray job using the Ray Jobs CLI:",
            f"INFO scripts.py:977 --   RAY_ADDRESS='http://{ip}:8265' ray job submit "
            "--working-dir . -- python my_script.py",
            "INFO scripts.py:1007 -- --block",
            "INFO scripts.py:1008 -- This command will now block forever until terminated by a "
            "signal.",
        ]
    else:
        body = [
            "INFO scripts.py:1080 -- Local node IP: " + ip,
            "SUCC scripts.py:1096 -- --------------------",
            "SUCC scripts.py:1097 -- Ray runtime started.",
            "SUCC scripts.py:1098 -- --------------------",
            f"INFO scripts.py:1100 -- To terminate the Ray runtime, run (connected to {address})",
            "INFO scripts.py:1101 --   ray stop",
            "INFO scripts.py:1007 -- --block",
            "INFO scripts.py:1008 -- This command will now block forever until terminated by a "
            "signal.",
        ]
    return [f"{stamp}\t{line}" for line in body]


def go_duration(seconds: float) -> str:
    """Go's time.Duration formatting for whole seconds: ``10s``, ``2m40s``, ``5m0s``."""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
