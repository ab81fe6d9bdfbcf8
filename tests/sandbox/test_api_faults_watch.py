"""Fault injection, auth hooks and the watch stream over HTTP: what resilience tests lean on."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from core.sandbox.apiserver.authz_types import RequestAttributes, UserInfo, forbidden_message
from core.sandbox.runner import Sandbox
from tests.sandbox.apiclient import PODS, Api, pod


@pytest.mark.parametrize(
    ("code", "reason", "header"),
    [
        (500, "InternalError", None),
        (429, "TooManyRequests", "Retry-After"),
        (403, "Forbidden", None),
    ],
)
async def test_injected_failures_hit_the_next_matching_requests_only(
    api: Api, code: int, reason: str, header: str | None
) -> None:
    api.sandbox.faults.fail_next(2, status=code, path_contains="/pods")
    await api.call("GET", "/api/v1/namespaces/default/services")
    for _ in range(2):
        status, headers, answer = await api.call("GET", PODS)
        assert (status, answer["reason"]) == (code, reason)
        if header:
            assert headers[header] == "1"
    status, _, _ = await api.call("GET", PODS)
    assert status == 200


async def test_admin_endpoint_injects_faults_for_out_of_process_tools(api: Api) -> None:
    status, _, answer = await api.call(
        "POST", "/_sandbox/faults", {"fail_next": {"n": 1, "status": 503}}
    )
    assert status == 200 and answer["pending_failures"] == 1
    status, _, _ = await api.call("GET", PODS)
    assert status == 503
    assert ("GET", PODS, "") in api.sandbox.requests


async def test_auth_hooks_give_401_and_the_real_403_message() -> None:
    def authenticate(token: str | None) -> UserInfo | None:
        return UserInfo("system:serviceaccount:default:bot") if token == "good" else None

    def authorize(attrs: RequestAttributes) -> str | None:
        return None if attrs.verb == "get" else forbidden_message(attrs)

    async with (
        Sandbox(simulate=False, authenticator=authenticate, authorizer=authorize) as sb,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(sb.url + PODS, headers={"Authorization": "Bearer bad"}) as resp:
            assert resp.status == 401 and (await resp.json())["reason"] == "Unauthorized"
        async with session.get(sb.url + PODS, headers={"Authorization": "Bearer good"}) as resp:
            body = await resp.json()
        assert resp.status == 403 and body["reason"] == "Forbidden"
        assert body["message"] == (
            'pods is forbidden: User "system:serviceaccount:default:bot" cannot list resource '
            '"pods" in API group "" in the namespace "default"'
        )
        assert body["details"] == {"name": "", "kind": "pods"}


async def test_watch_streams_json_lines_bookmarks_and_ends_at_timeout(api: Api) -> None:
    api.sandbox.server.bookmark_interval = 0.05  # type: ignore[union-attr]
    _, _, listed = await api.call("GET", PODS)
    rv = listed["metadata"]["resourceVersion"]
    await api.call("POST", PODS, pod("a"))
    url = (
        f"{api.sandbox.url}{PODS}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true"
        "&timeoutSeconds=1"
    )
    headers = {"Authorization": f"Bearer {api.sandbox.token}"}
    async with api.session.get(url, headers=headers) as resp:
        assert resp.headers["Transfer-Encoding"] == "chunked"
        lines = [json.loads(line) async for line in resp.content]
    assert lines[0]["type"] == "ADDED" and lines[0]["object"]["metadata"]["name"] == "a"
    assert any(e["type"] == "BOOKMARK" for e in lines[1:])


async def test_watch_from_an_expired_version_gets_an_error_event_with_410(api: Api) -> None:
    _, _, listed = await api.call("GET", PODS)
    api.sandbox.faults.expire_resource_versions()
    rv = listed["metadata"]["resourceVersion"]
    status, _, answer = await api.call("GET", PODS, watch="true", resourceVersion=rv)
    assert status == 200
    assert answer["type"] == "ERROR"
    assert (answer["object"]["code"], answer["object"]["reason"]) == (410, "Expired")
    assert answer["object"]["message"].startswith(f"too old resource version: {rv} (")


async def test_injected_latency_delays_every_api_request(api: Api) -> None:
    loop = asyncio.get_running_loop()
    api.sandbox.faults.set_latency(0.2)
    started = loop.time()
    status, _, _ = await api.call("GET", PODS)
    assert status == 200 and loop.time() - started >= 0.2
    api.sandbox.faults.set_latency(0)
