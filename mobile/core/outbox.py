"""Visits as queued push ops: every save writes the visit and its op in one transaction.

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
  the server's copy are both kept until the teacher chooses (``resolve_conflict``).
"""

import json
import sqlite3
import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mobile.core.models import LocalVisit, OutboxOp, StoreError, VisitState, now_iso
from shared.domain import ReviewStatus, VisitKind
from shared.messages import t
from shared.protocol import MAX_OPS, Change, PushResult, VisitRecord
from shared.terms import local_month

if TYPE_CHECKING:
    from mobile.core.store import Store

MAX_BATCH_BYTES = 4 * 1024 * 1024  # half the server's body limit
_RECORD_FIELDS = tuple(VisitRecord.model_fields)


@dataclass
class PushTally:
    """What one batch's results did."""

    synced: int = 0
    conflicts: int = 0
    rejected: int = 0
    waiting_for_photos: int = 0


class VisitOutbox:
    """Visit writes and the push queue of one ``Store`` (reach it as ``store.outbox``)."""

    def __init__(self, store: "Store") -> None:
        self._store = store

    # -- the teacher's writes --------------------------------------------------------------

    def save_draft(
        self, visit_id: str, kind: VisitKind | str, subject_id: str | None, form: dict[str, Any]
    ) -> None:
        """Keep unsaved form state (call on every change). A new visit becomes a ``draft``;
        a saved one keeps its state and record until ``save_visit``."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO visit (id, kind, subject_id, state, draft, updated_at) "
                "VALUES (?, ?, ?, 'draft', ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET draft = excluded.draft, "
                "updated_at = excluded.updated_at",
                (visit_id, str(kind), subject_id, _dump(form), now_iso()),
            )

    def discard_draft(self, visit_id: str) -> None:
        """Drop unsaved form state; a visit that was never saved disappears."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM visit WHERE id = ? AND state = 'draft'", (visit_id,))
            db.execute("UPDATE visit SET draft = NULL WHERE id = ?", (visit_id,))

    def save_visit(self, record: VisitRecord) -> LocalVisit:
        """结束/保存: store the record, clear its draft, queue its upsert. Raises ``StoreError``
        for a visit in conflict (resolve it first) or deleted."""
        rid, body = str(record.id), record.model_dump(mode="json")
        with self._store.transaction() as db:
            row = db.execute("SELECT * FROM visit WHERE id = ?", (rid,)).fetchone()
            _refuse_if_blocked(row)
            db.execute(
                "INSERT INTO visit (id, kind, subject_id, state, started_at, month, record, "
                "updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
                "subject_id = excluded.subject_id, state = 'pending', "
                "started_at = excluded.started_at, month = excluded.month, "
                "record = excluded.record, draft = NULL, error = '', "
                "updated_at = excluded.updated_at",
                (
                    rid,
                    record.kind.value,
                    record.student_id or record.school_id,
                    _utc(record.started_at),
                    local_month(record.started_at),
                    _dump(body),
                    now_iso(),
                ),
            )
            self._enqueue(db, rid, "visit.upsert", body)
        visit = self._store.visit(rid)
        assert visit is not None
        return visit

    def delete_visit(self, visit_id: str) -> None:
        """Delete a visit. One the server never saw vanishes; otherwise a delete op is queued
        and the visit is hidden (``deleted``). Raises ``StoreError`` for a visit in conflict."""
        with self._store.transaction() as db:
            row = db.execute("SELECT * FROM visit WHERE id = ?", (visit_id,)).fetchone()
            if row is None or row["deleted"]:
                return
            _refuse_if_blocked(row)
            sent = db.execute(
                "SELECT COUNT(*) FROM outbox WHERE visit_id = ? AND sent = 1", (visit_id,)
            ).fetchone()[0]
            if row["server_version"] is None and not sent:
                db.execute("DELETE FROM outbox WHERE visit_id = ?", (visit_id,))
                db.execute("DELETE FROM visit WHERE id = ?", (visit_id,))
                return
            db.execute(
                "UPDATE visit SET deleted = 1, state = 'pending', draft = NULL, error = '' "
                "WHERE id = ?",
                (visit_id,),
            )
            self._enqueue(db, visit_id, "visit.delete", {"id": visit_id})

    def resolve_conflict(self, visit_id: str, keep: Literal["mine", "server"]) -> LocalVisit:
        """End a conflict. ``server``: take the server's copy. ``mine``: send the local record
        over the server's version; if the server deleted the visit meanwhile, the local record
        is re-sent as a new visit (new id), which is returned."""
        with self._store.transaction() as db:
            row = db.execute("SELECT * FROM visit WHERE id = ?", (visit_id,)).fetchone()
            if row is None or row["state"] != VisitState.CONFLICT:
                raise ValueError(f"visit {visit_id} is not in conflict")
            theirs = json.loads(row["server_record"])
            version = int(theirs.get("version") or 0)
            if keep == "server" or (theirs.get("deleted") and row["deleted"]):
                _take_server_copy(db, visit_id, theirs)
                result_id = visit_id
            elif theirs.get("deleted"):
                _take_server_copy(db, visit_id, theirs)
                result_id = str(uuid.uuid4())
                body = {**json.loads(row["record"]), "id": result_id}
                db.execute(
                    "INSERT INTO visit (id, kind, subject_id, state, started_at, month, record, "
                    "updated_at) SELECT ?, kind, subject_id, 'pending', started_at, month, ?, "
                    "updated_at FROM visit WHERE id = ?",
                    (result_id, _dump(body), visit_id),
                )
                self._enqueue(db, result_id, "visit.upsert", body)
            else:
                db.execute(
                    "UPDATE visit SET state = 'pending', server_version = ?, server_record = NULL "
                    "WHERE id = ?",
                    (version, visit_id),
                )
                mine = {"id": visit_id} if row["deleted"] else json.loads(row["record"])
                kind = "visit.delete" if row["deleted"] else "visit.upsert"
                self._enqueue(db, visit_id, kind, mine)
                result_id = visit_id
        visit = self._store.visit(result_id)
        assert visit is not None
        return visit

    def _enqueue(self, db: sqlite3.Connection, visit_id: str, kind: str, body: dict) -> None:
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

    # -- the sync client's side ------------------------------------------------------------

    def ops(self) -> list[OutboxOp]:
        """The whole queue, in order."""
        return [_op(r) for r in self._store.query("SELECT * FROM outbox ORDER BY seq")]

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
        rows = self._store.query(
            "SELECT seq, visit_id, base_pending, photos FROM outbox ORDER BY seq"
        )
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
        ops = self._store.query(f"SELECT * FROM outbox WHERE seq IN ({marks}) ORDER BY seq", chosen)
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
        with self._store.transaction() as db:
            db.executemany(
                "UPDATE outbox SET sent = 1, attempts = attempts + 1 WHERE op_id = ?",
                [(op.op_id,) for op in ops],
            )

    def take_batch(self, hold_photos: AbstractSet[str] = frozenset()) -> list[OutboxOp]:
        """``next_batch`` and ``mark_sent`` in one transaction, called just before the request,
        so that an edit saved meanwhile either is in the batch or queues behind it."""
        with self._store.transaction():
            batch = self.next_batch(hold_photos=hold_photos)
            self.mark_sent(batch)
        return batch

    def note_failure(self, ops: Sequence[OutboxOp], message: str) -> None:
        with self._store.transaction() as db:
            db.executemany(
                "UPDATE outbox SET last_error = ? WHERE op_id = ?",
                [(message, op.op_id) for op in ops],
            )

    def apply_results(self, results: Sequence[PushResult]) -> PushTally:
        """Apply the server's answers (results for unknown op ids are ignored)."""
        tally = PushTally()
        with self._store.transaction() as db:
            for result in results:
                row = db.execute("SELECT * FROM outbox WHERE op_id = ?", (result.op_id,)).fetchone()
                if row is not None:
                    _apply_result(db, _op(row), result, tally)
        return tally

    def photos_referenced(self) -> set[str]:
        """Hashes listed by queued upserts: those must reach the server before their op."""
        rows = self._store.query("SELECT photos FROM outbox WHERE photos != ''")
        return {sha for r in rows for sha in r["photos"].split()}

    def apply_pulled_visit(self, db: sqlite3.Connection, change: Change) -> None:
        """A visit from a pull (inside the pull's transaction). A visit with queued ops, in
        conflict or refused keeps its local record; only the review of the version it is
        based on is refreshed."""
        row = db.execute("SELECT * FROM visit WHERE id = ?", (change.id,)).fetchone()
        queued = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE visit_id = ?", (change.id,)
        ).fetchone()[0]
        local_ahead = row is not None and (
            queued or row["state"] in (VisitState.CONFLICT, VisitState.REJECTED)
        )
        if change.deleted or change.record is None:
            if row is not None and not local_ahead:
                db.execute(
                    "UPDATE visit SET deleted = 1, state = 'synced', server_version = ?, "
                    "draft = NULL WHERE id = ?",
                    (change.version, change.id),
                )
            return
        theirs = change.record
        if row is None:
            started = datetime.fromisoformat(theirs["started_at"])
            db.execute(
                "INSERT INTO visit (id, kind, subject_id, state, started_at, month, "
                "updated_at) VALUES (?, ?, ?, 'synced', ?, ?, ?)",
                (
                    change.id,
                    theirs["kind"],
                    theirs.get("student_id") or theirs.get("school_id"),
                    _utc(started),
                    local_month(started),
                    theirs.get("received_at") or "",
                ),
            )
        elif local_ahead:
            if row["server_version"] == change.version:
                _set_server_fields(db, change.id, theirs)
            return
        _take_server_copy(db, change.id, theirs)


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


def _take_server_copy(db: sqlite3.Connection, visit_id: str, theirs: dict[str, Any]) -> None:
    if theirs.get("deleted"):
        db.execute(
            "UPDATE visit SET deleted = 1, state = 'synced', server_version = ?, "
            "server_record = NULL, error = '' WHERE id = ?",
            (theirs.get("version"), visit_id),
        )
        return
    record = {k: theirs[k] for k in _RECORD_FIELDS if k in theirs}
    started = datetime.fromisoformat(record["started_at"])
    db.execute(
        "UPDATE visit SET record = ?, state = 'synced', deleted = 0, server_version = ?, "
        "server_record = NULL, error = '', started_at = ?, month = ? WHERE id = ?",
        (_dump(record), theirs.get("version"), _utc(started), local_month(started), visit_id),
    )
    _set_server_fields(db, visit_id, theirs)


def _set_server_fields(db: sqlite3.Connection, visit_id: str, theirs: dict[str, Any]) -> None:
    db.execute(
        "UPDATE visit SET flags = ?, review_status = ?, review_reason = ?, subsidy_fen = ?, "
        "distance_m = ? WHERE id = ?",
        (
            _dump(list(theirs.get("flags") or [])),
            theirs.get("review_status"),
            theirs.get("review_reason") or "",
            theirs.get("subsidy_fen"),
            theirs.get("distance_m"),
            visit_id,
        ),
    )


def _refuse_if_blocked(row: sqlite3.Row | None) -> None:
    if row is not None and row["state"] == VisitState.CONFLICT:
        raise StoreError(t("conflict"))
    if row is not None and row["deleted"]:
        raise StoreError(t("record_deleted"))


def visit_from_row(row: sqlite3.Row) -> LocalVisit:
    """A ``visit`` table row as a ``LocalVisit``."""
    started = row["started_at"]
    return LocalVisit(
        id=row["id"],
        kind=VisitKind(row["kind"]),
        subject_id=row["subject_id"],
        state=VisitState(row["state"]),
        deleted=bool(row["deleted"]),
        started_at=datetime.fromisoformat(started) if started else None,
        month=row["month"],
        record=_load(row["record"]),
        draft=_load(row["draft"]),
        server_version=row["server_version"],
        flags=json.loads(row["flags"]),
        review_status=ReviewStatus(row["review_status"]) if row["review_status"] else None,
        review_reason=row["review_reason"],
        subsidy_fen=row["subsidy_fen"],
        distance_m=row["distance_m"],
        server_record=_load(row["server_record"]),
        error=row["error"],
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


def _load(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def _utc(moment: datetime) -> str:
    """Stored times are UTC ISO strings, so that they sort as text."""
    return moment.astimezone(UTC).isoformat()
