"""A small HTTP client and object builders for the sandbox's HTTP-level tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from core.sandbox.runner import Sandbox

DATA = Path(__file__).parent / "data"
PODS = "/api/v1/namespaces/default/pods"
RAYCLUSTERS = "/apis/ray.io/v1/namespaces/default/rayclusters"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class Api:
    """A tiny HTTP client for the tests: every call returns (status, headers, JSON body)."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        **params: str,
    ) -> tuple[int, Any, Any]:
        params = params | (query or {})
        data = None if body is None else json.dumps(body)
        hdrs = {"Content-Type": content_type, "Authorization": f"Bearer {self.sandbox.token}"}
        async with self.session.request(
            method,
            self.sandbox.url + path,
            data=data,
            params=params,
            headers=hdrs | (headers or {}),
        ) as resp:
            text = await resp.text()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return resp.status, resp.headers, parsed


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "containers": [
                {"name": "main", "image": "busybox", "env": [{"name": "A", "value": "1"}]}
            ]
        },
    }


def raycluster(name: str = "rc") -> dict[str, Any]:
    obj = yaml.safe_load((DATA / "raycluster.yaml").read_text())
    obj["metadata"]["name"] = name
    return dict(obj)
