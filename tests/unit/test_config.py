"""ClusterConfig: Krayne's model with strict validation and one user-facing line per problem."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import (
    ClusterConfig,
    UpscalingMode,
    apply_overrides,
    build_config,
    load_config_from_yaml,
    parse_quantity,
)
from core.errors import ConfigValidationError


def _problems(data: Any, overrides: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigValidationError) as info:
        build_config(data, overrides)
    return info.value.problems


def test_defaults_match_the_krayne_model() -> None:
    config = build_config({"name": "demo"})
    assert config.namespace == "default"
    assert (config.head.cpus, config.head.memory, config.head.image) == ("1", "4Gi", None)
    assert config.head.runs_tasks is False
    [group] = config.worker_groups
    assert (group.name, group.replicas, group.min_replicas, group.max_replicas) == (
        "worker", 0, 0, 1
    )  # fmt: skip
    assert (group.cpus, group.memory, group.gpus, group.gpu_type) == ("1", "2Gi", 0, None)
    assert config.autoscaler.enabled and config.autoscaler.idle_timeout_seconds == 60
    assert config.autoscaler.upscaling_mode is UpscalingMode.DEFAULT
    assert (config.autoscaler.cpu, config.autoscaler.memory) == ("500m", "512Mi")
    assert config.services.notebook and config.services.code_server and config.services.ssh


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2, "2"), (1.5, "1.5"), ("500m", "500m"), (" 4 ", "4"), ("1e3", "1e3"), (0.25, "0.25")],
)
def test_numbers_are_coerced_to_quantity_strings(value: Any, expected: str) -> None:
    assert build_config({"name": "a", "head": {"cpus": value}}).head.cpus == expected


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("500m", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        ("4Gi", Decimal(4 * 2**30)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1e3", Decimal(1000)),
        ("2k", Decimal(2000)),
        (".5", Decimal("0.5")),
        ("-1", Decimal(-1)),
    ],
)
def test_parse_quantity_understands_kubernetes_suffixes(text: str, amount: Decimal) -> None:
    assert parse_quantity(text) == amount


@pytest.mark.parametrize("text", ["4Zi", "lots", "", "1.5.2", "Gi", "4 Gi", "1e", "0x10"])
def test_parse_quantity_rejects_what_kubernetes_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_replicas_above_max_raise_the_max() -> None:
    config = build_config({"name": "a", "worker_groups": [{"replicas": 5, "max_replicas": 2}]})
    assert config.worker_groups[0].max_replicas == 5


def test_whole_numbers_accept_digit_strings_from_flags() -> None:
    config = build_config({"name": "a"}, {"worker_groups.0.gpus": "2"})
    assert config.worker_groups[0].gpus == 2


# One table: bad input → exactly one line that names the field in the user's terms.
BAD_INPUTS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("bad name", {"name": "Bad_Name!"}, {}, "name 'Bad_Name!' is not valid: use lowercase"),
    ("54-char name", {"name": "a" * 54}, {}, "(at most 53 characters)"),
    ("digit first", {"name": "1cluster"}, {}, "starting with a letter"),
    ("missing name", {}, {}, "name is required"),
    ("negative gpus", {"name": "a"}, {"worker_groups.0.gpus": "-1"},
     "worker group 'worker': gpus must be a whole number between 0 and 128, got -1"),
    ("huge gpus", {"name": "a"}, {"worker_groups.0.gpus": "1e9"},
     "worker group 'worker': gpus must be a whole number between 0 and 128, got 1e9"),
    ("float gpus", {"name": "a", "worker_groups": [{"gpus": 1.0}]}, {}, "gpus must be a whole"),
    ("bool gpus", {"name": "a", "worker_groups": [{"gpus": True}]}, {}, "got True"),
    ("129 gpus", {"name": "a"}, {"worker_groups.0.gpus": 129}, "between 0 and 128, got 129"),
    ("too many replicas", {"name": "a"}, {"worker_groups.0.replicas": 1001}, "between 0 and 1000"),
    ("cpus lots", {"name": "a"}, {"worker_groups.0.cpus": "lots"},
     "worker group 'worker': cpus 'lots' is not a valid Kubernetes quantity"),
    ("memory 4Zi", {"name": "a"}, {"worker_groups.0.memory": "4Zi"},
     "worker group 'worker': memory '4Zi' is not a valid Kubernetes quantity"),
    ("memory no unit", {"name": "a"}, {"head.memory": "4"}, "head: memory 4 is too small"),
    ("zero cpus", {"name": "a"}, {"head.cpus": 0}, "head: cpus must be more than zero, got 0"),
    ("negative cpus", {"name": "a"}, {"head.cpus": "-2"}, "cpus must be more than zero, got -2"),
    ("min above replicas", {"name": "a"},
     {"worker_groups.0.min_replicas": 3, "worker_groups.0.replicas": 1},
     "worker group 'worker': min_replicas (3) is more than replicas (1)"),
    ("unknown top key", {"name": "a", "workers": 2}, {}, "unknown key 'workers'"),
    ("unknown head key", {"name": "a", "head": {"cpu": 1}}, {},
     "head: unknown key 'cpu' (did you mean 'cpus'?)"),
    ("unknown group key", {"name": "a", "worker_groups": [{"name": "g", "gpu": 1}]}, {},
     "worker group 'g': unknown key 'gpu' (did you mean 'gpus'?)"),
    ("unknown autoscaler key", {"name": "a", "autoscaler": {"idle": 3}}, {},
     "autoscaler: unknown key 'idle'"),
    ("unknown services key", {"name": "a", "services": {"jupyter": False}}, {},
     "services: unknown key 'jupyter' (known keys: notebook, code_server, ssh)"),
    ("no groups", {"name": "a", "worker_groups": []}, {}, "at least one worker group"),
    ("duplicate groups", {"name": "a", "worker_groups": [{"name": "g"}, {"name": "g"}]}, {},
     "worker group name 'g' is used twice"),
    ("long group name", {"name": "a", "worker_groups": [{"name": "g" * 16}]}, {},
     "worker group #1: group name"),
    ("bad namespace", {"name": "a", "namespace": "Team_A"}, {}, "namespace 'Team_A' is not valid"),
    ("bad mode", {"name": "a", "autoscaler": {"upscaling_mode": "fast"}}, {},
     "autoscaler: upscaling_mode must be one of Default, Aggressive, Conservative, got fast"),
    ("bad image", {"name": "a", "head": {"image": "My Image"}}, {}, "head: image 'My Image'"),
    ("bad gpu type", {"name": "a", "worker_groups": [{"gpu_type": "a b"}]}, {}, "gpu_type 'a b'"),
    ("head not a map", {"name": "a", "head": "big"}, {}, "head must be a mapping"),
    ("groups not a list", {"name": "a", "worker_groups": {"name": "g"}}, {},
     "worker_groups must be a list"),
    ("bad boolean", {"name": "a", "services": {"ssh": "maybe"}}, {},
     "services: ssh must be true or false, got maybe"),
    ("empty name", {"name": None}, {}, "name is empty: give one, e.g. `my-cluster`"),
    ("group not a map", {"name": "a", "worker_groups": ["x"]}, {},
     "worker group #1 must be a mapping of keys to values, got x"),
    ("empty group name", {"name": "a", "worker_groups": [{"name": ""}]}, {},
     "worker group #1: group name is empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "overrides", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_gives_exactly_one_clear_line(
    data: dict[str, Any], overrides: dict[str, Any], expected: str
) -> None:
    problems = _problems(data, overrides)
    assert len(problems) == 1, problems
    assert expected in problems[0]
    assert "\n" not in problems[0] and "pydantic" not in problems[0]


def test_several_problems_give_one_line_each() -> None:
    problems = _problems({"name": "X", "head": {"cpus": "lots"}, "services": {"vnc": True}})
    assert len(problems) == 3


def test_non_mapping_config_is_one_line() -> None:
    assert _problems(["name", "a"]) == [
        "the configuration must be a mapping such as `name: my-cluster`, got ['name', 'a']"
    ]


def test_overrides_beat_the_file_and_defaults_fill_the_rest() -> None:
    data = {"name": "a", "head": {"cpus": 2, "memory": "8Gi"}, "worker_groups": [{"gpus": 1}]}
    config = build_config(data, {"head.cpus": "4", "worker_groups.0.replicas": 3, "x.y": None})
    assert (config.head.cpus, config.head.memory) == ("4", "8Gi")
    assert (config.worker_groups[0].gpus, config.worker_groups[0].replicas) == (1, 3)


def test_override_of_a_missing_group_list_creates_the_default_group() -> None:
    config = build_config({"name": "a"}, {"worker_groups.0.gpus": 2})
    assert [(g.name, g.gpus) for g in config.worker_groups] == [("worker", 2)]


def test_apply_overrides_does_not_modify_its_input() -> None:
    data = {"name": "a", "head": {"cpus": "1"}}
    apply_overrides(data, {"head.cpus": "2"})
    assert data == {"name": "a", "head": {"cpus": "1"}}


def test_override_through_a_scalar_is_reported() -> None:
    problems = _problems({"name": "a", "worker_groups": "x"}, {"worker_groups.0.gpus": 1})
    assert problems == [
        "cannot set 'worker_groups.0.gpus': 'worker_groups' is not a mapping or list"
    ]


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def test_yaml_file_with_overrides_loads(tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        "name: team\nworker_groups:\n  - name: cpu\n    replicas: 2\n  - name: gpu\n    gpus: 1\n",
    )
    config = load_config_from_yaml(path, {"worker_groups.1.gpu_type": "nvidia-l4"})
    assert isinstance(config, ClusterConfig)
    assert [(g.name, g.replicas, g.gpus, g.gpu_type) for g in config.worker_groups] == [
        ("cpu", 2, 0, None),
        ("gpu", 0, 1, "nvidia-l4"),
    ]


YAML_CASES = [
    ("missing name", "head:\n  cpus: 2\n", "name is required"),
    ("not a mapping", "- a\n- b\n", "must hold a mapping such as `name: my-cluster`, got a list"),
    ("scalar", "just text\n", "got a str"),
    ("bad yaml", "name: [a\n", "is not valid YAML"),
    ("duplicate key", "name: a\nname: b\n", "duplicate key 'name'"),
    ("top unknown", "name: a\nnmespace: x\n", "unknown key 'nmespace' (did you mean 'namespace'?)"),
    ("head unknown", "name: a\nhead:\n  gpus: 1\n", "head: unknown key 'gpus'"),
    ("group unknown", "name: a\nworker_groups:\n- name: w\n  cpu: 1\n",
     "worker group 'w': unknown key 'cpu'"),
    ("autoscaler unknown", "name: a\nautoscaler:\n  enable: false\n",
     "autoscaler: unknown key 'enable' (did you mean 'enabled'?)"),
    ("services unknown", "name: a\nservices:\n  vscode: false\n", "services: unknown key 'vscode'"),
    ("bad name", "name: Bad_Name!\n", "name 'Bad_Name!' is not valid"),
    ("gpus 1e9", "name: a\nworker_groups:\n- gpus: 1e9\n", "gpus must be a whole number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES]
)
def test_bad_yaml_gives_exactly_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load_config_from_yaml(_yaml(tmp_path, text))
    assert len(info.value.problems) == 1, info.value.problems
    assert expected in info.value.problems[0]


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load_config_from_yaml(tmp_path / "nope.yaml")
    assert info.value.problems == [f"file '{tmp_path / 'nope.yaml'}' was not found"]


def test_directory_instead_of_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load_config_from_yaml(tmp_path)
    assert "is a directory" in info.value.problems[0]
