"""Property-based tests over the slash grammar and the cluster config (issue 12).

Whatever is typed, only a ``UsageError`` or a ``ConfigValidationError`` may come out, its text
stays short (echoes are clipped), and every configuration that is accepted builds a RayCluster
the KubeRay CRD accepts. 10,400 inputs per run, in well under a minute (`pytest tests/fuzz`).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import error_text
from bot.create_options import config_for
from bot.grammar import Command, CreateCommand, ManifestCommand, UsageError, parse_command
from core.config import ClusterConfig, build_config
from core.errors import ConfigValidationError
from core.sandbox.apiserver.schema import validate_raycluster
from manifests.raycluster import build_raycluster
from tests.fuzz.strategies import command_texts, configs, create_texts, overrides

RAY_VERSIONS = st.sampled_from(["2.53.0", "2.60.0", "2.46.0"])
MAX_TEXT = 2_000  # longest error a user may get: the usage line plus clipped echoes
def fuzz(examples: int) -> settings:
    """``examples`` inputs, no per-input deadline (a 10,000-character string takes a while)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _manifest_is_valid(config: ClusterConfig, ray_version: str) -> None:
    manifest = build_raycluster(config, ray_version=ray_version, owner="U0FUZZ")
    assert validate_raycluster(manifest) == [], manifest


def _parsed(text: str) -> Command | None:
    try:
        return parse_command(text)
    except UsageError as err:
        assert len(error_text(err, usage_of=None)) < MAX_TEXT
        return None


def _configured(command: Command) -> ClusterConfig | None:
    assert isinstance(command, CreateCommand | ManifestCommand)
    try:
        return config_for(command, namespace=command.namespace or "default")
    except ConfigValidationError as err:
        assert len(error_text(err, usage_of="create")) < MAX_TEXT
        return None


@fuzz(3_600)
@given(text=command_texts(), ray_version=RAY_VERSIONS)
def test_any_slash_text_is_a_command_or_a_usage_error(text: str, ray_version: str) -> None:
    command = _parsed(text)
    if isinstance(command, CreateCommand | ManifestCommand):
        config = _configured(command)
        if config is not None:
            _manifest_is_valid(config, ray_version)


@fuzz(2_800)
@given(text=create_texts(), ray_version=RAY_VERSIONS)
def test_every_create_the_grammar_accepts_builds_a_valid_manifest(
    text: str, ray_version: str
) -> None:
    command = _parsed(text)
    if command is not None:
        config = _configured(command)
        if config is not None:
            _manifest_is_valid(config, ray_version)


@fuzz(3_000)
@given(data=configs, ray_version=RAY_VERSIONS)
def test_any_config_is_valid_or_a_config_validation_error(data: Any, ray_version: str) -> None:
    try:
        config = build_config(data)
    except ConfigValidationError as err:
        assert all(len(problem) < MAX_TEXT for problem in err.problems)
        return
    _manifest_is_valid(config, ray_version)


@fuzz(1_000)
@given(data=configs, changes=overrides, ray_version=RAY_VERSIONS)
def test_overrides_on_any_config_give_a_config_or_a_config_validation_error(
    data: Any, changes: dict[str, Any], ray_version: str
) -> None:
    try:
        config = build_config(data if isinstance(data, dict) else {"name": "demo"}, changes)
    except ConfigValidationError:
        return
    _manifest_is_valid(config, ray_version)
