"""What a user typed comes back clipped (issue 12, hole 8): a 10,000-character name is shown
as its first few dozen characters and an ellipsis, in usage, config and "not found" errors."""

from __future__ import annotations

from typing import Any

import pytest

from bot.commands import error_text
from bot.grammar import UsageError, parse_command
from core.config import build_config
from core.errors import ECHO_LIMIT, ConfigValidationError, echo
from core.scaling import pick_group

HUGE = "a" * 10_000
LONG = "a" * 1_900  # under the grammar's 2,000-character limit: each message's echo is clipped
SHORT = 400  # far above any message's own words, far below the echo


def test_echo_clips_with_an_ellipsis_and_escapes_control_characters() -> None:
    shown = echo(HUGE)
    assert len(shown) == ECHO_LIMIT and shown.endswith("…") and shown.startswith("aaaa")
    assert echo("demo\n\x00") == "demo\\n\\x00"
    assert echo("demo") == "demo"


@pytest.mark.parametrize("word", [HUGE, LONG], ids=["10000", "1900"])
@pytest.mark.parametrize(
    "text",
    [
        "describe {}", "delete {}", "scale {} --workers 1", "create demo {}", "create demo --{}",
        "create demo --workers 9{}", "create demo -n {}", "{}", "help {}", "list {}",
        "scale demo --workers 1{}",
    ],
    ids=["describe", "delete", "scale", "extra", "flag", "number", "namespace", "command", "help",
         "list", "huge-number"],
)  # fmt: skip
def test_usage_errors_echo_a_huge_word_clipped(text: str, word: str) -> None:
    text = text.format(word if "9{}" not in text and "1{}" not in text else "0" * len(word))
    with pytest.raises(UsageError) as err:
        parse_command(text)
    shown = error_text(err.value, usage_of=None)
    assert len(err.value.message) < SHORT and "…" in err.value.message, err.value.message[:200]
    assert len(shown) < SHORT


@pytest.mark.parametrize(
    "data",
    [
        {"name": HUGE},
        {"name": "demo", "head": {"image": HUGE}},
        {"name": "demo", "worker_groups": [{"name": HUGE}]},
        {"name": "demo", HUGE: 1},
        {"name": "demo", "head": {"cpus": HUGE}},
        {"name": "demo", "worker_groups": [{"replicas": HUGE}]},
        {"name": "demo", "autoscaler": {"upscaling_mode": HUGE}},
        {"name": "demo", "worker_groups": [{"gpu_type": HUGE, "gpus": 1}]},
    ],
    ids=["name", "image", "group", "key", "cpus", "replicas", "mode", "gpu-type"],
)
def test_config_errors_echo_a_huge_value_clipped(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigValidationError) as err:
        build_config(data)
    assert len(err.value.message) < SHORT and "…" in err.value.message, err.value.message[:200]


def test_a_missing_group_is_named_clipped() -> None:
    raycluster = {"metadata": {"name": "demo"},
                  "spec": {"workerGroupSpecs": [{"groupName": "worker"}]}}  # fmt: skip
    with pytest.raises(ConfigValidationError) as err:
        pick_group(raycluster, HUGE)
    assert len(err.value.message) < SHORT and "…" in err.value.message


def test_not_found_messages_name_a_huge_name_clipped() -> None:
    from core.errors import ClusterNotFoundError, NamespaceNotFoundError

    for err in (ClusterNotFoundError(HUGE, HUGE), NamespaceNotFoundError(HUGE)):
        assert len(err.message) < SHORT and "…" in err.message
