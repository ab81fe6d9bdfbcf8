"""At any speed the sandbox dates things by the wall clock; only durations are compressed.

``kubectl get`` and the bot compare timestamps with their own clock, so a stamp from the future
shows as ``<invalid>`` and makes a fresh crash look older or newer than it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from core.sandbox.apiserver.objects import parse_time
from core.sandbox.runner import Sandbox
from core.sandbox.sim.simconfig import CRASHING_DEMO_IMAGE

from .conftest import container_status, raycluster, until

SPEED = 400.0
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _stamps(value: Any, key: str = "") -> Iterator[tuple[str, datetime]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _stamps(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _stamps(item, key)
    elif isinstance(value, str) and _STAMP.match(value):
        yield key, parse_time(value)


def _ready(store: Any, name: str) -> bool:
    rc = store.get("rayclusters", "default", name)
    return (rc.get("status") or {}).get("state") == "ready"


def _crashed_twice(store: Any) -> bool:
    pods = store.list("pods", "default", label_selector="ray.io/cluster=crashy")[0]
    return any(container_status(p, "ray-head").get("restartCount", 0) >= 2 for p in pods)


async def test_no_timestamp_is_later_than_the_wall_clock_at_high_speed() -> None:
    async with Sandbox(speed=SPEED) as sandbox:
        store = sandbox.store
        store.create("rayclusters", raycluster("clock", workers=2))
        store.create("rayclusters", raycluster("crashy", workers=0, image=CRASHING_DEMO_IMAGE))
        # Two back-offs (10 s + 20 s simulated) and a cluster start: seconds compressed to
        # a fraction of a second, so reaching both within the deadline shows timers still scale.
        await until(store, lambda: _ready(store, "clock") and _crashed_twice(store), deadline=10)
        now = datetime.now(UTC)
        seen: dict[str, datetime] = {}
        for resource in ("rayclusters", "pods", "services", "events"):
            for obj in store.list(resource, "default")[0]:
                for key, when in _stamps(obj):
                    seen[key] = max(when, seen.get(key, when))
        assert set(seen) >= {
            "creationTimestamp", "lastTransitionTime", "startedAt", "finishedAt",
            "firstTimestamp", "lastTimestamp", "lastUpdateTime", "startTime",
        }  # fmt: skip
        future = {key: when for key, when in seen.items() if when > now}
        assert not future, f"stamped after the wall clock ({now}): {future}"

        headers = {"Authorization": f"Bearer {sandbox.token}", "Accept": TABLE}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{sandbox.url}/api/v1/namespaces/default/pods") as response,
        ):
            table = await response.json()
        ages = [row["cells"][4] for row in table["rows"]]
        assert ages and "<invalid>" not in ages


async def test_events_expire_after_the_ttl_compressed_by_speed() -> None:
    async with Sandbox(speed=1000, simulate=False, event_ttl=timedelta(seconds=200)) as sandbox:
        store = sandbox.store
        involved = store.create("namespaces", {"metadata": {"name": "events-ttl"}})
        store.record_event(involved, type="Normal", reason="Pulled", message="m", component="k")
        assert store.list("events", None)[0]
        # 200 s of event TTL at speed 1000 is 0.2 s of wall time (plus the stamp's 1 s grain).
        await until(store, lambda: not store.list("events", None)[0], deadline=5)
