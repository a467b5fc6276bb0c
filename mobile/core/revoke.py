"""Signing out revokes the device's token on the server: at once when online, later when not.

``sign_out`` queues the token (with its server) in secure storage *before* anything is wiped, so
a kill at any point still leaves it queued; the queue lives beside the token itself, never in
the SQLite store. ``Revoker`` sends ``POST /auth/logout`` for each queued token until the server
answers 204 (revoked) or 401 (already revoked or unknown: just as done), retrying with backoff
while the server cannot be reached. A queued token is never used for anything else again
(``session.resume`` refuses it).

Tabs of one browser (web app) share one store and one secure storage: every send happens under
the store's ``sync_lock`` and re-reads the queue, so each token is sent once, not once per tab.
"""

import asyncio
import json
import logging
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from mobile.core.devices import SecretStore
from mobile.core.sync import API, TIMEOUT, backoff_delay, sleep_or_wake

T = TypeVar("T")
REVOKE_KEY = "songjiao.revoke"  # secure storage: JSON list of {"server", "token"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revocation:
    server: str  # normalized base URL, as the store keeps it
    token: str


async def queued(secrets: SecretStore) -> list[Revocation]:
    raw = await secrets.get(REVOKE_KEY)
    try:
        items = json.loads(raw) if raw else []
        return [Revocation(str(i["server"]), str(i["token"])) for i in items]
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable revocation queue dropped")
        return []


async def _write(secrets: SecretStore, items: list[Revocation]) -> None:
    if items:
        await secrets.set(REVOKE_KEY, json.dumps([i.__dict__ for i in items]))
    else:
        await secrets.delete(REVOKE_KEY)


async def queue(secrets: SecretStore, server: str, token: str) -> None:
    items = await queued(secrets)
    if all(i.token != token for i in items):
        await _write(secrets, [*items, Revocation(server, token)])


async def is_queued(secrets: SecretStore, token: str) -> bool:
    return any(i.token == token for i in await queued(secrets))


# Blocking work done while the loop holds a store's sync lock runs here, not in the loop's
# default workers: other tabs' sync rounds may be parked in all of those, waiting for the lock.
_HOLDER_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sync-lock-holder")


async def while_holding(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking ``fn(*args)`` for a coroutine that holds a store's ``sync_lock``."""
    return await asyncio.get_running_loop().run_in_executor(_HOLDER_THREADS, fn, *args)


@asynccontextmanager
async def holding(lock: threading.Lock) -> AsyncIterator[None]:
    """Hold a threading lock from the event loop without blocking it. It polls rather than
    waits in a worker thread, so waiting takes no worker from anyone; a cancellation while
    waiting leaves nothing behind. Blocking work under it: ``while_holding``."""
    while not lock.acquire(blocking=False):
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        lock.release()


class Revoker:
    """Sends the queued revocations; ``start()`` runs ``run()`` as a task until the queue is
    empty, ``trigger()`` retries at once (the network came back)."""

    def __init__(
        self,
        secrets: SecretStore,
        lock: threading.Lock,
        *,
        http: requests.Session | None = None,
        base_s: float = 5.0,
        max_s: float = 600.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.secrets, self.lock = secrets, lock
        self.http = http or requests.Session()
        self.base_s, self.max_s = base_s, max_s
        self.rng = rng or random.Random()
        self._sleep = sleep
        self._wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.failures = 0

    async def send(self) -> bool:
        """One pass over the queue; True when it is empty (everything revoked)."""
        async with holding(self.lock):
            items = await queued(self.secrets)  # re-read: another tab may have sent some
            for item in list(items):
                if not await while_holding(self._post, item):
                    return False
                items.remove(item)
                await _write(self.secrets, items)
            return True

    def _post(self, item: Revocation) -> bool:
        try:
            response = self.http.post(
                item.server + API + "/auth/logout",
                headers={"Authorization": f"Bearer {item.token}"},
                timeout=TIMEOUT,
            )
        except requests.RequestException:
            return False
        # 401: revoked already (by a coordinator, or our earlier call whose answer was lost).
        # Anything else (5xx, a server without the endpoint yet) is tried again later.
        return 200 <= response.status_code < 300 or response.status_code == 401

    async def run(self) -> None:
        self.failures = 0
        while not await self.send():
            self.failures += 1
            await self._pause(backoff_delay(self.failures, self.base_s, self.max_s, self.rng))

    async def _pause(self, delay: float) -> None:
        if self._sleep is not None:
            await self._sleep(delay)
            return
        await sleep_or_wake(self._wake, delay)

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> None:
        """Send what is queued (call from the event loop; a no-op while already running)."""
        if not self.active:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def trigger(self) -> None:
        self.failures = 0
        if self.active:
            self._wake.set()
        else:
            self.start()

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=5)
