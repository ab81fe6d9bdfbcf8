"""The RayCluster CRD is served as an installed, established CustomResourceDefinition."""

from __future__ import annotations

from core.sandbox.apiserver.discovery import raycluster_crd
from tests.sandbox.apiclient import Api

CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayclusters.ray.io"


async def test_sdk_preflight_get_finds_the_shipped_crd(api: Api) -> None:
    status, _, crd = await api.call("GET", CRD)
    assert status == 200
    assert (crd["apiVersion"], crd["kind"]) == (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
    )
    assert crd["spec"] == raycluster_crd()["spec"]
    assert crd["metadata"]["uid"] and crd["metadata"]["creationTimestamp"]


async def test_crd_status_is_what_the_apiextensions_controllers_write(api: Api) -> None:
    _, _, crd = await api.call("GET", CRD)
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["Established"]["status"] == "True"
    assert conditions["Established"]["reason"] == "InitialNamesAccepted"
    assert conditions["NamesAccepted"]["status"] == "True"
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert all(c["lastTransitionTime"] for c in conditions.values())
    assert crd["status"]["acceptedNames"] == {
        "categories": ["all"],
        "kind": "RayCluster",
        "listKind": "RayClusterList",
        "plural": "rayclusters",
        "singular": "raycluster",
    }
    assert crd["status"]["storedVersions"] == ["v1"]


async def test_discovery_lists_apiextensions_as_read_only_and_cluster_scoped(api: Api) -> None:
    _, _, group = await api.call("GET", "/apis/apiextensions.k8s.io")
    assert group["preferredVersion"]["groupVersion"] == "apiextensions.k8s.io/v1"
    _, _, resources = await api.call("GET", "/apis/apiextensions.k8s.io/v1")
    crds = next(r for r in resources["resources"] if r["name"] == "customresourcedefinitions")
    assert crds["namespaced"] is False and crds["verbs"] == ["get", "list", "watch"]
    assert crds["shortNames"] == ["crd", "crds"]
    status, _, _ = await api.call("DELETE", CRD)
    assert status == 405


async def test_crd_list_and_missing_crd(api: Api) -> None:
    _, _, listed = await api.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["rayclusters.ray.io"]
    status, _, error = await api.call(
        "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayjobs.ray.io"
    )
    assert status == 404
    assert error["message"] == (
        'customresourcedefinitions.apiextensions.k8s.io "rayjobs.ray.io" not found'
    )
