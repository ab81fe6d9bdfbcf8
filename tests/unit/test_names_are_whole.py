"""A name, namespace, image or number is valid only as a whole: a trailing newline is not
ignored (issue 12, hole 3). Python's ``$`` also matches before a final ``\\n``, so every
validator uses ``re.fullmatch``."""

from __future__ import annotations

from typing import Any

import pytest

from bot.grammar import CreateCommand, UsageError, parse_command
from core.config import build_config, name_problem, namespace_problem
from core.errors import ConfigValidationError


@pytest.mark.parametrize("tail", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_cluster_name_with_a_trailing_newline_is_refused(tail: str) -> None:
    assert name_problem("demo" + tail) is not None
    with pytest.raises(ConfigValidationError, match="name"):
        build_config({"name": "demo" + tail})


@pytest.mark.parametrize(
    "data",
    [
        {"namespace": "team\n"},
        {"worker_groups": [{"name": "gpu\n"}]},
        {"head": {"image": "rayproject/ray:2.53.0\n"}},
        {"worker_groups": [{"gpu_type": "nvidia-tesla-t4\n", "gpus": 1}]},
    ],
    ids=["namespace", "group", "image", "gpu-type"],
)
def test_other_names_with_a_trailing_newline_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigValidationError):
        build_config({"name": "demo", **data})
    assert namespace_problem("team\n") is not None


def test_quoted_newlines_in_slash_commands_are_refused() -> None:
    with pytest.raises(UsageError):
        parse_command('describe "demo\n"')
    with pytest.raises(UsageError):
        parse_command('create demo -n "team\n"')
    with pytest.raises(UsageError):
        parse_command('scale "demo\n" --workers 2')
    assert isinstance(parse_command("create demo --workers 2"), CreateCommand)
