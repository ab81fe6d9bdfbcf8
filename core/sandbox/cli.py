"""``krayne-bot sandbox``: run the sandbox API server in the foreground until SIGINT/SIGTERM.

Prints where it listens and how to point kubectl at it; the kubeconfig is written to
``--kubeconfig-out`` (default ``./krayne-sandbox.kubeconfig``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from pathlib import Path
from typing import Any

from core.errors import KrayneError
from core.sandbox.runner import Sandbox

DEFAULT_KUBECONFIG = "krayne-sandbox.kubeconfig"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument(
        "--kubeconfig-out",
        default=DEFAULT_KUBECONFIG,
        help=f"where to write the kubeconfig (default ./{DEFAULT_KUBECONFIG})",
    )
    parser.add_argument("--config", default=None, help="simulation config YAML (node pool, images)")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated steps run this many times faster (timestamps stay wall-clock time)",
    )


def _load_sim_config(path: str | None) -> Any:
    if path is None:
        return None
    module = importlib.import_module("core.sandbox.sim.simconfig")
    return module.SimConfig.from_yaml(path)


async def _serve(args: argparse.Namespace, config: Any, kubeconfig_out: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Sandbox(
            host=args.host,
            port=args.port,
            config=config,
            speed=args.speed,
            kubeconfig_out=kubeconfig_out,
        ) as sandbox:
            print(f"Sandbox Kubernetes API server listening on {sandbox.url}")
            print(f"Kubeconfig written to {sandbox.kubeconfig_path}")
            print("Use it with:")
            print(f"  export KUBECONFIG={sandbox.kubeconfig_path}")
            print("  kubectl get rayclusters")
            print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    try:
        config = _load_sim_config(args.config)
        asyncio.run(_serve(args, config, Path(args.kubeconfig_out).absolute()))
    except KrayneError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("Sandbox stopped.")
    return 0
