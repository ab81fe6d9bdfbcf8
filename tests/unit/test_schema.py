"""core.sandbox.apiserver.schema: the API server's defaulting, strict field validation and
schema checks."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import build_config
from core.sandbox.apiserver.schema import (
    apply_crd_defaults,
    jsonschema_problems,
    prune_unknown_fields,
    raycluster_schema,
    unknown_fields,
    validate_raycluster,
)
from manifests.raycluster import build_raycluster

HEAD = "spec.headGroupSpec.template.spec.containers[0]"
WORKER = "spec.workerGroupSpecs[0]"


@pytest.fixture
def manifest() -> dict[str, Any]:
    return build_raycluster(build_config({"name": "demo"}, {"worker_groups.0.gpus": 1}))


def _at(obj: dict[str, Any], path: str) -> Any:
    """Follow 'a.b[0].c' (the same notation as the problems) into a dict."""
    node: Any = obj
    for part in path.replace("]", "").replace("[", ".").split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def test_the_served_v1_schema_is_loaded_once_from_package_data() -> None:
    assert raycluster_schema() is raycluster_schema()
    assert "workerGroupSpecs" in raycluster_schema()["properties"]["spec"]["properties"]


@pytest.mark.parametrize(
    "parent",
    [
        "",  # top level
        "metadata",
        "spec",
        "spec.headGroupSpec",
        "spec.headGroupSpec.template.metadata",
        HEAD,
        f"{HEAD}.resources",
        f"{HEAD}.ports[1]",
        f"{HEAD}.env[0].valueFrom.secretKeyRef",
        WORKER,
        f"{WORKER}.template.spec",
        "spec.autoscalerOptions",
    ],
)
def test_undeclared_field_at_any_depth_is_reported(manifest: dict[str, Any], parent: str) -> None:
    target = _at(manifest, parent) if parent else manifest
    target["surprise"] = "x"
    path = f"{parent}.surprise" if parent else "surprise"
    assert validate_raycluster(manifest) == [f"{path}: unknown field"]
    assert unknown_fields(manifest) == [path]


def test_map_valued_fields_accept_any_key(manifest: dict[str, Any]) -> None:
    manifest["spec"]["headGroupSpec"]["rayStartParams"]["object-store-memory"] = "1000000000"
    _at(manifest, f"{WORKER}.template.spec.containers[0].resources.limits")["ephemeral"] = "1Gi"
    manifest["metadata"]["labels"]["team"] = "ml"
    assert validate_raycluster(manifest) == []


def test_float_quantity_is_rejected_like_the_api_server(manifest: dict[str, Any]) -> None:
    _at(manifest, f"{HEAD}.resources.limits")["cpu"] = 0.5
    field = f"{HEAD}.resources.limits.cpu"
    assert validate_raycluster(manifest) == [
        f'{field}: Invalid value: "number": {field} in body must be of type integer,string:'
        ' "number"'
    ]


def test_integer_quantity_is_accepted(manifest: dict[str, Any]) -> None:
    _at(manifest, f"{HEAD}.resources.limits")["cpu"] = 2
    assert validate_raycluster(manifest) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (f"{WORKER}.replicas", "3", 'Invalid value: "string": {p} in body must be of type integer'),
        (f"{WORKER}.replicas", 2.0, 'Invalid value: "number": {p} in body must be of type integer'),
        (f"{WORKER}.replicas", 2**31, "Invalid value: 2147483648: {p} in body must be of type"),
        (f"{HEAD}.ports[0].containerPort", -(2**31) - 1, "in body must be of type int32"),
        (f"{HEAD}.resources.limits.memory", "4Zi", 'Invalid value: "4Zi": {p} in body should'),
        ("spec.autoscalerOptions.upscalingMode", "Fast",
         'Unsupported value: "Fast": supported values: "Default", "Aggressive", "Conservative"'),
        ("spec.enableInTreeAutoscaling", "yes", "must be of type boolean"),
        ("spec.headGroupSpec.rayStartParams.num-cpus", 0, "must be of type string"),
    ],
)  # fmt: skip
def test_schema_violations_read_like_api_server_field_errors(
    manifest: dict[str, Any], path: str, value: Any, expected: str
) -> None:
    *parent, leaf = path.rsplit(".", 1)
    _at(manifest, parent[0])[leaf] = value
    [problem] = validate_raycluster(manifest)
    assert problem.startswith(f"{path}: ")
    assert expected.format(p=path) in problem


def test_missing_required_fields(manifest: dict[str, Any]) -> None:
    del manifest["spec"]["workerGroupSpecs"][0]["groupName"]
    del manifest["metadata"]["name"]
    assert validate_raycluster(manifest) == [
        f"{WORKER}.groupName: Required value",
        "metadata.name: Required value: name or generateName is required",
    ]


def test_defaulted_required_fields_need_not_be_sent(manifest: dict[str, Any]) -> None:
    group = manifest["spec"]["workerGroupSpecs"][0]
    del group["minReplicas"], group["maxReplicas"], group["replicas"]
    assert validate_raycluster(manifest) == []
    defaulted = apply_crd_defaults(manifest)["spec"]["workerGroupSpecs"][0]
    assert (defaulted["minReplicas"], defaulted["maxReplicas"], defaulted["replicas"]) == (
        0,
        2147483647,
        0,
    )
    assert defaulted["numOfHosts"] == 1
    assert "minReplicas" not in manifest["spec"]["workerGroupSpecs"][0]  # input untouched


def test_defaults_fill_port_protocols_and_nulls_are_dropped(manifest: dict[str, Any]) -> None:
    manifest["spec"]["suspend"] = None
    defaulted = apply_crd_defaults(manifest)
    assert "suspend" not in defaulted["spec"]
    assert {p["protocol"] for p in _at(defaulted, HEAD)["ports"]} == {"TCP"}
    assert validate_raycluster(manifest) == []


def test_duplicate_list_map_keys(manifest: dict[str, Any]) -> None:
    head = _at(manifest, HEAD)
    head["ports"].append({"name": "again", "containerPort": 6379})
    containers = manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    containers.append({"name": "ray-head", "image": "busybox"})
    assert validate_raycluster(manifest) == [
        f"{HEAD}.ports[6]: Duplicate value: "
        'map[string]interface {}{"containerPort":6379, "protocol":"TCP"}',
        "spec.headGroupSpec.template.spec.containers[1]: Duplicate value: "
        'map[string]interface {}{"name":"ray-head"}',
    ]


def test_same_port_with_another_protocol_is_fine(manifest: dict[str, Any]) -> None:
    _at(manifest, HEAD)["ports"].append(
        {"name": "gcs-udp", "containerPort": 6379, "protocol": "UDP"}
    )
    assert validate_raycluster(manifest) == []


def test_label_values_must_be_strings(manifest: dict[str, Any]) -> None:
    manifest["metadata"]["labels"]["size"] = 3
    assert validate_raycluster(manifest) == [
        'metadata.labels.size: Invalid value: "integer": metadata.labels.size in body must be of'
        ' type string: "integer"'
    ]


def test_managed_by_rule(manifest: dict[str, Any]) -> None:
    manifest["spec"]["managedBy"] = "someone-else"
    assert validate_raycluster(manifest) == [
        'spec.managedBy: Invalid value: "string": the managedBy field value must be either'
        " 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'"
    ]
    manifest["spec"]["managedBy"] = "ray.io/kuberay-operator"
    assert validate_raycluster(manifest) == []


def test_not_an_object() -> None:
    assert validate_raycluster(["a"]) == ['<nil>: Invalid value: "array": must be of type object']


def test_prune_removes_undeclared_fields_and_says_which(manifest: dict[str, Any]) -> None:
    original = copy.deepcopy(manifest)
    dirty = copy.deepcopy(manifest)
    dirty["spec"]["workerGroupSpecs"][0]["foo"] = {"deep": 1}
    dirty["metadata"]["extra"] = True
    _at(dirty, HEAD)["resources"]["bogus"] = 1
    pruned, removed = prune_unknown_fields(dirty)
    assert removed == [f"{HEAD}.resources.bogus", f"{WORKER}.foo", "metadata.extra"]
    assert pruned == original
    assert "foo" in dirty["spec"]["workerGroupSpecs"][0]  # input untouched


def test_validation_is_fast_enough_for_a_thousand_clusters(manifest: dict[str, Any]) -> None:
    validate_raycluster(manifest)  # warm the cache
    start = time.perf_counter()
    for _ in range(50):
        assert validate_raycluster(manifest) == []
    assert (time.perf_counter() - start) / 50 < 0.05  # generous: ~3 ms on a laptop


# ---- the fast walk agrees with jsonschema Draft7 on every schema check -----------------------
def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list
    ) else []  # fmt: skip
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


_BASES = [
    build_raycluster(build_config({"name": "demo"})),
    build_raycluster(
        build_config(
            {"name": "multi", "autoscaler": {"enabled": False},
             "worker_groups": [{"name": "a", "gpus": 2, "gpu_type": "nvidia-l4"}, {"name": "b"}]}
        ),
        owner="U1",
    ),
]  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["4Gi", "500m", "TCP", "Default", "Fast", "IfNotPresent", "-1", ""]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
_SCHEMA_ONLY = ("unknown field", "Duplicate value", "type int32", "type int64", "managedBy")


def _schema_lines(problems: list[str]) -> set[str]:
    return {p for p in problems if not any(mark in p for mark in _SCHEMA_ONLY)
            and not p.startswith("metadata.")}  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_walk_and_jsonschema_agree_on_mutated_manifests(data: st.DataObject) -> None:
    manifest = copy.deepcopy(data.draw(st.sampled_from(_BASES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(manifest["spec"], ("spec",))))
        *parent_path, leaf = path
        parent: Any = manifest
        for part in parent_path:
            parent = parent[part]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[leaf]
        else:
            parent[leaf] = data.draw(_JSON)
    expected = set(jsonschema_problems(manifest))
    assert _schema_lines(validate_raycluster(manifest)) == expected
