"""The app's state as plain classes (no flet): who is signed in, and the sync that runs by itself.

``AppState`` wraps ``mobile.core.session``; ``SyncRunner`` runs the core's ``SyncScheduler`` as
one asyncio task (never a busy loop: it sleeps between rounds, wakes at once on ``trigger``)
and reports to the screens through ``on_change``, always on the event loop.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mobile.core import revoke, session
from mobile.core.devices import SecretStore
from mobile.core.models import Clock, PendingCounts, User
from mobile.core.store import Store
from mobile.core.sync import SyncClient, SyncProgress, SyncReport, SyncScheduler
from shared.terms import SHANGHAI


def china_now() -> datetime:
    return datetime.now(SHANGHAI)


class AppState:
    """The signed-in user and their sync client. ``client`` is None when nobody is signed in."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore,
        *,
        default_server: str,
        clock: Clock = china_now,
        client_kw: dict[str, Any] | None = None,
    ) -> None:
        self.store, self.secrets, self.clock = store, secrets, clock
        self.default_server = default_server
        self.client_kw = client_kw or {}
        self.client: SyncClient | None = None

    async def resume(self) -> None:
        """At launch: the user signed in on this phone, if any (no network needed)."""
        self.client = await session.resume(self.store, self.secrets, **self.client_kw)

    @property
    def signed_in(self) -> bool:
        """This session's token is the store's: false once anyone (this tab or another tab of
        the same browser) signed out, and for good: a dropped token never comes back."""
        if self.client is not None and not self.client.holds_current_token():
            self.client = None
        return self.client is not None

    @property
    def user(self) -> User | None:
        return self.store.user() if self.signed_in else None

    @property
    def needs_sign_in(self) -> bool:
        """Signed in, but the token is gone or was refused: work goes on, sync waits."""
        return not self.signed_in or self.store.needs_sign_in()

    def server_address(self) -> str:
        return self.store.server_url() or self.default_server

    def pending(self) -> PendingCounts:
        return self.store.pending_counts()

    async def sign_in(self, server: str, username: str, password: str) -> User:
        """Raises ``SyncError`` (Chinese message); the same user's local data is kept."""
        self.client = await session.sign_in(
            self.store, self.secrets, server, username, password, **self.client_kw
        )
        user = self.store.user()
        assert user is not None
        return user

    async def sign_out(self) -> None:
        """Queue the token's revocation and wipe this user's data; waits for a sync round in
        flight (this tab's or another's) to finish first."""
        self.client = None  # from now on this session has no token to send
        async with revoke.holding(self.store.sync_lock):
            await session.sign_out(self.store, self.secrets)


@dataclass
class SyncStatus:
    running: bool = False
    progress: SyncProgress | None = None
    last: SyncReport | None = None
    last_ok_at: datetime | None = None
    manual: bool = False  # the current round was asked for: its summary is shown


class SyncRunner:
    """One ``SyncScheduler`` task per app. ``on_change(report_or_None)`` runs on the loop after
    each progress step (None) and each finished round (the report)."""

    def __init__(
        self,
        state: AppState,
        on_change: Callable[[SyncReport | None], None],
        **scheduler_kw: Any,
    ) -> None:
        self.state, self.on_change = state, on_change
        self.scheduler_kw = scheduler_kw
        self.status = SyncStatus()
        self.scheduler: SyncScheduler | None = None
        self.task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> bool:
        """Start syncing (a first round at once); False when sign-in is needed first."""
        if self.active:
            return True
        if self.state.needs_sign_in:
            return False
        self._loop = asyncio.get_running_loop()
        self.scheduler = SyncScheduler(
            self._sync_once, on_report=self._on_report, **self.scheduler_kw
        )
        self.task = self._loop.create_task(self.scheduler.run())
        return True

    def trigger(self, *, manual: bool = True) -> bool:
        """Sync now (the 同步 button, the network came back)."""
        self.status.manual = self.status.manual or manual
        if self.active and self.scheduler is not None:
            self.scheduler.trigger()
            return True
        return self.start()

    async def stop(self) -> None:
        """Stop the rounds (a round already in its worker thread finishes on its own)."""
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=5)

    def _sync_once(self) -> SyncReport:
        """A worker thread's round; progress goes back to the loop."""
        client = self.state.client
        if client is None:
            return SyncReport(error="", needs_sign_in=True)
        loop = self._loop
        assert loop is not None
        loop.call_soon_threadsafe(self._progress, None)

        def progress(p: SyncProgress) -> None:  # from the worker thread, back to the loop
            loop.call_soon_threadsafe(self._progress, p)

        return client.sync(progress)

    def _progress(self, progress: SyncProgress | None) -> None:
        self.status.running = True
        self.status.progress = progress
        self.on_change(None)

    def _on_report(self, report: SyncReport) -> None:
        self.status.running, self.status.progress = False, None
        self.status.last = report
        if report.ok:
            self.status.last_ok_at = self.state.clock()
        self.on_change(report)
        self.status.manual = False
