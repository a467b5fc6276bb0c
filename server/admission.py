"""Back-pressure for sync work (issue 8): admit a bounded number, queue a few, shed the rest.

A Monday morning puts a district's phones on the server at once. Unbounded, every sync request
takes a worker thread and then waits up to the pool timeout for a connection, and throughput
collapses into 500s. ``SyncGate`` runs in the event loop before any thread or connection is
taken: ``concurrency`` requests run at once, ``queue`` more wait at most ``queue_seconds``, and
every other one answers at once 503 ``server_busy`` with ``Retry-After`` (the phone's sync
client waits that long plus jitter). Admitted requests use the sync engine, whose pool holds
exactly ``concurrency`` connections (server.db.get_sync_engine), so they never wait for one.

Per process: with ``songjiao serve --workers N`` each worker has its own gate and pool.
"""

import json
from typing import Any

import anyio

from server.db import ADMITTED_KEY
from shared.messages import t

Scope = dict[str, Any]

SYNC_PATHS = ("/api/v1/sync/push", "/api/v1/sync/pull")
PHOTO_PREFIX = "/api/v1/photos/"
MAX_RETRY_AFTER = 60


def is_sync_work(scope: Scope) -> bool:
    """Push, pull and photo PUT/GET: the requests a Monday morning multiplies."""
    path: str = scope["path"]
    return path in SYNC_PATHS or (
        path.startswith(PHOTO_PREFIX) and scope["method"] in ("GET", "PUT")
    )


def retry_after_seconds(base: int, waiting: int, concurrency: int) -> int:
    """``base`` seconds, one more ``base`` per ``concurrency`` requests already waiting (the
    longer the queue, the later a refused client should come back), at most a minute."""
    return min(MAX_RETRY_AFTER, base * (1 + waiting // max(1, concurrency)))


class SyncGate:
    """ASGI middleware: bounded concurrency with a short, bounded queue for sync work."""

    def __init__(
        self,
        app: Any,
        *,
        concurrency: int,
        queue: int,
        queue_seconds: float,
        retry_after: int,
    ) -> None:
        self.app, self.concurrency = app, concurrency
        self.queue, self.queue_seconds, self.retry_after = queue, queue_seconds, retry_after
        self._slots: anyio.Semaphore | None = None  # made in the event loop, on first use
        self.waiting = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_sync_work(scope):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        slots = self._slots
        if not await self._admit(slots):
            await self._refuse(receive, send)
            return
        try:
            scope[ADMITTED_KEY] = True
            await self.app(scope, receive, send)
        finally:
            slots.release()

    async def _admit(self, slots: anyio.Semaphore) -> bool:
        try:
            slots.acquire_nowait()
            return True
        except anyio.WouldBlock:
            pass
        if self.waiting >= self.queue or self.queue_seconds <= 0:
            return False
        self.waiting += 1
        try:
            with anyio.move_on_after(self.queue_seconds):
                await slots.acquire()
                return True
            return False
        finally:
            self.waiting -= 1

    async def _refuse(self, receive: Any, send: Any) -> None:
        # Read (and drop) what the client is still sending: a client blocked writing a photo
        # would otherwise see a reset connection instead of this answer. BodyLimit, outside
        # this gate, bounds how much that can be.
        message: dict[str, Any] = {"more_body": True}
        while message.get("more_body"):
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
        seconds = retry_after_seconds(self.retry_after, self.waiting, self.concurrency)
        await send_busy(send, seconds)


async def send_busy(send: Any, retry_after: int) -> None:
    """The 503 ``server_busy`` answer in the API's error shape, with ``Retry-After``."""
    body = json.dumps(
        {"error": {"code": "server_busy", "message": t("server_busy", seconds=retry_after)}},
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
