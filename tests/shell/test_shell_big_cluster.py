"""A big cluster must not stall the shell: the sandbox simulating hundreds of pods runs in its own
process and the bot derives a cluster's status once per burst of pod changes, so the create is
acknowledged, its card gets its thread, and a `list` sent while the pods are being made is
answered (all of which a 1000-worker create once broke: 5 s deadlines missed, no thread)."""

from __future__ import annotations

import pytest

from tests.shell.test_shell_piped import run_shell, thread

SCRIPT = """\
/krayne create big --workers 500 --gpus 128
/krayne list
"""


@pytest.fixture(scope="module")
def out() -> str:
    result = run_shell(SCRIPT, "--speed", "50", "--timeout", "60", timeout=100)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def test_the_create_is_acknowledged_and_its_card_posted_once(out: str) -> None:
    assert "(only visible to you) krayne: ⏳ Creating `big`…" in out
    assert out.count("#general · krayne\n    ▌ Ray cluster big\n") == 1, out
    assert "still running after" not in out
    assert "gave up waiting" not in out


def test_the_card_gets_its_thread_replies(out: str) -> None:
    replies = thread(out, "Ray cluster big")
    assert any("`big` cannot be scheduled" in reply for reply in replies), out
    assert "✎ card updated: Ray cluster big — 🔴 unschedulable" in out


def test_a_list_sent_while_the_pods_are_made_is_answered(out: str) -> None:
    listing = out[out.index("alice> /krayne list") :]
    assert "1 cluster(s) in `default`" in listing
    rows = [line.split() for line in listing.splitlines() if line.startswith("    │ big ")]
    assert rows and rows[0][5] == "0/500", rows
