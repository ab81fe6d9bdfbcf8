"""`krayne-bot`: one console script, four entry points (DESIGN §9).

Subcommands import their modules lazily so `krayne-bot --help` and `krayne-bot shell` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

_COMMANDS = {
    "serve": "run the production bot (HTTP on aiohttp, or Socket Mode)",
    "shell": "the bot in your terminal, against an embedded sandbox Kubernetes",
    "sandbox": "run the sandbox Kubernetes API server with a simulated KubeRay operator",
    "manifest": "print the RayCluster YAML that /krayne create would submit",
}

_EPILOG = """examples:
  krayne-bot shell                         try the whole product, no Slack or cluster needed
  krayne-bot manifest demo --gpus 1        preview a cluster's YAML
  krayne-bot sandbox --kubeconfig-out /tmp/sandbox.kubeconfig
  krayne-bot serve --port 3000             needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krayne-bot",
        description="Ray clusters on Kubernetes from Slack.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in _COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not args or args[0] not in _COMMANDS:
        if args and args[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(
                f"krayne-bot: unknown command {args[0]!r}; choose one of: " + ", ".join(_COMMANDS),
                file=sys.stderr,
            )
            return 2
        parser.print_help()
        return 0
    command, rest = args[0], args[1:]
    if command == "serve":
        from bot.serve import run_serve

        return run_serve(rest)
    if command == "shell":
        from bot.shell.cli import run_shell

        return run_shell(rest)
    if command == "sandbox":
        from core.sandbox import cli

        sandbox_parser = argparse.ArgumentParser(
            prog="krayne-bot sandbox", description=_COMMANDS["sandbox"]
        )
        cli.add_arguments(sandbox_parser)
        return cli.run(sandbox_parser.parse_args(rest))
    from bot.manifest_cli import run_manifest

    return run_manifest(rest, stdout=sys.stdout, stderr=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
