"""Every user-facing sentence of cluster status, and the parsing of kubelet/scheduler messages.

``core.status`` decides *which* phase a cluster is in; this module says it in words: one reason
sentence and one hint per situation. Kept apart so the wording can be reviewed in one place and the
decision logic stays free of prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum


class PullProblem(StrEnum):
    """Why an image could not be pulled, as far as the kubelet's message tells."""

    NOT_FOUND = "not-found"
    NOT_FOUND_OR_DENIED = "not-found-or-denied"
    DENIED = "denied"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    INVALID = "invalid"
    NEVER_PULL = "never-pull"
    RATE_LIMITED = "rate-limited"
    UNKNOWN = "unknown"

    @property
    def passing(self) -> bool:
        """The kubelet's retry may succeed: a rate limit, a timeout, an unexplained failure."""
        return self in _PASSING_PULLS


# Order matters: Docker Hub's "pull access denied, repository does not exist or may require
# authorization" must be recognised before the plain "denied" and "does not exist" patterns.
# No bare status codes: digests, ports and IP addresses are full of digits.
_PULL_PATTERNS: tuple[tuple[PullProblem, tuple[str, ...]], ...] = (
    (PullProblem.INVALID, ("invalid reference format", "couldn't parse image")),
    (PullProblem.NEVER_PULL, ("pull policy of never",)),
    # Docker Hub answers 429 "toomanyrequests: You have reached your pull rate limit"
    # (docs.docker.com/docker-hub/usage/pulls); other registries say "rate limit" or 429.
    (PullProblem.RATE_LIMITED, ("toomanyrequests", "too many requests", "rate limit")),
    (PullProblem.NOT_FOUND_OR_DENIED, ("does not exist or may require authorization",)),
    (
        PullProblem.DENIED,
        (
            "unauthorized",
            "authentication required",
            "access denied",
            "access to the resource is denied",
            "insufficient_scope",
            "failed to authorize",
            "403 forbidden",
            "denied:",
        ),
    ),
    (
        PullProblem.NOT_FOUND,
        ("not found", "manifest unknown", "name unknown", "no such image", "does not exist"),
    ),
    (PullProblem.TIMEOUT, ("timeout", "timed out", "deadline exceeded")),
    (
        PullProblem.UNREACHABLE,
        ("no such host", "connection refused", "connection reset", "network is unreachable"),
    ),
)


_PASSING_PULLS = frozenset(
    {PullProblem.RATE_LIMITED, PullProblem.TIMEOUT, PullProblem.UNREACHABLE, PullProblem.UNKNOWN}
)


def classify_pull_error(waiting_reason: str, message: str) -> PullProblem:
    """Map a kubelet waiting reason plus the most detailed message we have to a problem."""
    if waiting_reason == "InvalidImageName":
        return PullProblem.INVALID
    if waiting_reason == "ErrImageNeverPull":
        return PullProblem.NEVER_PULL
    text = message.lower()
    for problem, needles in _PULL_PATTERNS:
        if any(needle in text for needle in needles):
            return problem
    return PullProblem.UNKNOWN


_PULL_REASON = {
    PullProblem.NOT_FOUND: "the image or its tag was not found in the registry",
    PullProblem.NOT_FOUND_OR_DENIED: "the registry says the repository does not exist or needs "
    "credentials",
    PullProblem.DENIED: "the registry denied access",
    PullProblem.TIMEOUT: "the registry did not answer in time",
    PullProblem.UNREACHABLE: "the registry could not be reached",
    PullProblem.INVALID: "the image name is not a valid image reference",
    PullProblem.NEVER_PULL: "its pull policy is Never and the node does not have it",
    PullProblem.RATE_LIMITED: "the registry's pull rate limit was reached",
    PullProblem.UNKNOWN: "the pull failed",
}

_PULL_HINT = {
    PullProblem.NOT_FOUND: "Check the image name and tag (`--image`): `docker pull {image}` should "
    "work from your machine.",
    PullProblem.NOT_FOUND_OR_DENIED: "Check the image name and tag (`--image`); if the image is "
    "private, ask an admin to add registry credentials (an imagePullSecret) to `{namespace}`.",
    PullProblem.DENIED: "Use a public image, or ask an admin to add registry credentials "
    "(an imagePullSecret) to namespace `{namespace}`.",
    PullProblem.TIMEOUT: "Check the registry address in the image name; Kubernetes keeps retrying, "
    "so a passing network problem resolves itself.",
    PullProblem.UNREACHABLE: "Check the registry's host name in the image (`--image`): the "
    "cluster cannot resolve or connect to it.",
    PullProblem.INVALID: "Use the form `registry/repository:tag`, in lowercase, with `--image`.",
    PullProblem.NEVER_PULL: "Use an image the nodes can pull, or an imagePullPolicy other than "
    "Never.",
    PullProblem.RATE_LIMITED: "The registry keeps refusing pulls: ask an admin for registry "
    "credentials (an imagePullSecret) in `{namespace}`, or a mirror of the image.",
    PullProblem.UNKNOWN: "Check the image name and tag (`--image`) and the registry credentials.",
}


def kubelet_detail(message: str) -> str:
    """The informative tail of a kubelet pull error, without the image name repeated twice.

    ``Failed to pull image "x": rpc error: code = NotFound desc = failed to resolve reference
    "x": x: not found`` becomes ``x: not found``.
    """
    flat = " ".join(message.split())
    tail = flat.rsplit('": ', 1)[-1]
    return tail.split("desc = ", 1)[-1] if "rpc error:" in tail else tail


def scheduler_detail(message: str) -> str:
    """The scheduler's verdict without its preemption post-script."""
    return message.split(" preemption: ", 1)[0].strip()


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def image_pull(
    *, container: str, pod: str, image: str, problem: PullProblem, namespace: str, detail: str
) -> tuple[str, str]:
    shown = f"`{image}`" if image else "its image"
    reason = f"{container} in {pod} cannot pull {shown}: {_PULL_REASON[problem]}"
    reason += f" ({_clip(kubelet_detail(detail), 200)})." if detail else "."
    return reason, _PULL_HINT[problem].format(image=image or "IMAGE", namespace=namespace)


def crash_loop(
    *,
    container: str,
    pod: str,
    namespace: str,
    last_reason: str | None,
    exit_code: int | None,
    restarts: int,
    memory_flag: str,
) -> tuple[str, str]:
    times = plural(restarts, "time")
    if last_reason == "OOMKilled":
        last = f"last exit OOMKilled (exit code {exit_code if exit_code is not None else 137})"
    elif exit_code is not None:
        last = f"last exit code {exit_code}" + (f" ({last_reason})" if last_reason else "")
    else:
        last = "no exit status recorded yet"
    reason = f"{container} in {pod} keeps crashing: {last}, restarted {times}."
    if last_reason == "OOMKilled":
        return reason, _oom_hint(memory_flag)
    logs = f"kubectl logs {pod} -n {namespace} -c {container} --previous"
    return reason, f"See why in its log (`{logs}`), then fix the image or its command."


def oom_restart(
    *, container: str, pod: str, exit_code: int | None, restarts: int, memory_flag: str
) -> tuple[str, str]:
    code = exit_code if exit_code is not None else 137
    reason = (
        f"{container} in {pod} ran out of memory and was restarted: last exit OOMKilled "
        f"(exit code {code}), restarted {plural(restarts, 'time')}."
    )
    return reason, _oom_hint(memory_flag)


def _oom_hint(memory_flag: str) -> str:
    return (
        f"Give the pod more memory with `{memory_flag}` (delete and recreate the cluster), "
        "or make the workload use less."
    )


def cannot_start(*, container: str, pod: str, waiting_reason: str, detail: str) -> tuple[str, str]:
    reason = f"{container} in {pod} cannot start ({waiting_reason})"
    reason += f": {_clip(detail)}" if detail else "."
    if not reason.endswith("."):
        reason += "."
    return reason, (
        "Check the secrets, config maps and volumes the pod refers to; they must exist in the "
        "cluster's namespace."
    )


def replica_failure(*, what: str, detail: str, name: str) -> tuple[str, str]:
    reason = f"KubeRay could not create {what}: {_clip(detail) or 'no details given'}"
    if not reason.endswith("."):
        reason += "."
    low = detail.lower()
    if "exceeded quota" in low or "quota" in low:
        hint = (
            "The namespace's quota is used up: delete a cluster you no longer need, ask for fewer "
            f"resources, or fewer workers with `/krayne scale {name} --workers N`."
        )
    elif "forbidden" in low or "admission" in low or "denied" in low:
        hint = "A cluster policy refused the pod; ask an admin what it allows."
    else:
        hint = f"Fix the cause above, then `/krayne delete {name}` and create it again."
    return reason, hint


def invalid_spec(*, event_reason: str, detail: str, name: str) -> tuple[str, str]:
    what = "metadata" if event_reason == "InvalidRayClusterMetadata" else "spec"
    reason = f"KubeRay rejected the cluster {what}: {_clip(detail) or event_reason}"
    if not reason.endswith("."):
        reason += "."
    return reason, (
        f"Delete it with `/krayne delete {name}` and create it again with valid settings; "
        f"`/krayne manifest {name} ...` previews what would be sent."
    )


def operator_warning(*, event_reason: str, detail: str, name: str) -> tuple[str, str]:
    reason = (
        f"KubeRay could not set the cluster up ({event_reason}): {_clip(detail) or 'no details'}"
    )
    if not reason.endswith("."):
        reason += "."
    return reason, (
        f"This usually needs an admin (permissions or quota); `/krayne delete {name}` removes it."
    )


def unschedulable(*, pod: str, requests: str, detail: str, name: str) -> tuple[str, str]:
    asks = f" (it asks for {requests})" if requests else ""
    verdict = _clip(scheduler_detail(detail)) or "no node can run it"
    reason = f"{pod}{asks} cannot be scheduled: {verdict}"
    if not reason.endswith("."):
        reason += "."
    low = detail.lower()
    scale = f"`/krayne scale {name} --workers N`"
    if "gpu" in low and "insufficient" in low:
        hint = (
            "Ask for fewer GPUs (`--gpus`), another GPU type (`--gpu-type`), "
            f"or fewer workers with {scale}."
        )
    elif "insufficient cpu" in low or "insufficient memory" in low:
        hint = (
            "Ask for less CPU or memory per pod (`--cpus`, `--memory`), "
            f"or fewer workers with {scale}."
        )
    elif "node affinity" in low or "node selector" in low or "nodeselector" in low:
        hint = "No node matches the pod's node selector: pick another GPU type with `--gpu-type`."
    elif "taint" in low:
        hint = "The nodes with room have taints the pod does not tolerate; ask an admin."
    else:
        hint = (
            f"Free capacity by deleting clusters you no longer need, or ask for less with {scale}."
        )
    return reason, hint


def pull_problem_text(problem: PullProblem) -> str:
    return _PULL_REASON[problem]


def waiting_for_node(*, pod: str, detail: str) -> str:
    return f"{pod} is waiting for a new node: {_clip(detail, 200)}."


def node_never_came(*, waited: str, detail: str) -> str:
    return f"a node autoscaler acted {waited} ago but no node took it ({scheduler_detail(detail)})"


def retrying(*, pod: str, what: str, detail: str, waited: str) -> str:
    shown = f" ({_clip(kubelet_detail(detail), 160)})" if detail else ""
    so_far = f" (for {waited} so far)" if waited != "0 s" else ""
    return f"{pod}: {what}{shown}; the kubelet keeps retrying{so_far}."


def init_stalled(
    *, pod: str, waited: str, address: str, head: str | None, namespace: str
) -> tuple[str, str]:
    reason = f"{pod} has waited {waited} for the head's Ray GCS at `{address}`."
    logs = f"kubectl logs {head} -n {namespace}" if head else "the head pod's log"
    return reason, (
        f"The workers cannot reach the GCS: check that the head is healthy (`{logs}`) and that no "
        "NetworkPolicy blocks port 6379 between the cluster's pods."
    )


# --- progress (nothing is wrong; these say what is being waited for) ---

DELETING = "The cluster is being deleted."
DELETED = "The cluster has been deleted."
DELETING_PODS = "The cluster is being deleted; {pods} still shutting down."
SUSPENDED = "The cluster is suspended: all its pods are stopped."
SUSPENDING = "The cluster is suspending; {pods} still shutting down."
SUSPENDED_HINT = (
    "Resume it with `/krayne resume {name}`, or delete it with `/krayne delete {name}`."
)
CREATING = "Waiting for KubeRay to create the head pod."
CREATING_HEAD_GONE = "The head pod is gone; waiting for KubeRay to create a new one."
CREATING_NO_STATUS = "KubeRay has not picked the cluster up yet ({age} without any status)."
CREATING_NO_STATUS_HINT = (
    "If this lasts, ask an admin to check that the KubeRay operator is running."
)
PODS_PENDING = "{pod} is waiting to be scheduled onto a node."
CONTAINERS_CREATING = "{pod} is starting: {container} is {state}."
POD_STARTING = "{pod} has a node and is starting its containers."
WAITING_FOR_GCS = "{pod} is waiting for the head's Ray GCS to come up ({state})."
HEAD_NOT_READY = "The head pod {pod} is running; waiting for Ray on it to become ready."
WORKERS_NOT_READY = "{ready}/{desired} workers are ready; waiting for {pod}."
WORKERS_MISSING = "{ready}/{desired} workers are ready; KubeRay is creating the rest."
READY = "The head and {workers} are ready."
READY_NO_WORKERS = "The head is ready (no workers requested)."
UNKNOWN = "The cluster's state is not known yet."


def age_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes >= 1 else f"{int(seconds)} s"


def _clip(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- resource requests, for "it asks for 1 CPU, 4Gi memory and 1 nvidia.com/gpu" ---

def format_requests(totals: Mapping[str, Decimal]) -> str:
    parts: list[str] = []
    for key, value in totals.items():
        if key == "cpu":
            cpus = value.normalize()
            shown = f"{int(value * 1000)}m" if value < 1 else f"{cpus:f}"
            parts.append(f"{shown} CPU" if value <= 1 else f"{shown} CPUs")
        elif key == "memory":
            parts.append(f"{_bytes(value)} memory")
        elif key != "ephemeral-storage":
            parts.append(f"{value.normalize():f} {key}")
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else ""


def _bytes(value: Decimal) -> str:
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            shown = (value / size).quantize(Decimal("0.1")).normalize()
            return f"{shown:f}{unit}"
    return f"{int(value)}B"
