"""DELETE follows the registry and the garbage collector: finalizers and propagation policies."""

from __future__ import annotations

from typing import Any

from tests.sandbox.apiclient import Api

CM = "/api/v1/namespaces/default/configmaps"


async def _configmap(api: Api, name: str, *owners: dict[str, Any], **meta: Any) -> dict[str, Any]:
    refs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"],
         "uid": o["metadata"]["uid"], "blockOwnerDeletion": True}
        for o in owners
    ]  # fmt: skip
    body = {"metadata": {"name": name, **({"ownerReferences": refs} if refs else {}), **meta}}
    status, _, created = await api.call("POST", CM, body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


async def _get(api: Api, name: str) -> dict[str, Any] | None:
    status, _, obj = await api.call("GET", f"{CM}/{name}")
    return obj if status == 200 else None  # type: ignore[no-any-return]


async def _delete(api: Api, name: str, **options: Any) -> tuple[int, Any]:
    body = {"kind": "DeleteOptions", "apiVersion": "v1", **options}
    status, _, obj = await api.call("DELETE", f"{CM}/{name}", body)
    return status, obj


async def test_background_removes_the_owner_at_once_then_its_dependents(api: Api) -> None:
    owner = await _configmap(api, "owner")
    await _configmap(api, "child", owner)
    status, gone = await _delete(api, "owner", propagationPolicy="Background")
    assert status == 200 and gone["metadata"]["name"] == "owner"
    assert await _get(api, "owner") is None
    assert await _get(api, "child") is None


async def test_foreground_keeps_the_owner_until_blocking_dependents_are_gone(api: Api) -> None:
    owner = await _configmap(api, "owner")
    await _configmap(api, "free", owner)
    await _configmap(api, "held", owner, finalizers=["example.com/hold"])
    status, marked = await _delete(api, "owner", propagationPolicy="Foreground")
    assert status == 200
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert marked["metadata"]["deletionTimestamp"]
    assert await _get(api, "free") is None
    held = await _get(api, "held")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    still = await _get(api, "owner")
    assert still is not None and still["metadata"]["finalizers"] == ["foregroundDeletion"]
    patch = {"metadata": {"finalizers": None}}
    status, _, _ = await api.call(
        "PATCH", f"{CM}/held", patch, content_type="application/merge-patch+json"
    )
    assert status == 200
    assert await _get(api, "held") is None
    assert await _get(api, "owner") is None


async def test_orphan_keeps_dependents_without_the_owner_reference(api: Api) -> None:
    owner = await _configmap(api, "owner")
    other = await _configmap(api, "other-owner")
    await _configmap(api, "child", owner, other)
    status, _ = await _delete(api, "owner", propagationPolicy="Orphan")
    assert status == 200
    assert await _get(api, "owner") is None
    child = await _get(api, "child")
    assert child is not None
    assert [r["name"] for r in child["metadata"]["ownerReferences"]] == ["other-owner"]


async def test_deprecated_orphan_dependents_option_still_orphans(api: Api) -> None:
    owner = await _configmap(api, "owner")
    await _configmap(api, "child", owner)
    await _delete(api, "owner", orphanDependents=True)
    child = await _get(api, "child")
    assert child is not None and "ownerReferences" not in child["metadata"]


async def test_a_dependent_with_another_live_owner_only_loses_the_dangling_reference(
    api: Api,
) -> None:
    first, second = await _configmap(api, "first"), await _configmap(api, "second")
    await _configmap(api, "shared", first, second)
    await _delete(api, "first")
    shared = await _get(api, "shared")
    assert shared is not None
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["second"]
    await _delete(api, "second")
    assert await _get(api, "shared") is None


async def test_an_object_with_a_finalizer_waits_for_it_to_be_removed(api: Api) -> None:
    await _configmap(api, "guarded", finalizers=["example.com/cleanup"])
    status, marked = await _delete(api, "guarded")
    assert status == 200 and marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    again, _ = await _delete(api, "guarded")
    assert again == 200  # deleting again while pending is not an error
    status, _, _ = await api.call(
        "PATCH",
        f"{CM}/guarded",
        {"metadata": {"finalizers": []}},
        content_type="application/merge-patch+json",
    )
    assert status == 200 and await _get(api, "guarded") is None


async def test_unknown_propagation_policy_is_invalid(api: Api) -> None:
    await _configmap(api, "x")
    status, error = await _delete(api, "x", propagationPolicy="Sideways")
    assert status == 422 and 'Unsupported value: "Sideways"' in error["message"]
    assert await _get(api, "x") is not None


async def test_unscheduled_pods_go_at_once_even_with_a_grace_period(api: Api) -> None:
    api.sandbox.store.graceful_pods = True
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert (await api.call("POST", "/api/v1/namespaces/default/pods", body))[0] == 201
    status, _, _ = await api.call(
        "DELETE", "/api/v1/namespaces/default/pods/p", {"gracePeriodSeconds": 30}
    )
    assert status == 200
    assert (await api.call("GET", "/api/v1/namespaces/default/pods/p"))[0] == 404
