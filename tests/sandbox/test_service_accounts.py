"""Pods need their ServiceAccount, as kube-apiserver's ServiceAccount admission plugin insists."""

from __future__ import annotations

from tests.sandbox.apiclient import PODS, Api, pod


async def test_every_namespace_gets_a_default_service_account(api: Api) -> None:
    status, _, _ = await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "team-b"}})
    assert status == 201
    status, _, account = await api.call("GET", "/api/v1/namespaces/team-b/serviceaccounts/default")
    assert status == 200 and account["kind"] == "ServiceAccount"


async def test_pod_without_a_service_account_name_runs_as_default(api: Api) -> None:
    status, _, created = await api.call("POST", PODS, pod("plain"))
    assert status == 201 and created["spec"]["serviceAccountName"] == "default"


async def test_pod_naming_a_missing_service_account_is_forbidden(api: Api) -> None:
    body = pod("x")
    body["spec"]["serviceAccountName"] = "sa"
    status, _, error = await api.call("POST", PODS, body)
    assert (status, error["reason"]) == (403, "Forbidden")
    assert error["message"] == (
        'pods "x" is forbidden: error looking up service account default/sa: '
        'serviceaccount "sa" not found'
    )


async def test_generated_pod_names_are_reported_by_their_prefix(api: Api) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "demo-head-"}
    body["spec"]["serviceAccountName"] = "ray-sa"
    status, _, error = await api.call("POST", PODS, body)
    assert status == 403
    assert error["message"].startswith('pods "demo-head-" is forbidden: error looking up')


async def test_pod_is_admitted_once_its_service_account_exists(api: Api) -> None:
    sa = {"metadata": {"name": "sa"}}
    assert (await api.call("POST", "/api/v1/namespaces/default/serviceaccounts", sa))[0] == 201
    body = pod("x")
    body["spec"]["serviceAccountName"] = "sa"
    assert (await api.call("POST", PODS, body))[0] == 201
