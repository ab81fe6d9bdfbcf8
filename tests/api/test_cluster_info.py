"""Summaries and details read off live objects (core.cluster_info), without a server."""

from __future__ import annotations

from typing import Any

from core.cluster_info import details_from, pods_by_cluster, summary_from
from core.config import build_config
from core.status import Phase
from manifests.raycluster import build_raycluster
from tests.unit.kube_objects import NOW, event, head, pod, ts, waiting, worker

SLACK = {
    "krayne.io/slack-team": "T1",
    "krayne.io/slack-channel": "C1",
    "krayne.io/slack-thread-ts": "1700000000.000100",
}


def _cluster(**config: Any) -> dict[str, Any]:
    body = build_raycluster(
        build_config({"name": "demo", **config}), owner="U123", annotations=SLACK
    )
    body["metadata"].update(uid="uid-demo", resourceVersion="7", creationTimestamp=ts(5))
    return body


def test_summary_carries_owner_slack_thread_and_creation_time() -> None:
    summary = summary_from(_cluster(), [], [], NOW)
    assert (summary.name, summary.namespace, summary.owner) == ("demo", "default", "U123")
    assert summary.slack is not None
    assert (summary.slack.team, summary.slack.channel) == ("T1", "C1")
    assert summary.slack.thread_ts == "1700000000.000100"
    assert summary.created_at is not None and summary.created_at.isoformat() == ts(5)[:-1] + (
        "+00:00"
    )
    assert summary.status.phase is Phase.CREATING


def test_cluster_without_slack_annotations_has_no_thread() -> None:
    body = build_raycluster(build_config({"name": "demo"}))
    assert summary_from(body, [], [], NOW).slack is None


def test_gpus_count_every_desired_worker_of_every_group() -> None:
    cluster = _cluster(
        worker_groups=[
            {"name": "gpu", "replicas": 2, "max_replicas": 4, "gpus": 2},
            {"name": "cpu", "replicas": 3, "max_replicas": 3},
        ]
    )
    assert summary_from(cluster, [], [], NOW).gpus == 4


def test_ready_and_desired_workers_come_from_live_pods() -> None:
    cluster = _cluster(worker_groups=[{"name": "worker", "replicas": 2, "max_replicas": 2}])
    pods = [head(), worker("a1"), worker("b2", ready=False)]
    summary = summary_from(cluster, pods, [], NOW)
    assert (summary.ready_workers, summary.desired_workers) == (1, 2)
    assert summary.status.phase is Phase.RUNNING


def test_pods_are_grouped_by_namespace_and_cluster_label() -> None:
    other = pod("other-head-1", cluster="other", node_type="head")
    grouped = pods_by_cluster([head(), worker(), other, {"metadata": {"name": "stray"}}])
    assert sorted(grouped) == [("default", "demo"), ("default", "other")]
    assert len(grouped[("default", "demo")]) == 2


def test_details_show_head_groups_endpoints_and_services() -> None:
    cluster = _cluster(
        head={"cpus": 2, "memory": "8Gi"},
        worker_groups=[{"name": "worker", "replicas": 1, "gpus": 1, "gpu_type": "nvidia-l4"}],
        services={"ssh": False},
    )
    ready_head = head()
    ready_head["status"]["podIP"] = "10.0.0.7"
    details = details_from(cluster, [ready_head, worker()], [], NOW)
    assert details.head.cpus == "2" and details.head.memory == "8Gi"
    assert details.head.pod_name == "demo-head-x7k2p" and details.head.pod_ip == "10.0.0.7"
    assert details.head.ready
    (group,) = details.worker_groups
    assert (group.name, group.replicas, group.ready, group.gpus) == ("worker", 1, 1, 1)
    assert group.gpu_type == "nvidia-l4" and group.image.endswith("-gpu")
    assert details.head_service == "demo-head-svc.default.svc.cluster.local"
    assert details.endpoints["dashboard"] == 8265 and details.endpoints["client"] == 10001
    assert details.services == ("notebook", "code-server")


def test_details_keep_the_ten_latest_warnings_about_this_cluster_only() -> None:
    cluster = _cluster()
    stuck = worker("zz", ready=False, containers=[waiting("ray-worker", "ImagePullBackOff")])
    events = [
        event("Pod", stuck["metadata"]["name"], "Failed", f"pull failed #{i}", minutes_ago=i,
              uid=f"e{i}")
        for i in range(12)
    ]  # fmt: skip
    events += [
        event("Pod", "other-worker-1", "Failed", "not ours"),
        event("RayCluster", "demo", "InvalidRayClusterSpec", "bad", minutes_ago=20),
        event("Pod", stuck["metadata"]["name"], "Pulled", "normal", type_="Normal"),
    ]
    details = details_from(cluster, [head(), stuck], events, NOW)
    messages = [e.message for e in details.warning_events]
    assert messages == [f"pull failed #{i}" for i in range(10)]
    first = details.warning_events[0]
    assert first.object_name == f"pod/{stuck['metadata']['name']}" and first.count == 1
    # the operator's warning about the RayCluster reached the status too (failed is worst first)
    assert details.summary.status.phase is Phase.FAILED
