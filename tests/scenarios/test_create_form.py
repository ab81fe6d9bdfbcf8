"""`/krayne create` alone opens a form; its submission meets the very validation of the command,
with each problem shown next to its field, and a valid one posts the same card and thread."""

from __future__ import annotations

from typing import Any

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.harness import WAIT, SlackClient, rayclusters, wait_card, wait_reply

ALICE = "U0001"


async def open_form(slack: SlackClient, double: SlackDouble) -> dict[str, Any]:
    answer = await slack.slash("create")
    assert answer.status == 200
    await double.wait_for(lambda: double.modals(ALICE) or None, WAIT)
    [view] = double.modals(ALICE)[-1:]
    assert view["callback_id"] == "krayne_create_form"
    return view


async def test_the_form_creates_the_same_card_and_thread_as_the_command(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    view = await open_form(slack, double)
    answer = await slack.submit(view, {"name": "formed", "workers": "1", "cpus": "2",
                                       "ttl": "8h", "services": ["notebook"]})  # fmt: skip
    assert answer.status == 200 and not answer.body  # an empty ack closes the modal
    card = await wait_card(double, "formed")
    await wait_reply(double, card, "is ready")
    [rc] = [c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "formed"]
    worker = rc["spec"]["workerGroupSpecs"][0]
    assert worker["replicas"] == 1
    assert worker["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
    assert "krayne.io/expires-at" in rc["metadata"]["annotations"]
    ports = {p["name"] for p in rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
             ["ports"]}  # fmt: skip
    assert "notebook" in ports and "code-server" not in ports


async def test_an_invalid_field_is_answered_inline_and_nothing_is_created(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    view = await open_form(slack, double)
    answer = await slack.submit(view, {"name": "Bad_Name", "gpus": "lots", "memory": "5zz"})
    assert answer.status == 200 and isinstance(answer.body, dict)
    assert answer.body["response_action"] == "errors"
    errors = answer.body["errors"]
    assert set(errors) == {"name", "gpus"}  # the form's own checks first
    assert "lowercase letters" in errors["name"] and "whole number" in errors["gpus"]
    answer = await slack.submit(view, {"name": "good", "memory": "5zz", "ttl": "forever"})
    assert answer.body["errors"].keys() == {"ttl"}  # type: ignore[union-attr]
    answer = await slack.submit(view, {"name": "good", "memory": "5zz"})
    errors = answer.body["errors"]  # type: ignore[union-attr]
    assert errors.keys() == {"memory"} and "not a valid Kubernetes quantity" in errors["memory"]
    assert all(len(e) <= 150 for e in errors.values())
    assert await rayclusters(sandbox, namespace) == []
