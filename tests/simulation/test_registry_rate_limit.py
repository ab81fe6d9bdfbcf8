"""Docker Hub's pull rate limit: ErrImagePull with containerd's 429 text, back-off, then a pull."""

from __future__ import annotations

from typing import Any

from core.sandbox.sim.simconfig import SimConfig

from .conftest import (
    container_status,
    events_for,
    pods_of,
    raycluster,
    start_simulation,
    stop_simulation,
    until,
)

IMAGE = "rayproject/ray:2.53.0-py311-gpu"


def _head(store: Any) -> dict[str, Any] | None:
    return next((p for p in pods_of(store, "demo")
                 if p["metadata"]["labels"]["ray.io/node-type"] == "head"), None)  # fmt: skip


async def test_rate_limited_image_fails_twice_backs_off_and_then_pulls() -> None:
    config = SimConfig.model_validate({"images": {"rate_limited": {IMAGE: 2}}})
    sim, task = await start_simulation(config, speed=500)
    seen: list[str] = []

    def record(event: str, resource: str, obj: dict[str, Any]) -> None:
        state = container_status(obj, "ray-head").get("state") or {}
        reason = (state.get("waiting") or {}).get("reason") or next(iter(state), "")
        if resource == "pods" and reason and (not seen or seen[-1] != reason):
            seen.append(reason)

    sim.store.add_listener(record)
    try:
        store = sim.store
        store.create("rayclusters", raycluster(image=IMAGE, workers=0))
        head = await until(
            store,
            lambda: (h := _head(store)) and container_status(h, "ray-head").get("ready") and h,
        )
        name = head["metadata"]["name"]
        failures = [e["message"] for e in events_for(store, name)
                    if e["message"].startswith("Failed to pull image")]  # fmt: skip
        assert [e["count"] for e in events_for(store, name)
                if e["message"].startswith("Failed to pull image")] == [2]  # fmt: skip
        assert failures[0].startswith(
            f'Failed to pull image "{IMAGE}": rpc error: code = Unknown desc = failed to pull and '
            'unpack image "docker.io/rayproject/ray:2.53.0-py311-gpu": failed to copy: '
            "httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/"
            "rayproject/ray/manifests/sha256:"
        )
        assert failures[0].endswith(
            ": 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull "
            "rate limit. You may increase the limit by authenticating and upgrading: "
            "https://www.docker.com/increase-rate-limit"
        )
        assert seen[:5] == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff",
                            "ErrImagePull", "ImagePullBackOff"]  # fmt: skip
        assert "running" in seen
        reasons = [e["reason"] for e in events_for(store, name)]
        assert reasons.count("BackOff") == 1 and "Pulled" in reasons  # one event, count 2
        backoff = next(e for e in events_for(store, name) if e["reason"] == "BackOff")
        assert backoff["count"] == 2
    finally:
        await stop_simulation(task)


async def test_other_tags_of_the_same_repository_are_not_limited() -> None:
    config = SimConfig.model_validate({"images": {"rate_limited": {IMAGE: 5}}})
    sim, task = await start_simulation(config, speed=500)
    try:
        store = sim.store
        store.create("rayclusters", raycluster(image="rayproject/ray:2.53.0-py311", workers=0))
        head = await until(
            store,
            lambda: (h := _head(store)) and container_status(h, "ray-head").get("ready") and h,
        )
        assert not [e for e in events_for(store, head["metadata"]["name"])
                    if e["reason"] == "Failed"]  # fmt: skip
    finally:
        await stop_simulation(task)
