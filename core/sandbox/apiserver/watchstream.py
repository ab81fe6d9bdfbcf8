"""The watch endpoint: a chunked stream of JSON lines, one ``{"type", "object"}`` per change.

Like the real server: a too-old resourceVersion is a 200 response carrying one ERROR event with
a 410 Expired Status; ``allowWatchBookmarks`` adds BOOKMARK events while the watch is idle;
``timeoutSeconds`` ends the stream cleanly; ``sendInitialEvents`` ends the initial ADDED burst
with a bookmark annotated ``k8s.io/initial-events-end``. Table watches (``kubectl get -w``)
carry one-row Tables instead of objects.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.requestinfo import ResourceRequest
from core.sandbox.apiserver.store import Store
from core.sandbox.apiserver.tables import to_table
from core.sandbox.apiserver.watches import Change, Watch, encode_event

_TRUE = ("true", "1")


def _bookmark(rr: ResourceRequest, rv: str, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": rv, "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return encode_event(
        "BOOKMARK", {"kind": rr.rt.kind, "apiVersion": rr.rt.api_version, "metadata": meta}
    )


async def serve_watch(
    request: web.Request,
    store: Store,
    rr: ResourceRequest,
    *,
    table: bool,
    clock: Callable[[], datetime],
    bookmark_interval: float,
    default_timeout: float,
) -> web.StreamResponse:
    q = request.query
    send_initial = q.get("sendInitialEvents", "").lower() in _TRUE
    bookmarks = q.get("allowWatchBookmarks", "").lower() in _TRUE
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
    )
    response.enable_chunked_encoding()
    try:
        watch = store.watch(
            rr.resource,
            rr.namespace or None,
            resource_version=q.get("resourceVersion"),
            label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"),
            send_initial=True if send_initial else None,
        )
    except ApiError as err:
        if err.code != 410:
            raise
        await response.prepare(request)
        await response.write(encode_event("ERROR", err.to_status()))
        await response.write_eof()
        return response
    try:
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else default_timeout
    except ValueError:
        watch.close()
        raise ApiError(400, "BadRequest", "timeoutSeconds must be a number") from None
    try:
        await response.prepare(request)
        await _pump(
            response,
            store,
            rr,
            watch,
            table=table,
            clock=clock,
            duration=timeout,
            bookmarks=bookmarks,
            bookmark_interval=bookmark_interval,
            initial=watch.queue.qsize() if send_initial else None,
            initial_rv=store.resource_version,
            include_object=q.get("includeObject", "Partial"),
        )
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away: nothing to tell it
    finally:
        watch.close()
    return response


async def _pump(
    response: web.StreamResponse,
    store: Store,
    rr: ResourceRequest,
    watch: Watch,
    *,
    table: bool,
    clock: Callable[[], datetime],
    duration: float,
    bookmarks: bool,
    bookmark_interval: float,
    initial: int | None,
    initial_rv: str,
    include_object: str,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    first_table = True
    if initial == 0:
        await response.write(_bookmark(rr, initial_rv, initial_end=True))
        initial = None
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        wait = min(remaining, bookmark_interval) if bookmarks else remaining
        try:
            async with asyncio.timeout(wait):
                change = await watch.queue.get()
        except TimeoutError:
            if bookmarks and deadline - loop.time() > 0:
                await response.write(_bookmark(rr, store.resource_version))
            continue
        batch: list[Change | None] = [change]
        while not watch.queue.empty() and batch[-1] is not None:
            batch.append(watch.queue.get_nowait())
        chunks: list[bytes] = []
        for item in batch:
            if item is None:
                break
            if table:
                obj = to_table(
                    rr.resource,
                    [item.obj],
                    now=clock(),
                    headers=first_table,
                    include_object=include_object,
                )
                first_table = False
                chunks.append(json.dumps({"type": item.type, "object": obj}).encode() + b"\n")
            else:
                chunks.append(item.line())
            if initial is not None:
                initial -= 1
                if initial == 0:
                    chunks.append(_bookmark(rr, initial_rv, initial_end=True))
                    initial = None
        if chunks:
            await response.write(b"".join(chunks))
        if batch[-1] is None:
            return
