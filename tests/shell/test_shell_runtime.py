"""ShellRuntime counts the commands it runs, so piped input can wait for each line's work.

Counting while running is covered end to end by tests/shell/test_shell_piped.py (`list` right
after two creates shows both)."""

from __future__ import annotations

from bot.settings import BotSettings
from bot.shell.runtime import ShellRuntime

SETTINGS = {"slack_bot_token": "xoxb-x", "slack_signing_secret": "s", "socket_mode": False}


async def test_work_refused_while_not_running_is_not_counted_as_busy() -> None:
    runtime = ShellRuntime(BotSettings.load(SETTINGS), http=False)
    ran = False

    async def work() -> None:
        nonlocal ran
        ran = True

    runtime.spawn(work(), "refused")
    assert (runtime.busy, runtime.idle.is_set(), ran) == (0, True, False)

