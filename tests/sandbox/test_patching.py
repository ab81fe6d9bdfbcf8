"""Patch semantics as kubectl relies on them: strategic merge directives and RFC 6902 ops."""

from __future__ import annotations

from typing import Any

import pytest

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.patching import (
    apply_json_patch,
    apply_strategic_merge_patch,
    json_merge_patch,
)

POD: dict[str, Any] = {
    "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "busybox",
                "ports": [{"containerPort": 80}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "side", "image": "envoy"},
        ],
        "tolerations": [{"key": "k"}],
    },
}


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        (
            {"spec": {"containers": [{"name": "side", "image": "envoy:2"}]}},
            lambda o: [c["image"] for c in o["spec"]["containers"]] == ["busybox", "envoy:2"],
        ),
        (
            {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
            lambda o: [c["name"] for c in o["spec"]["containers"]] == ["main"],
        ),
        (
            {"spec": {"containers": [{"name": "new", "image": "x"}]}},
            lambda o: [c["name"] for c in o["spec"]["containers"]] == ["main", "side", "new"],
        ),
        (
            {"spec": {"containers": [{"name": "main", "env": [{"name": "C", "value": "3"}]}]}},
            lambda o: [e["name"] for e in o["spec"]["containers"][0]["env"]] == ["A", "B", "C"],
        ),
        (
            {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}]}},
            lambda o: [c["name"] for c in o["spec"]["containers"]] == ["side", "main"],
        ),
        (
            {"spec": {"tolerations": [{"key": "other"}]}},
            lambda o: o["spec"]["tolerations"] == [{"key": "other"}],
        ),
        ({"metadata": {"finalizers": ["y"]}}, lambda o: o["metadata"]["finalizers"] == ["x", "y"]),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
            lambda o: o["metadata"]["finalizers"] == [],
        ),
        (
            {"metadata": {"labels": {"a": None, "c": "3"}}},
            lambda o: o["metadata"]["labels"] == {"b": "2", "c": "3"},
        ),
        (
            {"metadata": {"labels": {"$patch": "replace", "only": "this"}}},
            lambda o: o["metadata"]["labels"] == {"only": "this"},
        ),
        (
            {"spec": {"$retainKeys": ["containers"], "containers": []}},
            lambda o: list(o["spec"]) == ["containers"] and len(o["spec"]["containers"]) == 2,
        ),
        (
            {"spec": {"containers": [{"name": "x", "$patch": "replace"}, {"name": "only"}]}},
            lambda o: o["spec"]["containers"] == [{"name": "only"}],
        ),
    ],
    ids=[
        "merge-by-name",
        "delete-item",
        "append-item",
        "nested-merge-key",
        "element-order",
        "atomic-list",
        "merged-primitive-list",
        "delete-from-primitive-list",
        "null-deletes",
        "replace-map",
        "retain-keys",
        "replace-list",
    ],
)
def test_strategic_merge_patch(patch: dict[str, Any], check: Any) -> None:
    result = apply_strategic_merge_patch(POD, patch)
    assert check(result), result
    assert POD["spec"]["containers"][1]["image"] == "envoy", "the original is never modified"


def test_strategic_merge_item_without_its_merge_key_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(POD, {"spec": {"containers": [{"image": "x"}]}})
    assert caught.value.code == 422


@pytest.mark.parametrize(
    ("ops", "check"),
    [
        (
            [{"op": "add", "path": "/metadata/labels/c", "value": "3"}],
            lambda o: o["metadata"]["labels"]["c"] == "3",
        ),
        (
            [{"op": "remove", "path": "/spec/containers/1"}],
            lambda o: len(o["spec"]["containers"]) == 1,
        ),
        (
            [{"op": "replace", "path": "/spec/containers/0/image", "value": "v2"}],
            lambda o: o["spec"]["containers"][0]["image"] == "v2",
        ),
        (
            [{"op": "add", "path": "/spec/tolerations/-", "value": {"key": "z"}}],
            lambda o: o["spec"]["tolerations"][-1] == {"key": "z"},
        ),
        (
            [{"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/z"}],
            lambda o: o["metadata"]["labels"] == {"b": "2", "z": "1"},
        ),
        (
            [{"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"}],
            lambda o: o["metadata"]["annotations"] == {"a": "1", "b": "2"},
        ),
        (
            [
                {"op": "test", "path": "/metadata/name", "value": "p"},
                {"op": "add", "path": "/metadata/labels/t", "value": "ok"},
            ],
            lambda o: o["metadata"]["labels"]["t"] == "ok",
        ),
    ],
    ids=["add", "remove", "replace", "append", "move", "copy", "test-then-add"],
)
def test_json_patch_operations(ops: list[dict[str, Any]], check: Any) -> None:
    assert check(apply_json_patch(POD, ops))


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/metadata/name", "value": "other"}],
        [{"op": "replace", "path": "/metadata/missing/x", "value": 1}],
        [{"op": "remove", "path": "/spec/containers/9"}],
    ],
    ids=["failed-test", "missing-parent", "index-out-of-range"],
)
def test_json_patch_failures_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(ApiError) as caught:
        apply_json_patch(POD, ops)
    assert caught.value.code == 422


def test_merge_patch_replaces_lists_and_deletes_nulls() -> None:
    result = json_merge_patch(POD, {"spec": {"tolerations": None, "containers": []}})
    assert result["spec"] == {"containers": []}
