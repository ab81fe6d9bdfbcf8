"""`krayne-bot serve`: the production bot, over HTTP (aiohttp) or Slack's Socket Mode."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.priority import freeze_startup_heap
from bot.runtime import BotRuntime
from bot.settings import BotSettings
from core.errors import KrayneError

log = logging.getLogger("bot.serve")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krayne-bot serve",
        description="Run krayne-bot. Settings come from the environment (SLACK_BOT_TOKEN, "
        "SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, KRAYNE_SLACK_API_URL, KUBECONFIG, "
        "KRAYNE_KUBE_CONTEXT, KRAYNE_NAMESPACE, KRAYNE_RAY_VERSION, KRAYNE_LOG_FORMAT); "
        "flags beat the environment.",
    )
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 3000)")
    parser.add_argument("--host", default=None, help="address to bind (default 0.0.0.0)")
    parser.add_argument(
        "--socket-mode", action="store_true", default=None,
        help="receive requests over Socket Mode (needs SLACK_APP_TOKEN); HTTP keeps serving "
        "/healthz, /readyz and /metrics",
    )  # fmt: skip
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster)")
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument("-n", "--namespace", default=None, help="default namespace")
    return parser


class JsonFormatter(logging.Formatter):
    """One JSON object per line (KRAYNE_LOG_FORMAT=json), for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        audit = getattr(record, "audit", None)
        if isinstance(audit, dict):  # core.audit: the fields as an object, not only as text
            entry["audit"] = audit
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def load_settings(argv: Sequence[str]) -> BotSettings:
    args = _parser().parse_args(list(argv))
    return BotSettings.load(
        {
            "port": args.port,
            "host": args.host,
            "socket_mode": args.socket_mode,
            "kubeconfig": args.kubeconfig,
            "kube_context": args.context,
            "namespace": args.namespace,
        }
    )


async def serve(settings: BotSettings) -> None:
    runtime = BotRuntime(settings)
    freeze_startup_heap()  # the process is the bot's alone (see bot/priority.py)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    try:
        await runtime.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_serve(argv: Sequence[str]) -> int:
    """Entry point of `krayne-bot serve`; returns the process exit code."""
    try:
        settings = load_settings(argv)
    except ValidationError as err:
        print(f"krayne-bot serve: invalid settings:\n{err}", file=sys.stderr)
        return 2
    missing = [
        env
        for env, value in (
            ("SLACK_BOT_TOKEN", settings.secret("bot_token")),
            ("SLACK_SIGNING_SECRET", settings.secret("signing_secret")),
            ("SLACK_APP_TOKEN", settings.secret("app_token") if settings.socket_mode else "-"),
        )
        if not (value or "").strip()  # a blank secret is a key anyone can sign with
    ]
    if missing:
        print(f"krayne-bot serve: set {', '.join(missing)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    try:
        asyncio.run(serve(settings))
    except KrayneError as err:
        print(f"krayne-bot serve: {err.message}" + (f"\n{err.hint}" if err.hint else ""),
              file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
