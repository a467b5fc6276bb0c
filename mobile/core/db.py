"""The phone's SQLite file: one connection, its transactions, its schema and a key/value table.

WAL with ``synchronous=FULL``: a committed save survives the app being killed and the phone
dying. ``secure_delete``: a wiped child's record does not linger in free pages.

Threads: one connection behind a lock, so callers may use it from a worker thread
(``asyncio.to_thread``) as well as from the loop; every public method is one transaction.

Schema changes: append a script to ``MIGRATIONS``; ``PRAGMA user_version`` counts those applied.
The tables' owners: ``meta`` and ``entity`` (``mobile.core.store``), ``visit``
(``mobile.core.visits``), ``outbox`` (``mobile.core.outbox``), ``photo`` (``mobile.core.store``).
"""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mobile.core.models import StoreError
from shared.messages import t

MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE entity (
        kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,
        PRIMARY KEY (kind, id));
    CREATE TABLE visit (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject_id TEXT, state TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0, started_at TEXT, month INTEGER,
        record TEXT, draft TEXT, server_version INTEGER, flags TEXT NOT NULL DEFAULT '[]',
        review_status TEXT, review_reason TEXT NOT NULL DEFAULT '', subsidy_fen INTEGER,
        distance_m INTEGER, server_record TEXT, error TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL);
    CREATE INDEX visit_month ON visit (month);
    CREATE INDEX visit_subject ON visit (subject_id);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT NOT NULL UNIQUE,
        visit_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, base_version INTEGER,
        base_pending INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
        photos TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);
    CREATE INDEX outbox_visit ON outbox (visit_id, seq);
    CREATE TABLE photo (
        sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, bytes INTEGER NOT NULL,
        uploaded INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL);
    """,
]


class LocalDb:
    """The open SQLite file at ``path`` (created or migrated on opening)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._db.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):
            self._db.execute(f"PRAGMA {pragma}")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once, so two writers queue instead of deadlocking).
        Nested calls join the outer transaction."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def checkpoint(self) -> None:
        """Fold the WAL back into the file and empty it (after a wipe: nothing lingers)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _migrate(self) -> None:
        with self._lock:
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise StoreError(t("mobile.store_newer"))
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                try:
                    self._db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};")
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise

    # -- the key/value table ---------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
