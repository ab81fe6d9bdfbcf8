"""Managing clusters from Slack: list, describe, manifest, scale and delete (commands and
buttons), the owner rule, App Home, a channel the bot is not in, and Slack's rate limit."""

from __future__ import annotations

import asyncio

from bot.slack_double.server import SlackDouble
from core.sandbox.runner import ThreadedSandbox
from tests.scenarios.conftest import RunningBot
from tests.scenarios.harness import (
    WAIT,
    SlackClient,
    all_text,
    card_of,
    current,
    rayclusters,
    wait_card,
    wait_created,
    wait_reply,
)

ALICE, BOB = "U0001", "U0002"


def ephemeral_with(double: SlackDouble, user: str, needle: str) -> object:
    def find() -> object:
        for message in reversed(double.ephemerals(user)):
            if needle in all_text(message):
                return message
        return None

    return find


async def test_list_shows_the_clusters_of_two_users(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create alpha", user=ALICE)
    await slack.slash("create beta", user=BOB)
    await wait_created(double, "alpha")
    await wait_created(double, "beta")
    answer = await slack.slash("list", user=ALICE)
    assert answer.status == 200
    shown = await double.wait_for(ephemeral_with(double, ALICE, "cluster(s)"), WAIT)
    table = all_text(shown)
    assert "alpha" in table and "beta" in table
    assert "alice" in table and "bob" in table
    mine = await slack.slash("list --mine", user=BOB)
    assert mine.status == 200
    only_bob = await double.wait_for(ephemeral_with(double, BOB, "owned by you"), WAIT)
    assert "beta" in all_text(only_bob) and "alpha" not in all_text(only_bob)


async def test_describe_and_manifest_answer_privately(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("manifest preview --gpus 1")
    shown = await double.wait_for(ephemeral_with(double, ALICE, "kind: RayCluster"), WAIT)
    assert "nvidia.com/gpu" in all_text(shown)
    assert not await rayclusters(sandbox, namespace)

    await slack.slash("create described")
    await wait_created(double, "described")
    await slack.slash("describe described")
    details = await double.wait_for(ephemeral_with(double, ALICE, "Group `worker`"), WAIT)
    assert "described-head-svc" in all_text(details)

    await slack.slash("describe nope")
    missing = await double.wait_for(ephemeral_with(double, ALICE, "was not found"), WAIT)
    assert "/krayne list" in all_text(missing)


async def test_scale_by_command_and_button_is_told_in_the_thread(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create scaly --workers 1")
    card = await wait_created(double, "scaly")
    await slack.slash("scale scaly --workers 2")
    said = await wait_reply(double, card, "scaled group `worker` to 2")
    assert said.text.startswith(":straight_ruler: alice scaled")  # named: no self-ping
    assert "<@U0001>" not in said.text

    await slack.click(current(double, card), "krayne_scale_up")
    await wait_reply(double, card, "scaled group `worker` to 3")
    [cluster] = [
        c for c in await rayclusters(sandbox, namespace) if c["metadata"]["name"] == "scaly"
    ]
    assert cluster["spec"]["workerGroupSpecs"][0]["replicas"] == 3


async def test_only_the_owner_may_scale_or_delete(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create mine", user=ALICE)
    card = await wait_created(double, "mine")
    await slack.slash("delete mine", user=BOB)
    await double.wait_for(ephemeral_with(double, BOB, "Only the owner"), WAIT)
    await slack.slash("scale mine --workers 3", user=BOB)
    await double.wait_for(
        lambda: len([e for e in double.ephemerals(BOB) if "Only the owner" in e.text]) == 2, WAIT
    )
    await slack.click(current(double, card), "krayne_delete", user=BOB)
    await double.wait_for(
        lambda: len([e for e in double.ephemerals(BOB) if "Only the owner" in e.text]) == 3, WAIT
    )
    assert any(c["metadata"]["name"] == "mine" for c in await rayclusters(sandbox, namespace))


async def test_delete_asks_to_confirm_then_says_who_deleted(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    await slack.slash("create doomed")
    card = await wait_created(double, "doomed")
    await slack.slash("delete doomed")
    confirm = await double.wait_for(ephemeral_with(double, ALICE, "Delete cluster `doomed`"), WAIT)
    await slack.click(confirm, "krayne_delete_cancel", is_ephemeral=True)  # type: ignore[arg-type]
    await double.wait_for(ephemeral_with(double, ALICE, "Kept `doomed`"), WAIT)
    assert any(c["metadata"]["name"] == "doomed" for c in await rayclusters(sandbox, namespace))

    await slack.click(current(double, card), "krayne_delete")
    confirm = await double.wait_for(ephemeral_with(double, ALICE, "Delete cluster `doomed`"), WAIT)
    await slack.click(confirm, "krayne_delete_confirm", is_ephemeral=True)  # type: ignore[arg-type]
    await wait_reply(double, card, "Deleted by alice")  # named: no self-ping

    async def gone() -> bool:
        return not any(
            c["metadata"]["name"] == "doomed" for c in await rayclusters(sandbox, namespace)
        )

    await double.wait_for(lambda: "Deleted by" in all_text(current(double, card)), WAIT)
    assert await gone()
    assert all(b["type"] != "actions" for b in current(double, card).blocks)


async def test_app_home_shows_my_clusters_and_the_teams(
    slack: SlackClient, double: SlackDouble
) -> None:
    await slack.slash("create homey", user=ALICE)
    await slack.slash("create other", user=BOB)
    await wait_created(double, "homey")
    await wait_created(double, "other")
    answer = await slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
    assert answer.status == 200
    views = await double.wait_for(lambda: double.published_views(ALICE), WAIT)
    home = str(views[-1])
    assert home.index("Your clusters") < home.index("homey") < home.index("team's")
    assert home.index("team's") < home.index("other")


async def test_a_channel_without_the_bot_is_answered_through_response_url(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox, namespace: str
) -> None:
    answer = await slack.slash("create outside", channel="C0002")
    assert answer.status == 200
    told = await double.wait_for(ephemeral_with(double, ALICE, "/invite @krayne"), WAIT)
    assert "outside" in all_text(told)
    assert double.messages("C0002") == []
    assert any(c["metadata"]["name"] == "outside" for c in await rayclusters(sandbox, namespace))


async def test_slack_rate_limits_are_waited_out_and_nothing_is_dropped(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    double.fail_next("chat.postMessage", "ratelimited", retry_after=1, times=3)
    double.fail_next("chat.update", "ratelimited", retry_after=1, times=2)
    await slack.slash("create limited")
    card = await wait_card(double, "limited")
    await wait_reply(double, card, "is ready")
    await double.wait_for(
        lambda: current(double, card).text.startswith("Ray cluster limited: ready — "), WAIT
    )  # the phase, the reason and the owner, for screen readers and notifications
    assert current(double, card).text.endswith("(owner: alice)")
    refused = [c for c in double.calls if c.response.get("error") == "ratelimited"]
    assert len(refused) == 5
    announced = bot.runtime.metrics.registry.get_sample_value(
        "krayne_notifications_total", {"phase": "ready"}
    )
    assert announced == 1
    replies = double.thread("C0001", card.ts)
    total = sum(
        bot.runtime.metrics.registry.get_sample_value("krayne_notifications_total", {"phase": p})
        or 0
        for p in ("creating", "pods-pending", "containers-creating", "running", "ready")
    )
    assert len(replies) == total  # every reply the notifier queued reached the thread


async def test_create_in_a_missing_namespace_explains_and_posts_no_card(
    slack: SlackClient, double: SlackDouble
) -> None:
    answer = await slack.slash("create lost -n no-such-namespace")
    assert answer.status == 200
    told = await double.wait_for(ephemeral_with(double, ALICE, "no-such-namespace"), WAIT)
    assert "does not exist" in all_text(told)
    assert card_of(double, "lost")() is None
    assert double.calls_to("chat.postMessage") == []


async def test_a_cluster_in_an_unwatched_namespace_is_created_with_a_warning(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox
) -> None:
    await asyncio.to_thread(sandbox.store.create, "namespaces", {"metadata": {"name": "elsewhere"}})
    await slack.slash("create far -n elsewhere")
    told = await double.wait_for(ephemeral_with(double, ALICE, "do not watch"), WAIT)
    assert "KRAYNE_WATCH_NAMESPACES" in all_text(told)
    assert any(c["metadata"]["name"] == "far" for c in await rayclusters(sandbox, "elsewhere"))


async def test_list_and_describe_of_a_watched_namespace_cost_no_kubernetes_request(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox
) -> None:
    for i in range(4):
        await slack.slash(f"create many{i}")
    for i in range(4):
        await wait_created(double, f"many{i}")
    await asyncio.to_thread(sandbox.reset_requests)
    await slack.slash("list")
    await double.wait_for(ephemeral_with(double, ALICE, "4 cluster(s)"), WAIT)
    await slack.slash("describe many2")
    details = await double.wait_for(ephemeral_with(double, ALICE, "Group `worker`"), WAIT)
    assert "many2-head-svc" in all_text(details)
    requests = await asyncio.to_thread(lambda: sandbox.requests)
    # list and describe only read; writes meanwhile are the notifier's bookkeeping of threads
    assert [(m, p) for m, p, q in requests if "watch=" not in q and m == "GET"] == []

    await slack.slash("describe nope")  # not in the cache: one GET tells missing from not ours
    await double.wait_for(ephemeral_with(double, ALICE, "was not found"), WAIT)
    requests = await asyncio.to_thread(lambda: sandbox.requests)
    asked = [(m, p.rsplit("/", 1)[-1]) for m, p, q in requests if "watch=" not in q]
    assert [a for a in asked if a[0] == "GET"] == [("GET", "nope")]


async def test_list_of_a_namespace_not_watched_costs_two_kubernetes_requests(
    slack: SlackClient, double: SlackDouble, sandbox: ThreadedSandbox
) -> None:
    await asyncio.to_thread(sandbox.store.create, "namespaces", {"metadata": {"name": "afar"}})
    for i in range(3):
        await slack.slash(f"create far{i} -n afar")
    for i in range(3):
        await double.wait_for(ephemeral_with(double, ALICE, f"`far{i}` was created"), WAIT)
    await asyncio.to_thread(sandbox.reset_requests)
    await slack.slash("list -n afar")
    await double.wait_for(ephemeral_with(double, ALICE, "3 cluster(s)"), WAIT)
    requests = await asyncio.to_thread(lambda: sandbox.requests)
    lists = [(m, p) for m, p, q in requests if m == "GET" and "watch=" not in q]
    assert len(lists) == 2, lists
    assert {p.rsplit("/", 1)[-1] for _, p in lists} == {"rayclusters", "pods"}


async def test_an_opened_app_home_follows_the_phases_of_its_owners_clusters(
    bot: RunningBot, slack: SlackClient, double: SlackDouble
) -> None:
    await slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
    [first] = await double.wait_for(lambda: double.published_views(ALICE), WAIT)
    assert "homefresh" not in str(first)

    await slack.slash("create homefresh", user=ALICE)
    await slack.slash("create bobs", user=BOB)  # Bob never opened his Home
    card = await wait_card(double, "homefresh")
    await wait_reply(double, card, "is ready")

    def home_says_ready() -> bool:
        home = str(double.published_views(ALICE)[-1])
        return "homefresh" in home and ":large_green_circle: ready" in home

    await double.wait_for(home_says_ready, WAIT)
    assert bot.runtime.home is not None and bot.runtime.home.viewers == {ALICE}
    await wait_created(double, "bobs")
    assert double.published_views(BOB) == []
