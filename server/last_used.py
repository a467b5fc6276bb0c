"""Devices' "last used" times, marked in memory and written together (issue 8).

Every authenticated request may move its token's ``last_used_at`` (at most once a minute per
token). Written by the request itself, 200 phones make a steady stream of small write
transactions, which on SQLite queue behind pushes for the one write lock. Instead a request
only notes the time here (a dict under a lock: no I/O, never blocks), and one background task
writes every noted time in one transaction each ``every`` seconds, and once more at shutdown.

Best effort by design: it is a "last seen" time for the device list, so a crash (or a failed
write) loses at most one interval of it, and nothing else depends on it. The write is
conditional (only ever moves a time forward), so several server processes may flush the same
token without harm.
"""

import logging
import threading
from datetime import datetime

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from server.models import DeviceToken

log = logging.getLogger("songjiao")


class LastUsedMarks:
    """Pending last-use times by device token id; ``flush`` writes and forgets them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, datetime] = {}

    def mark(self, device_id: int, at: datetime) -> None:
        """Note that ``device_id`` was used at ``at``. The first mark since the last flush
        wins: the stored time is the start of that minute's use, as it was before."""
        with self._lock:
            self._pending.setdefault(device_id, at)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, engine: Engine) -> int:
        """Write every pending mark in one transaction; returns how many were pending. On a
        database error the marks are dropped (logged): best effort, see the module."""
        with self._lock:
            marks, self._pending = self._pending, {}
        if not marks:
            return 0
        statement = (
            sa.update(DeviceToken)
            .where(
                col(DeviceToken.id) == sa.bindparam("device_id"),
                sa.or_(
                    col(DeviceToken.last_used_at).is_(None),
                    col(DeviceToken.last_used_at) < sa.bindparam("at"),
                ),
            )
            .values(last_used_at=sa.bindparam("at"))
        )
        rows = [{"device_id": device_id, "at": at} for device_id, at in marks.items()]
        try:
            with engine.begin() as connection:
                connection.execute(statement, rows)
        except sa.exc.SQLAlchemyError:
            log.warning("could not write %d device last-use times", len(rows), exc_info=True)
        return len(rows)

    async def run(self, engine: Engine, every: float) -> None:
        """Flush every ``every`` seconds until cancelled; then once more (shutdown)."""
        try:
            while True:
                await anyio.sleep(every)
                await anyio.to_thread.run_sync(self.flush, engine)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.flush, engine)
