"""Run a sandbox: store + API server + simulated KubeRay, and a kubeconfig pointing at it.

``Sandbox`` is an async context manager for code already on an event loop (the shell);
``running_sandbox`` runs one in its own thread and loop, so blocking callers (tests running
``kubectl`` with ``subprocess.run``) never stall it. Its ``store`` and ``faults`` are
thread-safe proxies that run each call on the sandbox's loop.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml

from core.errors import SandboxError
from core.sandbox.apiserver.authz_types import Authenticator, Authorizer
from core.sandbox.apiserver.discovery import raycluster_crd_object
from core.sandbox.apiserver.eventlog import expire_events
from core.sandbox.apiserver.faults import Faults
from core.sandbox.apiserver.objects import format_time
from core.sandbox.apiserver.server import ApiServer, RequestRecord
from core.sandbox.apiserver.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTEXT = "krayne-sandbox"
_NAMESPACES = ("default", "kube-system")


def kubeconfig(server: str, token: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": f"{CONTEXT}-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": f"{CONTEXT}-admin", "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


class Sandbox:
    """A running sandbox on the current event loop (``async with Sandbox() as sb``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: Any = None,
        speed: float = 1.0,
        kubeconfig_out: str | Path | None = None,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer | None = None,
        simulate: bool = True,
        bookmark_interval: float = 30.0,
        event_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        if speed <= 0:
            raise SandboxError(f"speed must be positive, not {speed}")
        self.host, self.port, self.config, self.speed = host, port, config, speed
        self.simulate = simulate
        self.token = secrets.token_urlsafe(24)
        # Timestamps are the wall clock at any speed: kubectl and the bot date them against
        # their own clock, so a stamp from the future would read "<invalid>". Only durations
        # (the simulation's timers, the event TTL) are divided by ``speed``.
        self.store = Store()
        self.faults = Faults(self.store)
        self.simulation: Any = None
        self._kubeconfig_out = Path(kubeconfig_out) if kubeconfig_out else None
        self._tmpdir: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.event_ttl = event_ttl
        self._auth = (authenticator, authorizer)
        self._bookmark_interval = bookmark_interval
        self.server: ApiServer | None = None
        self.url = ""
        self.kubeconfig_path = Path()

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self.server.requests) if self.server else []

    def reset_requests(self) -> None:
        if self.server:
            self.server.requests.clear()

    def _start_simulation(self) -> Callable[..., str] | None:
        if not self.simulate:
            return None
        try:
            module = importlib.import_module("core.sandbox.sim.simulation")
        except ImportError:
            log.warning("core.sandbox.sim.simulation is not available: pods will not be simulated")
            return None
        self.simulation = module.Simulation(self.store, self.config, speed=self.speed)
        reader: Callable[..., str] = self.simulation.read_log
        return reader

    async def __aenter__(self) -> Sandbox:
        for ns in _NAMESPACES:
            self.store.create("namespaces", {"metadata": {"name": ns}})
        crd = raycluster_crd_object()  # KubeRay is installed: its CRD is served and established
        for cond in crd["status"]["conditions"]:
            cond["lastTransitionTime"] = format_time(self.store.now())
        self.store.create("customresourcedefinitions", crd)
        log_reader = self._start_simulation()
        self.server = ApiServer(
            self.store,
            faults=self.faults,
            authenticator=self._auth[0],
            authorizer=self._auth[1],
            log_reader=log_reader,
            bookmark_interval=self._bookmark_interval,
        )
        try:
            self.url = await self.server.start(self.host, self.port)
        except OSError as err:
            raise SandboxError(
                f"the sandbox could not listen on {self.host}:{self.port}: {err}",
                hint="choose another --port, or 0 for any free port",
            ) from err
        if self._kubeconfig_out is None:
            self._tmpdir = tempfile.mkdtemp(prefix="krayne-sandbox-")
            self.kubeconfig_path = Path(self._tmpdir) / "kubeconfig"
        else:
            self.kubeconfig_path = self._kubeconfig_out
            self.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
        self.kubeconfig_path.write_text(yaml.safe_dump(kubeconfig(self.url, self.token)))
        self.kubeconfig_path.chmod(0o600)
        if self.simulation is not None:
            self._tasks.append(
                asyncio.create_task(self.simulation.run(), name="sandbox-simulation")
            )
        self._tasks.append(asyncio.create_task(self._expire_events(), name="sandbox-event-ttl"))
        return self

    async def _expire_events(self) -> None:
        """Sweep Events older than the TTL (simulated time, so ``event_ttl / speed`` of wall
        time) every tenth of it."""
        ttl = self.event_ttl / self.speed
        while True:
            await asyncio.sleep(ttl.total_seconds() / 10)
            expire_events(self.store, ttl)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("sandbox task %s failed", task.get_name())
        self._tasks.clear()
        if self.server is not None:
            await self.server.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class _LoopProxy:
    """Forwards method calls and attribute reads to ``target`` on the sandbox's loop."""

    def __init__(self, target: Any, call: Callable[[Callable[[], Any]], Any]) -> None:
        self._target = target
        self._call = call

    def __getattr__(self, name: str) -> Any:
        value = self._call(lambda: getattr(self._target, name))
        if not callable(value):
            return value
        return lambda *args, **kwargs: self._call(lambda: value(*args, **kwargs))


class ThreadedSandbox:
    """A ``Sandbox`` running in its own thread; safe to use from any other thread."""

    def __init__(self, sandbox: Sandbox, loop: asyncio.AbstractEventLoop) -> None:
        self._sandbox = sandbox
        self.loop = loop
        self.url = sandbox.url
        self.token = sandbox.token
        self.kubeconfig_path = sandbox.kubeconfig_path
        self.store: Any = _LoopProxy(sandbox.store, self.call)
        self.faults: Any = _LoopProxy(sandbox.faults, self.call)

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn()`` on the sandbox loop and return its result (exceptions propagate)."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    @property
    def requests(self) -> list[RequestRecord]:
        return self.call(lambda: list(self._sandbox.requests))

    def reset_requests(self) -> None:
        self.call(self._sandbox.reset_requests)


@contextmanager
def running_sandbox(**kwargs: Any) -> Iterator[ThreadedSandbox]:
    """Start a ``Sandbox(**kwargs)`` in a background thread; stop it on exit."""
    ready: Future[ThreadedSandbox] = Future()
    stop: list[asyncio.Event] = []

    async def main() -> None:
        stop_event = asyncio.Event()
        stop.append(stop_event)
        try:
            async with Sandbox(**kwargs) as sandbox:
                ready.set_result(ThreadedSandbox(sandbox, asyncio.get_running_loop()))
                await stop_event.wait()
        except BaseException as err:
            if not ready.done():
                ready.set_exception(err)
            else:
                raise

    thread = threading.Thread(
        target=lambda: asyncio.run(main()), name="krayne-sandbox", daemon=True
    )
    thread.start()
    handle = ready.result(timeout=30)
    try:
        yield handle
    finally:
        handle.loop.call_soon_threadsafe(stop[0].set)
        thread.join(timeout=30)
        if thread.is_alive():
            raise SandboxError("the sandbox thread did not stop within 30 s")
