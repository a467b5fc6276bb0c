"""The visits on this phone: the teacher's drafts and saves, the server's copies from a pull.

Every save writes the visit and its push op in one transaction (``mobile.core.outbox``), so a
visit saved is a visit queued. A visit with queued ops, in conflict or refused keeps its local
record when a pull brings the server's copy; only the review of the version it is based on is
refreshed.
"""

__all__ = ["VisitRepository", "visit_from_row"]

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from mobile.core.db import LocalDb
from mobile.core.models import LocalVisit, StoreError, VisitState, now_iso
from mobile.core.outbox import VisitOutbox
from shared.domain import ReviewStatus, VisitKind
from shared.messages import t
from shared.protocol import Change, VisitRecord
from shared.terms import local_month

_RECORD_FIELDS = tuple(VisitRecord.model_fields)


class VisitRepository:
    """The ``visit`` table of one local database (reach it as ``store.visit_repo``)."""

    def __init__(self, db: LocalDb, outbox: VisitOutbox) -> None:
        self._db, self._outbox = db, outbox

    # -- reading ---------------------------------------------------------------------------

    def get(self, visit_id: str) -> LocalVisit | None:
        rows = self._db.query("SELECT * FROM visit WHERE id = ?", (visit_id,))
        return visit_from_row(rows[0]) if rows else None

    def all(self, *, month: int | None = None, include_deleted: bool = False) -> list[LocalVisit]:
        """Visits, newest first; ``month`` (YYYYMM, Asia/Shanghai) keeps saved ones of that
        month. Without it, drafts never saved (``record`` None) are included, last."""
        sql, params = "SELECT * FROM visit WHERE 1 = 1", []
        if month is not None:
            sql, params = sql + " AND month = ?", [month]
        if not include_deleted:
            sql += " AND deleted = 0"
        rows = self._db.query(sql + " ORDER BY started_at IS NULL, started_at DESC, id", params)
        return [visit_from_row(r) for r in rows]

    def drafts(self) -> list[LocalVisit]:
        """Visits with unsaved form state (new ones and edits under way)."""
        return [v for v in self.all() if v.draft is not None or v.state == VisitState.DRAFT]

    # -- the teacher's writes --------------------------------------------------------------

    def save_draft(
        self, visit_id: str, kind: VisitKind | str, subject_id: str | None, form: dict[str, Any]
    ) -> None:
        """Keep unsaved form state (call on every change). A new visit becomes a ``draft``;
        a saved one keeps its state and record until ``save_visit``."""
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO visit (id, kind, subject_id, state, draft, updated_at) "
                "VALUES (?, ?, ?, 'draft', ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET draft = excluded.draft, "
                "updated_at = excluded.updated_at",
                (visit_id, str(kind), subject_id, _dump(form), now_iso()),
            )

    def discard_draft(self, visit_id: str) -> None:
        """Drop unsaved form state; a visit that was never saved disappears."""
        with self._db.transaction() as db:
            db.execute("DELETE FROM visit WHERE id = ? AND state = 'draft'", (visit_id,))
            db.execute("UPDATE visit SET draft = NULL WHERE id = ?", (visit_id,))

    # -- saving and deleting (each with its push op) ----------------------------------------

    def save_visit(self, record: VisitRecord) -> LocalVisit:
        """结束/保存: store the record, clear its draft, queue its upsert. Raises ``StoreError``
        for a visit in conflict (resolve it first) or deleted."""
        rid, body = str(record.id), record.model_dump(mode="json")
        with self._db.transaction() as db:
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
            self._outbox.enqueue(db, rid, "visit.upsert", body)
        visit = self.get(rid)
        assert visit is not None
        return visit

    def delete_visit(self, visit_id: str) -> None:
        """Delete a visit. One the server never saw vanishes; otherwise a delete op is queued
        and the visit is hidden (``deleted``). Raises ``StoreError`` for a visit in conflict."""
        with self._db.transaction() as db:
            row = db.execute("SELECT * FROM visit WHERE id = ?", (visit_id,)).fetchone()
            if row is None or row["deleted"]:
                return
            _refuse_if_blocked(row)
            sent = self._outbox.queued(db, visit_id, sent_only=True)
            if row["server_version"] is None and not sent:
                self._outbox.drop(db, visit_id)
                db.execute("DELETE FROM visit WHERE id = ?", (visit_id,))
                return
            db.execute(
                "UPDATE visit SET deleted = 1, state = 'pending', draft = NULL, error = '' "
                "WHERE id = ?",
                (visit_id,),
            )
            self._outbox.enqueue(db, visit_id, "visit.delete", {"id": visit_id})

    def resolve_conflict(self, visit_id: str, keep: Literal["mine", "server"]) -> LocalVisit:
        """End a conflict. ``server``: take the server's copy. ``mine``: send the local record
        over the server's version; if the server deleted the visit meanwhile, the local record
        is re-sent as a new visit (new id), which is returned."""
        with self._db.transaction() as db:
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
                self._outbox.enqueue(db, result_id, "visit.upsert", body)
            else:
                db.execute(
                    "UPDATE visit SET state = 'pending', server_version = ?, server_record = NULL "
                    "WHERE id = ?",
                    (version, visit_id),
                )
                mine = {"id": visit_id} if row["deleted"] else json.loads(row["record"])
                kind = "visit.delete" if row["deleted"] else "visit.upsert"
                self._outbox.enqueue(db, visit_id, kind, mine)
                result_id = visit_id
        visit = self.get(result_id)
        assert visit is not None
        return visit

    # -- from the server ---------------------------------------------------------------------

    def apply_pulled(self, db: sqlite3.Connection, change: Change) -> None:
        """A visit from a pull (inside the pull's transaction). A visit with queued ops, in
        conflict or refused keeps its local record; only the review of the version it is
        based on is refreshed."""
        row = db.execute("SELECT * FROM visit WHERE id = ?", (change.id,)).fetchone()
        queued = self._outbox.queued(db, change.id)
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


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _load(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def _utc(moment: datetime) -> str:
    """Stored times are UTC ISO strings, so that they sort as text."""
    return moment.astimezone(UTC).isoformat()
