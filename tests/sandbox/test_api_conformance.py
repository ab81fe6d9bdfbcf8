"""The sandbox answers HTTP like a Kubernetes API server: shapes, codes, reasons and headers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.apiclient import PODS, RAYCLUSTERS, TABLE, Api, pod, raycluster


async def test_discovery_documents_list_every_served_resource(api: Api) -> None:
    status, _, version = await api.call("GET", "/version")
    assert status == 200 and version["major"] == "1"
    _, _, core = await api.call("GET", "/api/v1")
    names = {r["name"] for r in core["resources"]}
    assert {
        "pods",
        "pods/status",
        "pods/log",
        "services",
        "events",
        "secrets",
        "namespaces",
        "serviceaccounts",
    } <= names
    _, _, groups = await api.call("GET", "/apis")
    assert {g["name"] for g in groups["groups"]} == {
        "ray.io",
        "apps",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
    }
    _, _, ray = await api.call("GET", "/apis/ray.io/v1")
    assert [r["name"] for r in ray["resources"]] == ["rayclusters", "rayclusters/status"]
    _, _, index = await api.call("GET", "/openapi/v3")
    assert "apis/ray.io/v1" in index["paths"]


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "reason", "message"),
    [
        ("GET", f"{PODS}/nope", None, 404, "NotFound", 'pods "nope" not found'),
        (
            "GET",
            f"{RAYCLUSTERS}/nope",
            None,
            404,
            "NotFound",
            'rayclusters.ray.io "nope" not found',
        ),
        (
            "POST",
            "/api/v1/namespaces/ghost/pods",
            pod("a"),
            404,
            "NotFound",
            'namespaces "ghost" not found',
        ),
        (
            "GET",
            "/api/v1/namespaces/default/widgets",
            None,
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        ("GET", PODS + "?labelSelector=a%20in%20(", None, 400, "BadRequest", None),
    ],
)
async def test_errors_are_status_objects_with_real_codes_and_reasons(
    api: Api, method: str, path: str, body: Any, code: int, reason: str, message: str | None
) -> None:
    status, _, answer = await api.call(method, path, body)
    assert status == code
    assert answer["kind"] == "Status" and answer["status"] == "Failure"
    assert (answer["code"], answer["reason"]) == (code, reason)
    if message:
        assert answer["message"] == message


async def test_create_twice_is_409_already_exists_and_stale_put_is_409_conflict(api: Api) -> None:
    status, _, created = await api.call("POST", PODS, pod("a"))
    assert status == 201
    status, _, again = await api.call("POST", PODS, pod("a"))
    assert (status, again["reason"]) == (409, "AlreadyExists")
    await api.call(
        "PATCH",
        f"{PODS}/a",
        {"metadata": {"labels": {"x": "1"}}},
        content_type="application/merge-patch+json",
    )
    status, _, stale = await api.call("PUT", f"{PODS}/a", created)
    assert (status, stale["reason"]) == (409, "Conflict")


async def test_generate_name_creates_a_unique_name(api: Api) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "worker-"}
    _, _, one = await api.call("POST", PODS, body)
    _, _, two = await api.call("POST", PODS, body)
    assert one["metadata"]["name"].startswith("worker-")
    assert one["metadata"]["name"] != two["metadata"]["name"]


async def test_invalid_raycluster_is_422_with_a_cause_per_field(api: Api) -> None:
    bad = raycluster()
    bad["spec"]["workerGroupSpecs"][0]["replicas"] = "two"
    del bad["spec"]["headGroupSpec"]["template"]
    status, _, answer = await api.call("POST", RAYCLUSTERS, bad)
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["message"].startswith('RayCluster.ray.io "rc" is invalid: ')
    fields = {c["field"] for c in answer["details"]["causes"]}
    assert fields == {"spec.headGroupSpec.template", "spec.workerGroupSpecs[0].replicas"}


async def test_field_validation_strict_refuses_unknown_fields_and_warn_prunes_them(
    api: Api,
) -> None:
    body = raycluster()
    body["spec"]["foo"] = 1
    status, _, strict = await api.call("POST", RAYCLUSTERS, body, fieldValidation="Strict")
    assert status == 400 and strict["reason"] == "BadRequest"
    assert strict["message"] == (
        'RayCluster in version "v1" cannot be handled as a RayCluster: '
        'strict decoding error: unknown field "spec.foo"'
    )
    status, headers, warned = await api.call("POST", RAYCLUSTERS, body, fieldValidation="Warn")
    assert status == 201 and "foo" not in warned["spec"]
    assert headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'


async def test_three_patch_formats_as_kubectl_sends_them(api: Api) -> None:
    await api.call("POST", PODS, pod("a"))
    smp = {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}
    _, _, merged = await api.call(
        "PATCH", f"{PODS}/a", smp, content_type="application/strategic-merge-patch+json"
    )
    container = merged["spec"]["containers"][0]
    assert container["image"] == "busybox"
    assert [e["name"] for e in container["env"]] == ["A", "B"]
    ops = [{"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:2"}]
    _, _, patched = await api.call(
        "PATCH", f"{PODS}/a", ops, content_type="application/json-patch+json"
    )
    assert patched["spec"]["containers"][0]["image"] == "busybox:2"
    _, _, labelled = await api.call(
        "PATCH",
        f"{PODS}/a",
        {"metadata": {"labels": {"k": "v"}}},
        content_type="application/merge-patch+json",
    )
    assert labelled["metadata"]["labels"] == {"k": "v"}
    await api.call("POST", RAYCLUSTERS, raycluster())
    status, _, refused = await api.call(
        "PATCH",
        f"{RAYCLUSTERS}/rc",
        {"spec": {}},
        content_type="application/strategic-merge-patch+json",
    )
    assert (status, refused["reason"]) == (415, "UnsupportedMediaType")


async def test_status_subresource_changes_only_status(api: Api) -> None:
    await api.call("POST", RAYCLUSTERS, raycluster())
    patch = {"status": {"state": "ready"}, "spec": {"suspend": True}}
    _, _, after = await api.call(
        "PATCH", f"{RAYCLUSTERS}/rc/status", patch, content_type="application/merge-patch+json"
    )
    assert after["status"] == {"state": "ready"} and "suspend" not in after["spec"]
    _, _, main = await api.call(
        "PATCH",
        f"{RAYCLUSTERS}/rc",
        {"status": {"state": "x"}},
        content_type="application/merge-patch+json",
    )
    assert main["status"] == {"state": "ready"}


async def test_list_pages_with_limit_and_continue(api: Api) -> None:
    for i in range(5):
        await api.call("POST", PODS, pod(f"p{i}"))
    names: list[str] = []
    token = ""
    while True:
        params = {"limit": "2"} | ({"continue": token} if token else {})
        _, _, page = await api.call("GET", PODS, query=params)
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == [f"p{i}" for i in range(5)]


async def test_tables_have_the_columns_kubectl_get_prints(api: Api) -> None:
    await api.call("POST", PODS, pod("a"))
    await api.call("POST", RAYCLUSTERS, raycluster())
    _, _, pods = await api.call("GET", PODS, headers={"Accept": TABLE})
    assert pods["kind"] == "Table"
    assert [c["name"] for c in pods["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert pods["rows"][0]["cells"][:4] == ["a", "0/1", "Pending", "0"]
    assert pods["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    _, _, rcs = await api.call("GET", RAYCLUSTERS, headers={"Accept": TABLE})
    assert [c["name"] for c in rcs["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "desired workers",
        "available workers",
        "cpus",
        "memory",
        "gpus",
        "status",
        "age",
    ]


async def test_delete_cascades_to_owned_pods_and_services(api: Api) -> None:
    _, _, rc = await api.call("POST", RAYCLUSTERS, raycluster())
    owner = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "rc",
        "uid": rc["metadata"]["uid"],
        "controller": True,
    }
    child = pod("rc-head")
    child["metadata"]["ownerReferences"] = [owner]
    await api.call("POST", PODS, child)
    svc = {
        "metadata": {"name": "rc-head-svc", "ownerReferences": [owner]},
        "spec": {"ports": [{"port": 6379}]},
    }
    await api.call("POST", "/api/v1/namespaces/default/services", svc)
    status, _, _ = await api.call("DELETE", f"{RAYCLUSTERS}/rc")
    assert status == 200
    _, _, pods = await api.call("GET", PODS)
    _, _, services = await api.call("GET", "/api/v1/namespaces/default/services")
    assert pods["items"] == [] and services["items"] == []


async def test_field_validation_covers_core_types_top_level_and_metadata(api: Api) -> None:
    body = pod("a")
    body["metadata"]["lables"] = {"x": "y"}
    body["spce"] = {}
    status, _, strict = await api.call("POST", PODS, body, fieldValidation="Strict")
    assert status == 400
    assert strict["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: '
        'strict decoding error: unknown field "spce", unknown field "metadata.lables"'
    )
    status, headers, created = await api.call("POST", PODS, body, fieldValidation="Ignore")
    assert status == 201 and "Warning" not in headers
    assert "spce" not in created and "lables" not in created["metadata"]


def _proto_field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        (
            b"k8s\x00" + _proto_field(1, _proto_field(1, b"v1") + _proto_field(2, b"Pod")),
            415,
            "UnsupportedMediaType",
        ),
        (b"not-protobuf", 400, "BadRequest"),
        (b"k8s\x00\x0a\xff", 400, "BadRequest"),
    ],
    ids=["undecodable-kind", "no-magic", "truncated"],
)
async def test_protobuf_bodies_the_sandbox_cannot_read_get_clear_errors(
    api: Api, body: bytes, code: int, reason: str
) -> None:
    headers = {
        "Content-Type": "application/vnd.kubernetes.protobuf",
        "Authorization": f"Bearer {api.sandbox.token}",
    }
    async with api.session.post(api.sandbox.url + PODS, data=body, headers=headers) as resp:
        answer = await resp.json()
    assert (resp.status, answer["reason"]) == (code, reason)
