"""Only the workspace the bot is installed in may use it (issue 12, hole 6).

In a Slack Connect channel people of other organisations can type ``/krayne`` and press its
buttons; their requests carry their own team (and enterprise) id. The bot learns its own from
``auth.test`` and refuses the rest: a command privately, anything else silently.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

from bot.shell import signing
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.harness import WAIT, SlackClient, rayclusters, wait_created

ALICE, BOB = "U0001", "U0002"
OTHER_TEAM, OTHER_ORG = "T0OTHER", "E0OTHER"


def _from(body: bytes, **fields: str) -> bytes:
    """A slash command body as another organisation's Slack would send it."""
    data = dict(parse_qsl(body.decode(), keep_blank_values=True))
    data.update(fields)
    return urlencode(list(data.items())).encode()


async def test_a_command_from_another_team_or_org_is_refused_privately_and_creates_nothing(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    for name, fields in (
        ("intruder", {"team_id": OTHER_TEAM}),
        ("grid-intruder", {"enterprise_id": OTHER_ORG, "is_enterprise_install": "false"}),
    ):
        answer = await slack.post(_from(slack.command_body(f"create {name}"), **fields))
        assert answer.status == 200
        assert isinstance(answer.body, dict) and answer.body["response_type"] == "ephemeral"
        assert "workspace it is installed in" in answer.text

    await slack.slash("create legit")  # the home team is served as before
    await wait_created(double, "legit")
    names = {c["metadata"]["name"] for c in await rayclusters(sandbox, namespace)}
    assert names == {"legit"}


async def test_events_from_another_team_are_ignored(
    slack: SlackClient, double: SlackDouble
) -> None:
    foreign = signing.event_body(
        signing.app_home_opened_event(BOB), team_id=OTHER_TEAM, bot_user_id=double.bot_user_id
    )
    assert (await slack.post(foreign, content_type=signing.JSON)).status == 200
    shared = json.loads(
        signing.event_body(
            {**signing.app_home_opened_event(BOB), "user_team": OTHER_TEAM},
            team_id=double.team_id, bot_user_id=double.bot_user_id,
        )  # fmt: skip
    )
    shared["is_ext_shared_channel"] = True  # a Slack Connect channel: the actor is elsewhere
    body = json.dumps(shared).encode()
    assert (await slack.post(body, content_type=signing.JSON)).status == 200

    await slack.event(signing.app_home_opened_event(ALICE))
    await double.wait_for(lambda: double.published_views(ALICE), WAIT)
    assert double.published_views(BOB) == []
