"""The store behaves like etcd behind an API server: versions, conflicts, cascades, watches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.sandbox.apiserver.eventlog import expire_events
from core.sandbox.apiserver.store import ApiError, Store
from core.sandbox.apiserver.watches import Change


def _pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


@pytest.fixture
def store() -> Store:
    s = Store(seed=1)
    for ns in ("default", "other"):
        s.create("namespaces", {"metadata": {"name": ns}})
    return s


def _drain(watch: Any) -> list[tuple[str, str]]:
    out = []
    while not watch.queue.empty():
        change: Change | None = watch.queue.get_nowait()
        if change is None:
            out.append(("CLOSED", ""))
        else:
            out.append((change.type, change.obj["metadata"]["name"]))
    return out


def test_create_fills_identity_and_bumps_the_global_resource_version(store: Store) -> None:
    before = int(store.resource_version)
    pod = store.create("pods", _pod("a"))
    meta = pod["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) == before + 1
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    assert pod["status"]["phase"] == "Pending"


def test_generate_name_appends_a_random_suffix(store: Store) -> None:
    pod = store.create(
        "pods", {**_pod(""), "metadata": {"generateName": "w-", "namespace": "default"}}
    )
    assert pod["metadata"]["name"].startswith("w-") and len(pod["metadata"]["name"]) == 7


@pytest.mark.parametrize(
    ("resource", "obj", "code", "reason"),
    [
        ("pods", _pod("a", ns="missing"), 404, "NotFound"),
        ("pods", _pod("Bad_Name"), 422, "Invalid"),
        ("pods", {"metadata": {"namespace": "default"}, "spec": {}}, 422, "Invalid"),
        ("services", {"metadata": {"name": "1svc", "namespace": "default"}}, 422, "Invalid"),
    ],
)
def test_create_refuses_what_the_api_server_refuses(
    store: Store, resource: str, obj: dict[str, Any], code: int, reason: str
) -> None:
    with pytest.raises(ApiError) as caught:
        store.create(resource, obj)
    assert (caught.value.code, caught.value.reason) == (code, reason)
    assert caught.value.to_status()["kind"] == "Status"


def test_duplicate_create_is_409_already_exists(store: Store) -> None:
    store.create("pods", _pod("a"))
    with pytest.raises(ApiError) as caught:
        store.create("pods", _pod("a"))
    assert caught.value.reason == "AlreadyExists"
    assert caught.value.message == 'pods "a" already exists'


def test_update_with_a_stale_resource_version_is_409_conflict(store: Store) -> None:
    first = store.create("pods", _pod("a"))
    store.merge_patch("pods", "default", "a", {"metadata": {"labels": {"x": "1"}}})
    with pytest.raises(ApiError) as caught:
        store.update("pods", first)
    assert caught.value.code == 409 and caught.value.reason == "Conflict"
    assert "the object has been modified" in caught.value.message


def test_main_update_keeps_status_and_status_update_keeps_spec(store: Store) -> None:
    store.create("pods", _pod("a"))
    running = store.merge_patch(
        "pods", "default", "a", {"status": {"phase": "Running"}}, subresource="status"
    )
    changed = dict(running, status={"phase": "Failed"}, spec={**running["spec"], "nodeName": "n1"})
    after = store.update("pods", changed)
    assert after["status"]["phase"] == "Running" and after["spec"]["nodeName"] == "n1"
    only_status = store.update(
        "pods", dict(after, spec={}, status={"phase": "Succeeded"}), subresource="status"
    )
    assert only_status["spec"]["nodeName"] == "n1" and only_status["status"]["phase"] == "Succeeded"


def test_a_no_op_update_does_not_bump_the_resource_version(store: Store) -> None:
    pod = store.create("pods", _pod("a"))
    assert (
        store.update("pods", pod)["metadata"]["resourceVersion"]
        == pod["metadata"]["resourceVersion"]
    )


def test_returned_objects_are_copies(store: Store) -> None:
    store.create("pods", _pod("a", app="x"))
    got = store.get("pods", "default", "a")
    got["metadata"]["labels"]["app"] = "changed"
    assert store.get("pods", "default", "a")["metadata"]["labels"]["app"] == "x"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("ray.io/cluster=c1", ["h1", "w1"]),
        ("ray.io/cluster==c1,ray.io/node-type=head", ["h1"]),
        ("ray.io/cluster!=c1", ["h2", "plain"]),
        ("ray.io/cluster in (c1,c2)", ["h1", "h2", "w1"]),
        ("ray.io/cluster notin (c1)", ["h2", "plain"]),
        ("ray.io/cluster", ["h1", "h2", "w1"]),
        ("!ray.io/cluster", ["plain"]),
    ],
)
def test_label_selectors(store: Store, selector: str, expected: list[str]) -> None:
    store.create("pods", _pod("h1", **{"ray.io/cluster": "c1", "ray.io/node-type": "head"}))
    store.create("pods", _pod("w1", **{"ray.io/cluster": "c1", "ray.io/node-type": "worker"}))
    store.create("pods", _pod("h2", ns="other", **{"ray.io/cluster": "c2"}))
    store.create("pods", _pod("plain"))
    items, _ = store.list("pods", label_selector=selector)
    assert sorted(o["metadata"]["name"] for o in items) == expected


def test_field_selectors_and_unsupported_fields(store: Store) -> None:
    store.create("pods", _pod("a"))
    store.create("pods", _pod("b"))
    store.merge_patch(
        "pods", "default", "b", {"status": {"phase": "Running"}}, subresource="status"
    )
    running, _ = store.list("pods", "default", field_selector="status.phase=Running")
    by_name, _ = store.list("pods", "default", field_selector="metadata.name=a")
    assert [o["metadata"]["name"] for o in running] == ["b"]
    assert [o["metadata"]["name"] for o in by_name] == ["a"]
    with pytest.raises(ApiError) as caught:
        store.list("pods", field_selector="spec.bogus=1")
    assert caught.value.code == 400 and "field label not supported" in caught.value.message


def test_delete_cascades_to_owned_objects_and_namespaces_empty_out(store: Store) -> None:
    owner = store.create("pods", _pod("owner"))
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": owner["metadata"]["uid"]}
    child = _pod("child")
    child["metadata"]["ownerReferences"] = [ref]
    store.create("pods", child)
    store.create(
        "services", {"metadata": {"name": "svc", "namespace": "default", "ownerReferences": [ref]}}
    )
    store.delete("pods", "default", "owner")
    assert store.list("pods", "default")[0] == []
    assert store.list("services", "default")[0] == []
    store.create("pods", _pod("x", ns="other"))
    store.delete("namespaces", None, "other")
    assert store.list("pods", "other")[0] == []


def test_listeners_see_changes_in_order_even_when_they_write(store: Store) -> None:
    seen: list[tuple[str, str, str]] = []

    def listener(kind: str, resource: str, obj: dict[str, Any]) -> None:
        seen.append((kind, resource, obj["metadata"]["name"]))
        if resource == "pods" and kind == "ADDED":
            store.record_event(
                obj, type="Normal", reason="Scheduled", message="ok", component="default-scheduler"
            )

    unsubscribe = store.add_listener(listener)
    store.create("pods", _pod("a"))
    unsubscribe()
    store.create("pods", _pod("b"))
    assert [s[:2] for s in seen] == [("ADDED", "pods"), ("ADDED", "events")]


def test_repeated_events_are_aggregated_with_count_and_timestamps() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = Store(clock=lambda: now[0])
    store.create("namespaces", {"metadata": {"name": "default"}})
    pod = store.create("pods", _pod("a"))
    first = store.record_event(
        pod, type="Warning", reason="BackOff", message="restarting", component="kubelet"
    )
    now[0] += timedelta(minutes=2)
    again = store.record_event(
        pod, type="Warning", reason="BackOff", message="restarting", component="kubelet"
    )
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert again["count"] == 2
    assert (again["firstTimestamp"], again["lastTimestamp"]) == (
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:02:00Z",
    )
    assert again["involvedObject"] | {} == again["involvedObject"]
    assert again["involvedObject"]["kind"] == "Pod" and again["source"]["component"] == "kubelet"
    assert again["eventTime"] is None and again["reportingComponent"] == "kubelet"


def test_watch_from_a_resource_version_replays_later_changes_only(store: Store) -> None:
    store.create("pods", _pod("before"))
    rv = store.resource_version
    store.create("pods", _pod("after"))
    watch = store.watch("pods", "default", resource_version=rv)
    store.delete("pods", "default", "before")
    assert _drain(watch) == [("ADDED", "after"), ("DELETED", "before")]


def test_watch_without_resource_version_starts_with_what_exists(store: Store) -> None:
    store.create("pods", _pod("a"))
    watch = store.watch("pods", "default")
    assert _drain(watch) == [("ADDED", "a")]


def test_label_change_moves_objects_in_and_out_of_a_selector_watch(store: Store) -> None:
    store.create("pods", _pod("a"))
    watch = store.watch(
        "pods", "default", resource_version=store.resource_version, label_selector="app=x"
    )
    store.merge_patch("pods", "default", "a", {"metadata": {"labels": {"app": "x"}}})
    store.merge_patch("pods", "default", "a", {"metadata": {"labels": {"other": "1"}}})
    store.merge_patch("pods", "default", "a", {"metadata": {"labels": {"app": "y"}}})
    assert _drain(watch) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_history_is_bounded_and_older_resource_versions_are_gone() -> None:
    store = Store(history_limit=5)
    store.create("namespaces", {"metadata": {"name": "default"}})
    start = store.resource_version
    for i in range(10):
        store.create("pods", _pod(f"p{i}"))
    with pytest.raises(ApiError) as caught:
        store.watch("pods", "default", resource_version=start)
    assert caught.value.code == 410 and caught.value.reason == "Expired"
    assert caught.value.message.startswith(f"too old resource version: {start} (")
    recent = store.watch("pods", "default", resource_version=str(int(store.resource_version) - 2))
    assert len(_drain(recent)) == 2


def test_expire_history_forces_410_for_any_earlier_version(store: Store) -> None:
    store.create("pods", _pod("a"))
    rv = store.resource_version
    store.expire_history()
    with pytest.raises(ApiError):
        store.watch("pods", "default", resource_version=rv)
    store.watch("pods", "default", resource_version=store.resource_version)


def test_a_watch_that_falls_too_far_behind_is_closed(store: Store) -> None:
    watch = store.watch("pods", "default", resource_version=store.resource_version, max_queue=3)
    for i in range(5):
        store.create("pods", _pod(f"p{i}"))
    assert watch.closed and watch.overflowed
    assert _drain(watch)[-1] == ("CLOSED", "")


def test_raycluster_spec_changes_bump_generation_status_changes_do_not(store: Store) -> None:
    rc = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc", "namespace": "default"},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}
                },
            }
        },
    }
    created = store.create("rayclusters", rc)
    assert created["metadata"]["generation"] == 1
    status = store.merge_patch(
        "rayclusters", "default", "rc", {"status": {"state": "ready"}}, subresource="status"
    )
    assert status["metadata"]["generation"] == 1
    spec = store.merge_patch("rayclusters", "default", "rc", {"spec": {"suspend": True}})
    assert spec["metadata"]["generation"] == 2 and spec["status"] == {"state": "ready"}


def test_events_older_than_the_ttl_are_deleted() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = Store(clock=lambda: now[0])
    store.create("namespaces", {"metadata": {"name": "default"}})
    pod = store.create("pods", _pod("a"))
    store.record_event(pod, type="Normal", reason="Old", message="m", component="kubelet")
    now[0] += timedelta(minutes=50)
    store.record_event(pod, type="Normal", reason="Recent", message="m", component="kubelet")
    now[0] += timedelta(minutes=20)
    assert expire_events(store, timedelta(hours=1)) == 1
    assert [e["reason"] for e in store.list("events")[0]] == ["Recent"]
