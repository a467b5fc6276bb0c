"""The push queue: the ops that carry saved visits to the server, and what their results do.

The rules that make "exactly once" hold (the server is idempotent by ``op_id`` and refuses a
replay of an ``op_id`` with another body as ``op_id_reused``):

- An op marked ``sent`` may have been applied even if no answer came back: it never changes
  again and is resent as it is until a result arrives (``duplicate`` if it had landed).
- At most one unsent op per visit: a new edit rewrites it (keeping its ``op_id`` only if it never
  left the phone). Otherwise the edit becomes a new op queued behind the sent one, with
  ``base_pending``: its ``base_version`` is the version the sent op's result brings back.
- A visit's ops go out one per batch, in order; ops of different visits go out together.
- ``rejected`` means the server stored nothing, so the op leaves the queue (``photo_not_uploaded``
  stays queued for the next round). ``conflict`` empties the visit's queue: the local record and
  the server's copy are both kept until the teacher chooses
  (``mobile.core.visits.VisitRepository.resolve_conflict``).

The visits themselves are ``mobile.core.visits``'s; a result only moves a visit's sync state
(``state``, ``server_version``, ``error``, the server's copy in a conflict).
"""

__all__ = ["MAX_BATCH_BYTES", "PushTally", "VisitOutbox"]

import json
import sqlite3
import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from mobile.core.db import LocalDb
from mobile.core.models import OutboxOp, VisitState, now_iso
from shared.messages import t
from shared.protocol import MAX_OPS, PushResult

MAX_BATCH_BYTES = 4 * 1024 * 1024  # half the server's body limit


@dataclass
class PushTally:
    """What one batch's results did."""

    synced: int = 0
    conflicts: int = 0
    rejected: int = 0
    waiting_for_photos: int = 0


class VisitOutbox:
    """The push queue of one local database (reach it as ``store.outbox``)."""

    def __init__(self, db: LocalDb) -> None:
        self._db = db

    # -- the visit repository's side (inside its transaction) ------------------------------

    def enqueue(self, db: sqlite3.Connection, visit_id: str, kind: str, body: dict) -> None:
        """Queue ``kind`` (visit.upsert | visit.delete) of ``body`` for ``visit_id``."""
        last = db.execute(
            "SELECT * FROM outbox WHERE visit_id = ? ORDER BY seq DESC LIMIT 1", (visit_id,)
        ).fetchone()
        if last is not None and not last["sent"]:
            # Never left the phone, or refused (the server stores only applied ops): rewrite it.
            op_id = last["op_id"] if last["attempts"] == 0 else str(uuid.uuid4())
            db.execute(
                "UPDATE outbox SET op_id = ?, type = ?, body = ?, photos = ?, last_error = '' "
                "WHERE seq = ?",
                (op_id, kind, _dump(body), _photos(body), last["seq"]),
            )
            return
        behind_sent = last is not None
        base = None
        if not behind_sent:
            row = db.execute(
                "SELECT server_version FROM visit WHERE id = ?", (visit_id,)
            ).fetchone()
            base = row["server_version"] if row else None
        db.execute(
            "INSERT INTO outbox (op_id, visit_id, type, body, base_version, base_pending, "
            "photos, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(uuid.uuid4()),
                visit_id,
                kind,
                _dump(body),
                base,
                int(behind_sent),
                _photos(body),
                now_iso(),
            ),
        )

    def queued(self, db: sqlite3.Connection, visit_id: str, *, sent_only: bool = False) -> int:
        """How many ops of ``visit_id`` wait (``sent_only``: of those, how many may have
        reached the server)."""
        sql = "SELECT COUNT(*) FROM outbox WHERE visit_id = ?"
        if sent_only:
            sql += " AND sent = 1"
        return int(db.execute(sql, (visit_id,)).fetchone()[0])

    def drop(self, db: sqlite3.Connection, visit_id: str) -> None:
        """Forget ``visit_id``'s ops (a visit the server never saw, deleted on the phone)."""
        db.execute("DELETE FROM outbox WHERE visit_id = ?", (visit_id,))

    # -- the sync client's side ------------------------------------------------------------

    def ops(self) -> list[OutboxOp]:
        """The whole queue, in order."""
        return [_op(r) for r in self._db.query("SELECT * FROM outbox ORDER BY seq")]

    def visits_queued(self) -> int:
        """Visits with at least one op waiting (the sync badge)."""
        return int(self._db.query("SELECT COUNT(DISTINCT visit_id) AS n FROM outbox")[0]["n"])

    def next_batch(
        self,
        limit: int = MAX_OPS,
        max_bytes: int = MAX_BATCH_BYTES,
        hold_photos: AbstractSet[str] = frozenset(),
    ) -> list[OutboxOp]:
        """The ops to push now, in queue order: each visit's first op, unless it waits for a
        version or lists a photo in ``hold_photos`` (not on the server yet)."""
        chosen: list[int] = []
        seen: set[str] = set()
        rows = self._db.query("SELECT seq, visit_id, base_pending, photos FROM outbox ORDER BY seq")
        for row in rows:  # bodies are read only for the ops chosen
            if row["visit_id"] in seen:
                continue
            seen.add(row["visit_id"])
            if row["base_pending"] or not hold_photos.isdisjoint(row["photos"].split()):
                continue
            chosen.append(row["seq"])
            if len(chosen) >= limit:
                break
        marks = ",".join("?" * len(chosen))
        ops = self._db.query(f"SELECT * FROM outbox WHERE seq IN ({marks}) ORDER BY seq", chosen)
        batch: list[OutboxOp] = []
        size = 0
        for op in map(_op, ops):
            cost = len(_dump(op.wire()).encode())
            if batch and size + cost > max_bytes:
                break
            batch.append(op)
            size += cost
        return batch

    def mark_sent(self, ops: Sequence[OutboxOp]) -> None:
        """From here on, these ops may have reached the server: they never change again."""
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE outbox SET sent = 1, attempts = attempts + 1 WHERE op_id = ?",
                [(op.op_id,) for op in ops],
            )

    def take_batch(self, hold_photos: AbstractSet[str] = frozenset()) -> list[OutboxOp]:
        """``next_batch`` and ``mark_sent`` in one transaction, called just before the request,
        so that an edit saved meanwhile either is in the batch or queues behind it."""
        with self._db.transaction():
            batch = self.next_batch(hold_photos=hold_photos)
            self.mark_sent(batch)
        return batch

    def note_failure(self, ops: Sequence[OutboxOp], message: str) -> None:
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE outbox SET last_error = ? WHERE op_id = ?",
                [(message, op.op_id) for op in ops],
            )

    def apply_results(self, results: Sequence[PushResult]) -> PushTally:
        """Apply the server's answers (results for unknown op ids are ignored)."""
        tally = PushTally()
        with self._db.transaction() as db:
            for result in results:
                row = db.execute("SELECT * FROM outbox WHERE op_id = ?", (result.op_id,)).fetchone()
                if row is not None:
                    _apply_result(db, _op(row), result, tally)
        return tally

    def photos_referenced(self) -> set[str]:
        """Hashes listed by queued upserts: those must reach the server before their op."""
        rows = self._db.query("SELECT photos FROM outbox WHERE photos != ''")
        return {sha for r in rows for sha in r["photos"].split()}


def _apply_result(
    db: sqlite3.Connection, op: OutboxOp, result: PushResult, tally: PushTally
) -> None:
    vid = op.visit_id
    code = result.error.code if result.error else ""
    if result.status == "rejected" and code == "photo_not_uploaded":
        # Nothing was stored: resend as it is once the photo is up (or rewrite it on an edit).
        db.execute(
            "UPDATE outbox SET sent = 0, last_error = ? WHERE seq = ?",
            (result.error.message if result.error else "", op.seq),
        )
        tally.waiting_for_photos += 1
        return
    both_deleted = op.type == "visit.delete" and (result.server_record or {}).get("deleted")
    if result.status == "conflict" and both_deleted:
        result = result.model_copy(update={"status": "applied"})  # both sides agree
    if result.status == "conflict":
        db.execute("DELETE FROM outbox WHERE visit_id = ?", (vid,))
        db.execute(
            "UPDATE visit SET state = 'conflict', server_record = ?, error = '' WHERE id = ?",
            (_dump(result.server_record or {}), vid),
        )
        tally.conflicts += 1
        return
    db.execute("DELETE FROM outbox WHERE seq = ?", (op.seq,))
    current = db.execute("SELECT server_version FROM visit WHERE id = ?", (vid,)).fetchone()
    if result.status in ("applied", "duplicate"):
        version = result.version
        state, error = VisitState.SYNCED, ""
        tally.synced += 1
    else:
        version = current["server_version"] if current else None
        state = VisitState.REJECTED
        error = result.error.message if result.error else t("invalid_record", detail="")
        tally.rejected += 1
        if op.type == "visit.delete":
            db.execute("UPDATE visit SET deleted = 0 WHERE id = ?", (vid,))
    db.execute(
        "UPDATE outbox SET base_version = ?, base_pending = 0 "
        "WHERE visit_id = ? AND base_pending = 1",
        (version, vid),
    )
    if db.execute("SELECT COUNT(*) FROM outbox WHERE visit_id = ?", (vid,)).fetchone()[0]:
        state = VisitState.PENDING  # a later edit is still on its way
    db.execute(
        "UPDATE visit SET server_version = ?, state = ?, error = ? WHERE id = ?",
        (version, state, error, vid),
    )


def _op(row: sqlite3.Row) -> OutboxOp:
    return OutboxOp(
        seq=row["seq"],
        op_id=row["op_id"],
        visit_id=row["visit_id"],
        type=row["type"],
        body=json.loads(row["body"]),
        base_version=row["base_version"],
        base_pending=bool(row["base_pending"]),
        sent=bool(row["sent"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
    )


def _photos(body: dict[str, Any]) -> str:
    """The photo hashes an op lists, space-separated: the queue is searched without JSON."""
    return " ".join(body.get("photos") or ())


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
