"""Block Kit renderers: every view stays inside Slack's limits, whatever the input size."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import blocks
from bot.facts import CardView
from bot.slack_double.limits import BLOCKS_TEXT_LIMIT, validate_blocks, validate_view
from core.api import (
    ClusterDetails,
    ClusterSummary,
    EventInfo,
    HeadInfo,
    WorkerGroupInfo,
)
from core.status import ClusterStatus, Phase

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LONG = "x" * 10_000


def _summary(i: int = 0, *, owner: str = "U1", phase: Phase = Phase.READY) -> ClusterSummary:
    return ClusterSummary(
        name=f"c{i}",
        namespace="team-a",
        owner=owner,
        status=ClusterStatus(phase, "all good"),
        created_at=NOW - timedelta(minutes=90),
        ready_workers=1,
        desired_workers=2,
        gpus=1,
        slack=None,
    )


def _details(*, groups: int = 1, events: int = 1, text: str = "msg") -> ClusterDetails:
    return ClusterDetails(
        summary=_summary(),
        head=HeadInfo("1", "4Gi", "rayproject/ray:2.53.0-py311", "c0-head-x", "10.0.0.1", True),
        worker_groups=tuple(
            WorkerGroupInfo(f"g{i}", 1, 0, 2, 1, "1", "2Gi", 1, None, "img") for i in range(groups)
        ),
        head_service="c0-head-svc.team-a.svc.cluster.local",
        endpoints={"dashboard": 8265, "client": 10001},
        services=("notebook",),
        warning_events=tuple(
            EventInfo("Warning", "BackOff", text, f"pod/p{i}", 3, NOW) for i in range(events)
        ),
    )


def _ok(rendered: list[dict[str, object]]) -> None:
    problems, chars = validate_blocks(rendered)
    assert problems == []
    assert chars <= BLOCKS_TEXT_LIMIT  # Slack's msg_blocks_too_long


@pytest.mark.parametrize("phase", list(Phase))
def test_card_renders_every_phase_within_limits(phase: Phase) -> None:
    status = ClusterStatus(phase, LONG, hint=LONG)
    view = CardView("demo", "default", "U1", status, (LONG, LONG), 4, 1, 2)
    rendered = blocks.card(view)
    _ok(rendered)
    assert rendered[0]["type"] == "header"
    assert "demo" in rendered[0]["text"]["text"]  # type: ignore[index]


def test_card_of_a_deleted_cluster_says_who_deleted_and_offers_no_buttons() -> None:
    view = CardView(
        "demo",
        "default",
        "U1",
        ClusterStatus(Phase.DELETING, ""),
        None,
        0,
        0,
        0,
        deleted_by="U2",
        gone=True,
    )
    rendered = blocks.card(view)
    _ok(rendered)
    assert "`U2`" in str(rendered) and "<@U2>" not in str(rendered)  # named, not pinged
    assert all(b["type"] != "actions" for b in rendered)


def test_card_buttons_carry_the_cluster_reference() -> None:
    view = CardView("demo", "ns1", "U1", ClusterStatus(Phase.READY, ""), ("img",), 0, 0, 0)
    actions = [b for b in blocks.card(view) if b["type"] == "actions"][0]
    values = {e["action_id"]: e["value"] for e in actions["elements"]}  # type: ignore[index]
    assert values[blocks.DELETE] == "ns1/demo"
    assert blocks.parse_ref(values[blocks.DESCRIBE]) == ("ns1", "demo")


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 500])
def test_cluster_table_paginates_long_lists(count: int) -> None:
    rendered = blocks.cluster_table(
        [_summary(i) for i in range(count)], scope="in `team-a`", now=NOW
    )
    _ok(rendered)
    text = "\n".join(str(b.get("text", {}).get("text", "")) for b in rendered)  # type: ignore[union-attr]
    if count == 0:
        assert "No clusters" in text
        return
    shown = [f"c{i} " for i in range(min(count, 100))]
    assert all(name in text for name in shown)
    assert f"c{min(count, 100)} " not in text
    assert ("more not shown" in str(rendered)) == (count > 100)


def test_cluster_table_shows_owner_status_workers_gpus_and_age() -> None:
    rendered = blocks.cluster_table(
        [_summary(owner="U7")], scope="here", now=NOW, user_names={"U7": "ana"}
    )
    table = rendered[1]["text"]["text"]  # type: ignore[index]
    header, row = table.strip("`").splitlines()
    assert header.split() == list(blocks.LIST_COLUMNS)
    assert row.split() == ["c0", "team-a", "ana", "ready", "1/2", "1", "1h", "-"]


@pytest.mark.parametrize(
    ("expires", "cell"),
    [(None, "-"), (NOW + timedelta(hours=2, minutes=5), "in 2h 5m"), (NOW, "expired")],
)
def test_the_list_shows_the_time_left_before_a_ttl_runs_out(
    expires: datetime | None, cell: str
) -> None:
    assert blocks.expires_cell(expires, NOW) == cell


@pytest.mark.parametrize(("groups", "events", "text"), [(1, 0, "m"), (40, 10, LONG)])
def test_describe_stays_within_limits(groups: int, events: int, text: str) -> None:
    rendered = blocks.describe(_details(groups=groups, events=events, text=text), now=NOW)
    _ok(rendered)
    assert len(rendered) <= blocks.MAX_BLOCKS


def test_describe_lists_recent_warning_events() -> None:
    rendered = str(blocks.describe(_details(events=2, text="Back-off pulling"), now=NOW))
    assert "BackOff" in rendered and "Back-off pulling" in rendered and "pod/p1" in rendered


def test_thread_reply_with_code_hint_and_buttons() -> None:
    rendered = blocks.thread_reply(
        "headline", details=["a", LONG], hint=LONG, code=LONG, buttons=("ns", "demo")
    )
    _ok(rendered)
    assert rendered[-1]["type"] == "actions"


@pytest.mark.parametrize("size", [10, 3000, 3001, 20_000])
def test_long_text_and_code_are_split_into_valid_sections(size: int) -> None:
    text = "\n".join(["line " + "y" * 80] * (size // 85 + 1)) + "z" * size
    for rendered in (blocks.text_blocks(text), blocks.code_blocks("intro", text)):
        _ok(rendered)
        assert ("more blocks not shown" in str(rendered[-1])) == (size > 12_000)


def test_delete_confirmation_has_confirm_and_cancel() -> None:
    rendered = blocks.delete_confirm("ns", "demo")
    _ok(rendered)
    ids = [e["action_id"] for e in rendered[-1]["elements"]]  # type: ignore[index]
    assert ids == [blocks.DELETE_CONFIRM, blocks.DELETE_CANCEL]


@pytest.mark.parametrize("count", [0, 3, 200])
def test_app_home_separates_mine_from_the_team_within_limits(count: int) -> None:
    clusters = [_summary(i, owner="U1" if i % 2 else "U2") for i in range(count)]
    view = blocks.app_home("U1", clusters, now=NOW)
    assert validate_view(view) == []
    text = str(view)
    if count == 3:
        mine_at = text.index("Your clusters")
        team_at = text.index("team's clusters")
        assert mine_at < text.index("*c1*") < team_at < text.index("*c0*")


def test_app_home_when_kubernetes_is_unreachable() -> None:
    view = blocks.app_home("U1", None, now=NOW)
    assert validate_view(view) == []
    assert "not reachable" in str(view)


@pytest.mark.parametrize(
    ("seconds", "expected"), [(5, "5s"), (61, "1m"), (3600 * 5, "5h"), (86400 * 3, "3d")]
)
def test_age_is_short(seconds: int, expected: str) -> None:
    assert blocks.age(NOW - timedelta(seconds=seconds), NOW) == expected


def test_app_home_shows_my_clusters_expiry_with_an_extend_button() -> None:
    mine = replace(_summary(owner="U1"), expires=NOW + timedelta(hours=3))
    view = blocks.app_home("U1", [mine, _summary(1, owner="U1")], now=NOW)
    text = json.dumps(view)
    assert "expires in 3h" in text
    extends = [
        e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == blocks.TTL_EXTEND
    ]  # fmt: skip
    assert [e["value"] for e in extends] == [blocks.ref_value("team-a", "c0")]


def test_a_list_cut_short_by_slacks_text_limit_counts_clusters_and_says_how_to_narrow_it() -> None:
    clusters = [
        replace(_summary(i, owner=f"U{i}"), name=f"c{i}-" + "n" * 48, namespace="ns-" + "x" * 37)
        for i in range(100)
    ]
    names = {f"U{i}": "a-rather-long-name-" + str(i) for i in range(100)}
    rendered = blocks.cluster_table(clusters, scope="in `ns`", now=NOW, user_names=names)
    _ok(rendered)
    note = str(rendered[-1])
    assert "more not shown" in note and "blocks" not in note
    assert "Narrow the list with `-n NAMESPACE` or `--mine`" in note
    hidden = int(note.split("…and ")[1].split(" ")[0])
    assert hidden > 0
    rows = sum(str(b).count("-nnnn") for b in rendered)
    assert rows + hidden == 100


def test_untrusted_text_is_escaped_once_and_cannot_close_a_fence() -> None:
    assert blocks.escape("a & <b> <!channel>") == "a &amp; &lt;b&gt; &lt;!channel&gt;"
    fenced = blocks.fence("```\n<https://evil|x>\n`")
    assert fenced.startswith("```") and fenced.endswith("```") and fenced.count("```") == 2
    assert "&lt;https://evil|x&gt;" in fenced and "&amp;lt;" not in fenced


def test_a_long_log_keeps_its_last_lines_whole() -> None:
    log = "\n".join(f"line {i:04d} " + "x" * 60 for i in range(200))
    fenced = blocks.fence(log, 3000)
    assert len(fenced) <= 3000
    assert fenced.endswith("line 0199 " + "x" * 60 + "```")
    assert "line 0000" not in fenced
    first = fenced.removeprefix("```…\n").splitlines()[0]
    assert first.startswith("line ") and len(first) == len("line 0199 ") + 60  # no half line


def test_a_manifest_preview_escapes_what_the_user_typed() -> None:
    rendered = blocks.code_blocks("intro", "image: <!channel>```")
    code = rendered[1]["text"]["text"]
    assert "&lt;!channel&gt;" in code and code.count("```") == 2
