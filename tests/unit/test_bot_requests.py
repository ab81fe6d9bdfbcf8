"""Recognising Slack's re-deliveries, the bot's settings precedence, and what counts as down."""

from __future__ import annotations

import pytest

from bot.commands import error_text, may_modify
from bot.middleware import SeenRequests, request_key
from bot.readiness import unreachable
from bot.settings import BotSettings
from core.api import ClusterSummary
from core.errors import (
    ClusterNotFoundError,
    ConfigValidationError,
    KrayneError,
    KubeApiError,
    KubeConnectionError,
)
from core.kube_errors import Target, api_error
from core.status import ClusterStatus, Phase


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"event_id": "Ev1", "trigger_id": "t"}, "event:Ev1"),
        ({"trigger_id": "123.456.abc", "command": "/krayne"}, "trigger:123.456.abc"),
        ({"user": {"id": "U1"}, "actions": [{"action_ts": "1.5"}]}, "action:U1:1.5"),
        ({"type": "url_verification"}, None),
    ],
)
def test_request_keys_identify_one_user_action(body: dict[str, object], key: str | None) -> None:
    assert request_key(body) == key


def test_a_key_is_new_once_then_seen_until_it_expires() -> None:
    now = [0.0]
    seen = SeenRequests(ttl=10, size=100, clock=lambda: now[0])
    assert seen.first_time("a")
    assert not seen.first_time("a")
    now[0] = 11
    assert seen.first_time("b")  # expiry happens as new keys arrive
    assert seen.first_time("a")


def test_the_seen_set_is_bounded() -> None:
    seen = SeenRequests(ttl=1000, size=3, clock=lambda: 0.0)
    for key in "abcd":
        assert seen.first_time(key)
    assert seen.first_time("a")  # the oldest was evicted to make room


def _cluster(owner: str | None) -> ClusterSummary:
    return ClusterSummary("c", "ns", owner, ClusterStatus(Phase.READY, ""), None, 0, 0, 0, None)


@pytest.mark.parametrize(
    ("user", "owner", "allowed"),
    [("U1", "U1", True), ("U2", "U1", False), ("U1", None, False)],
)
def test_only_the_owner_may_modify(user: str, owner: str | None, allowed: bool) -> None:
    assert may_modify(user, _cluster(owner)) is allowed


def test_errors_show_message_hint_and_usage_never_a_repr() -> None:
    text = error_text(ClusterNotFoundError("demo", "ns"), usage_of="describe")
    assert "`demo` was not found" in text and "/krayne list" in text and "Usage" in text
    problems = error_text(ConfigValidationError(["a is bad", "b is bad"]), usage_of="create")
    assert "• a is bad\n• b is bad" in problems
    internal = error_text(ValueError("secret <object at 0x1>"), usage_of="list")
    assert "0x1" not in internal and "ValueError" not in internal


def test_a_failing_kubernetes_api_is_told_with_reason_and_hint_but_no_usage() -> None:
    err = KubeConnectionError("The Kubernetes API at http://k failed (500): etcd down",
                              hint="Check that the Kubernetes API server is up.")  # fmt: skip
    text = error_text(err, usage_of="list")
    assert text == (  # the API server's address stays in the logs (issue 12, hole 7)
        ":warning: Kubernetes is not reachable right now; try again in a minute. "
        "(The Kubernetes API failed (500): etcd down)\n"
        "_Check that the Kubernetes API server is up._"
    )


def test_environment_is_read_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAYNE_SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("KRAYNE_RAY_VERSION", "2.50.0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    settings = BotSettings.load({"ray_version": "2.53.0", "namespace": None})
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.ray_version == "2.53.0"
    assert settings.namespace == "default"
    assert settings.secret("bot_token") == "xoxb-env"
    assert "xoxb-env" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "watched"),
    [(None, ["team"]), ("", ["team"]), ("*", None), ("a, b,,c", ["a", "b", "c"])],
)
def test_watched_namespaces_default_to_the_bots_own(
    raw: str | None, watched: list[str] | None
) -> None:
    settings = BotSettings.load({"namespace": "team", "watch_namespaces": raw})
    assert settings.watched() == watched


def _answer(code: int, reason: str, message: str) -> KrayneError:
    """The error a real API server answer becomes (``core.kube_errors``), as readiness sees it."""
    body = {"kind": "Status", "code": code, "reason": reason, "message": message}
    probe = Target("raycluster", "default", "krayne-readiness-probe")
    return api_error(code, body, server="https://10.0.0.1:6443", target=probe)


@pytest.mark.parametrize(
    ("error", "down"),
    [
        (KubeConnectionError("Cannot reach the Kubernetes API"), True),
        (_answer(503, "ServiceUnavailable", "injected fault"), True),
        (_answer(500, "InternalError", "internal"), True),
        (_answer(401, "Unauthorized", "Unauthorized"), True),
        (ClusterNotFoundError("krayne-readiness-probe", "default"), False),
        (_answer(404, "NotFound", 'rayclusters.ray.io "krayne-readiness-probe" not found'), False),
        (_answer(403, "Forbidden", "forbidden"), False),
        (_answer(409, "Conflict", "the object has been modified"), False),
        (_answer(429, "TooManyRequests", "slow down"), False),
        (KubeApiError("bad request", status=400, reason="BadRequest"), False),
    ],
)
def test_readiness_counts_only_missing_or_failing_answers_as_unreachable(
    error: KrayneError, down: bool
) -> None:
    assert unreachable(error) is down


@pytest.mark.parametrize(
    ("problem", "field"),
    [
        ("worker group 'worker': gpu_type 'A B' is not valid", "gpu_type"),
        ("worker group 'worker': gpus must be a whole number between 0 and 128", "gpus"),
        ("worker group 'worker': replicas must be a whole number between 0 and 1000", "workers"),
        ("worker group 'worker': cpus 'abc' is not a valid Kubernetes quantity", "cpus"),
        ("image 'bad image' is not valid", "image"),
        ("something nobody foresaw", "name"),  # always shown somewhere
    ],
)
def test_each_config_problem_lands_on_the_form_field_it_is_about(problem: str, field: str) -> None:
    from bot.create_form import field_errors
    from core.errors import ConfigValidationError

    assert field_errors(ConfigValidationError([problem])) == {field: problem}
