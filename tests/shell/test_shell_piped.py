"""`krayne-bot shell` with piped input, run as a user would: a subprocess against the embedded
sandbox, its printed transcript checked for what a person in the channel would read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.sandbox.runner import ThreadedSandbox

SCRIPT = """\
/krayne create demo --gpus 1
/krayne create big --gpus 64
/krayne list
/krayne delete big
1
"""


def run_shell(stdin: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "shell", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def thread(transcript: str, parent: str) -> list[str]:
    """Every reply printed under ``↳ in the thread of “parent”`` (its lines, unindented)."""
    replies: list[str] = []
    inside = False
    for line in transcript.splitlines():
        if line.startswith("    ↳ in the thread of "):
            inside = line.startswith(f"    ↳ in the thread of “{parent}”")
        elif inside and line.startswith("        "):
            replies.append(line.strip())
        else:
            inside = False
    return replies


@pytest.fixture(scope="module")
def session() -> subprocess.CompletedProcess[str]:
    return run_shell(SCRIPT, "--speed", "50", "--timeout", "60")


def test_shell_exits_cleanly_after_everything_settled(
    session: subprocess.CompletedProcess[str],
) -> None:
    assert session.returncode == 0, session.stderr
    assert "gave up waiting" not in session.stdout
    assert "Traceback" not in session.stdout + session.stderr


def test_create_posts_a_card_in_the_channel(session: subprocess.CompletedProcess[str]) -> None:
    out = session.stdout
    assert "alice> /krayne create demo --gpus 1" in out
    assert "(only visible to you) krayne: ⏳ Creating `demo`…" in out
    assert "#general · krayne\n    ▌ Ray cluster demo\n" in out


def test_ready_is_announced_in_the_thread_mentioning_the_owner(
    session: subprocess.CompletedProcess[str],
) -> None:
    replies = thread(session.stdout, "Ray cluster demo")
    ready = [r for r in replies if "is ready" in r and "@alice" in r]
    assert ready, replies
    assert any("kubectl port-forward -n default svc/demo-head-svc" in r for r in replies)
    assert "✎ card updated: Ray cluster demo — 🟢 ready" in session.stdout


def test_unschedulable_reply_quotes_the_scheduler(
    session: subprocess.CompletedProcess[str],
) -> None:
    replies = thread(session.stdout, "Ray cluster big")
    stuck = [r for r in replies if "`big` cannot be scheduled" in r]
    assert stuck, replies
    assert "Insufficient nvidia.com/gpu" in stuck[0]
    assert "64 nvidia.com/gpu" in stuck[0], "what the pod asked for is shown next to the reason"


def test_list_shows_both_clusters(session: subprocess.CompletedProcess[str]) -> None:
    out = session.stdout
    listing = out[out.index("alice> /krayne list") : out.index("alice> /krayne delete big")]
    assert "2 cluster(s) in `default`" in listing
    rows = [line.split() for line in listing.splitlines() if line.startswith("    │ ")]
    names = {row[1] for row in rows[1:]}
    assert names == {"demo", "big"}


def test_delete_asks_then_the_numbered_button_confirms(
    session: subprocess.CompletedProcess[str],
) -> None:
    out = session.stdout
    after = out[out.index("alice> /krayne delete big") :]
    assert "Delete cluster `big` in namespace `default`?" in after
    assert "    [1] Delete  [2] Cancel" in after
    assert "alice> 1\n(you clicked “Delete”)" in after
    assert "(only visible to you, replaces the message above) krayne: Deleting `big`" in after
    assert "✎ card updated: Ray cluster big — 🗑 Deleted by alice." in after  # no self-ping


def test_unknown_kubeconfig_fails_with_a_message_not_a_traceback() -> None:
    result = run_shell("/krayne list\n", "--kubeconfig", "/nonexistent/kubeconfig", timeout=60)
    assert result.returncode == 1
    assert "krayne-bot shell:" in result.stderr
    assert "Traceback" not in result.stderr


def test_given_kubeconfig_is_used_instead_of_the_embedded_sandbox(
    sandbox: ThreadedSandbox,
) -> None:
    result = run_shell(
        "/krayne create outside\n",
        "--kubeconfig", str(sandbox.kubeconfig_path), "--context", "krayne-sandbox",
        "--user", "bob", "--channel", "ml-team", "--timeout", "60",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "#ml-team · krayne\n    ▌ Ray cluster outside" in result.stdout
    assert "@bob your cluster `outside` is ready" in result.stdout
    assert sandbox.store.get("rayclusters", "default", "outside") is not None


def test_the_create_form_is_asked_field_by_field_and_errors_are_asked_again() -> None:
    answers = ["Bad_Name", "1", "", "", "", "", "", "2h", "notebook", "formy"]
    result = run_shell("/krayne create\n" + "\n".join(answers) + "\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Cluster name (e.g. my-cluster):" in out
    assert "✗ name: name 'Bad_Name' is not valid" in out
    assert out.count("Cluster name (e.g. my-cluster):") == 2  # only the bad field again
    assert "(form submitted)" in out
    assert "▌ Ray cluster formy" in out
    assert "🎉 @alice your cluster `formy` is ready." in out
