"""The bot against a Slack double that behaves as Slack documents it (docs/slack.md): a
response_url that fails, buttons in threads, text from outside escaped, channels where the bot
may not post, Slack's rate limits, fallback text, and no self-pings. (App Home clicks answered
in a modal: test_slack_requests.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot import blocks
from bot.slack_double.inputs import manifest_settings
from bot.slack_double.records import Channel, EphemeralMessage
from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox, running_sandbox
from core.sandbox.sim.simconfig import CrashSpec, ImageCatalogueConfig, SimConfig
from tests.scenarios.conftest import SHIPPED_MANIFEST, SPEED, RunningBot
from tests.scenarios.harness import (
    CHANNEL,
    WAIT,
    SlackClient,
    all_text,
    current,
    wait_created,
    wait_reply,
)

USER = "U0001"
HOSTILE_IMAGE = "example.com/krayne/hostile-ray:latest"
HOSTILE_LOG = [
    *(f"{i:02d} " + "noise " * 30 for i in range(18)),  # ~3,400 characters before the end
    "<!channel> ``` <https://evil.example|dashboard> & friends",
    "LAST LINE: ray exited because of <oom>",
]
CHANNELS = (
    Channel("C0001", "general"),
    Channel("C0002", "random", is_member=False),
    Channel("C0003", "announcements", posting="read_only"),
    Channel("C0004", "threads-only", posting="threads_only"),
    Channel("C0005", "locked", posting="restricted"),
    Channel("D0042", "alice-bob", is_im=True, is_member=False,
            members=frozenset({"U0001", "U0002"})),
)  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    """The usual sandbox, plus an image whose crash log is hostile mrkdwn."""
    config = SimConfig(
        images=ImageCatalogueConfig(
            crashing={HOSTILE_IMAGE: CrashSpec(reason="Error", run_seconds=1.0, log=HOSTILE_LOG)}
        )
    )
    with running_sandbox(speed=SPEED, config=config) as running:
        yield running


@pytest.fixture
async def double() -> AsyncIterator[SlackDouble]:
    settings = manifest_settings(SHIPPED_MANIFEST)
    async with SlackDouble(time_scale=SPEED, channels=CHANNELS, **settings) as running:
        yield running


def _ephemeral(double: SlackDouble, needle: str) -> EphemeralMessage | None:
    return next((e for e in double.ephemerals(USER) if needle in all_text(e)), None)


# --- 2. a response_url that fails --------------------------------------------------------------


async def test_a_list_whose_response_url_fails_still_reaches_the_user(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create listed")
    await wait_created(double, "listed")
    double.fail_next("response_url", "expired_url", status=404)
    await slack.slash("list")
    shown = await double.wait_for(lambda: _ephemeral(double, "cluster(s) in"), WAIT)
    assert "listed" in all_text(shown)
    [fallback] = double.calls_to("chat.postEphemeral")
    assert fallback.args["user"] == USER and fallback.args["channel"] == CHANNEL
    failures = bot.runtime.metrics.registry.get_sample_value("krayne_response_url_failures_total")
    assert failures == 1


# --- 3. buttons in a thread ---------------------------------------------------------------------


async def test_a_thread_buttons_answer_lands_in_the_thread(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create threaded --image docker.io/rayproject/ray:0.0.0-nope")
    card = await wait_created(double, "threaded")
    reply = await wait_reply(double, card, "(`image-pull-error`)")
    await slack.click(reply, blocks.DESCRIBE)
    described = await double.wait_for(lambda: _ephemeral(double, "*Head*"), WAIT)
    assert described.thread_ts == card.ts

    await slack.click(reply, blocks.DELETE)
    question = await double.wait_for(lambda: _ephemeral(double, "Delete cluster"), WAIT)
    assert question.thread_ts == card.ts
    await slack.click(question, blocks.DELETE_CANCEL, is_ephemeral=True)  # type: ignore[arg-type]
    kept = await double.wait_for(lambda: _ephemeral(double, "Kept `threaded`"), WAIT)
    assert kept.thread_ts == card.ts
    assert kept.blocks == ()  # replace_original replaced the whole message, buttons too

    before = len(double.ephemerals(USER))
    await slack.click(current(double, card), blocks.DESCRIBE)  # the card: top level
    await double.wait_for(lambda: len(double.ephemerals(USER)) > before, WAIT)
    assert double.ephemerals(USER)[-1].thread_ts is None


# --- 4. escaping --------------------------------------------------------------------------------


async def test_a_hostile_crash_log_reaches_slack_escaped_fenced_and_with_its_end(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash(f"create hostile --image {HOSTILE_IMAGE}")
    card = await wait_created(double, "hostile")
    reply = await wait_reply(double, card, "(`crash-loop`)")
    text = all_text(reply)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example|dashboard>" not in text
    assert "&lt;https://evil.example|dashboard&gt; &amp; friends" in text
    [code] = [b["text"]["text"] for b in reply.blocks if "```" in b.get("text", {}).get("text", "")]
    assert code.startswith("```") and code.endswith("```") and code.count("```") == 2
    assert "LAST LINE: ray exited because of &lt;oom&gt;" in code  # the end is kept
    assert "00 noise" not in code  # the beginning gave way
    assert len(code) <= 3000


# --- 6. where the bot may not post --------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "says"),
    [
        ("C0003", "read-only"),
        ("C0004", "only allows replies in threads"),
        ("C0005", "a workspace setting stops me"),
        ("D0042", "direct message between people"),
    ],
)
async def test_a_channel_where_the_bot_may_not_post_is_explained(
    slack: SlackClient, double: SlackDouble, channel: str, says: str
) -> None:
    name = f"here-{channel.lower()}"
    await slack.slash(f"create {name}", channel=channel)
    told = await double.wait_for(lambda: _ephemeral(double, says), WAIT)
    assert told.channel == channel
    assert "Something went wrong" not in told.text and "/invite" not in told.text
    assert f"/krayne describe {name}" in told.text


# --- 7. rate limits -----------------------------------------------------------------------------


async def test_owner_names_are_asked_once_each_and_slacks_limits_never_trip(
    slack: SlackClient, double: SlackDouble
) -> None:
    assert double.rate_limits is not None  # on, at Slack's tiers, sped up like the sandbox
    assert double.rate_limits.tiers["chat.update"].per_minute == 50
    for user, name in (("U0001", "ann"), ("U0002", "bo")):
        await slack.slash(f"create {name}", user=user)
        await wait_created(double, name)
    for _ in range(3):
        before = len(double.ephemerals(USER))
        await slack.slash("list")
        await double.wait_for(lambda before=before: len(double.ephemerals(USER)) > before + 1)
    asked = [c.args["user"] for c in double.calls_to("users.info")]
    assert sorted(asked) == ["U0001", "U0002"]
    assert not [c for c in double.calls if c.response.get("error") == "ratelimited"]


# --- 8 and 9. fallback text, and no self-ping ---------------------------------------------------


async def test_the_card_names_its_owner_without_a_ping_and_says_why_in_its_text(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create quiet --image docker.io/rayproject/ray:0.0.0-nope")
    card = await wait_created(double, "quiet")
    [posted] = [c for c in double.calls_to("chat.postMessage") if c.args.get("ts") is None
                and str(c.args.get("text", "")).startswith("Ray cluster quiet:")]  # fmt: skip
    assert "<@U0001>" not in str(posted.args)  # alice just typed the command
    await wait_reply(double, card, "(`image-pull-error`)")
    text = await double.wait_for(
        lambda: "image-pull-error —" in current(double, card).text and current(double, card).text,
        WAIT,
    )
    assert text.startswith("Ray cluster quiet: image-pull-error — ")
    assert "0.0.0-nope" in text and text.endswith("(owner: alice)")
