"""Applying pushed ops: idempotent by op_id, optimistic by version, one bad op alone rejected.

A batch is checked in memory against rows fetched with a handful of set queries and written in
one transaction, holding the change-counter lock from the start so that concurrent pushes
serialise. Should that write still fail, each op is retried alone so that the others land.

Visits new to the server are plain ``_NewVisit`` rows written with one multi-row INSERT, and
sync ops likewise: building ORM objects and flushing them through the unit of work cost more
than everything else a push does. Visits already stored stay ORM objects, changed in place.
"""

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from server.db import bulk_insert, lock_changes, next_seq
from server.models import School, Student, SyncOp, Visit, VisitPhoto
from server.scope import Scope
from server.services.photos import holders
from server.services.policies import load_versions
from server.services.visits import facts, registered_place, visit_out
from shared.consent import photographed_children, without_photo_consent
from shared.domain import ReviewStatus, VisitKind
from shared.evidence import visit_flags
from shared.messages import describe_validation_errors, t
from shared.policy import policy_in_force
from shared.protocol import DeleteRecord, ErrorBody, PushOp, PushResult, VisitRecord
from shared.terms import local_date, local_month
from shared.travel import round_trip_m, visit_subsidy_fen

log = logging.getLogger("songjiao.sync")


def push(session: Session, *, scope: Scope, raw_ops: list[Any], now: datetime) -> list[PushResult]:
    """Results for ``raw_ops``, one per op, in order."""
    try:
        results = _Batch(session, scope, now).run(raw_ops)
        session.commit()
        return results
    except SQLAlchemyError:
        session.rollback()
        log.exception("batch write failed; retrying op by op")
    results = []
    for raw in raw_ops:
        try:
            (result,) = _Batch(session, scope, now).run([raw])
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            log.exception("op failed alone")
            result = _rejected(_op_id_of(raw), None, "invalid_record", detail=t("internal_error"))
        results.append(result)
    return results


def _rejected(op_id: str | None, record_id: str | None, code: str, **values: Any) -> PushResult:
    return PushResult(
        op_id=op_id,
        status="rejected",
        id=record_id,
        error=ErrorBody(code=code, message=t(code, **values)),
    )


def _op_id_of(raw: Any) -> str | None:
    value = raw.get("op_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def _body_hash(op: PushOp, record: dict[str, Any]) -> str:
    """What a replay must match: the op's meaning, i.e. its validated ``record`` (as dumped to
    JSON) in canonical form, so that a resend written by another encoder (``15`` for ``15.0``,
    keys reordered, server fields echoed back) is the same op."""
    body = {"type": op.type, "record": record, "base_version": op.base_version}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _raw_body_hash(op: PushOp) -> str:
    """The hash stored for ops applied before replays compared meanings (of the raw body)."""
    body = {"type": op.type, "record": op.record, "base_version": op.base_version}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


_UNSET = datetime.min.replace(tzinfo=UTC)  # every _NewVisit time is set by _upsert


@dataclass(slots=True)
class _NewVisit:
    """A visit first stored by this batch: the Visit columns, without ORM bookkeeping.

    It has every attribute of a Visit that this module, ``visit_out`` and ``facts`` read.
    """

    id: str
    teacher: str
    kind: str = ""
    student_id: str | None = None
    school_id: str | None = None
    district_code: str = ""
    started_at: datetime = _UNSET
    ended_at: datetime = _UNSET
    local_month: int = 0
    duration_s: int = 0
    record: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    flag_notes: dict[str, Any] = field(default_factory=dict)
    flagged: bool = False
    distance_m: int = 0
    subsidy_fen: int = 0
    review_status: str = ReviewStatus.PENDING
    review_reason: str = ""
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    counted: bool = True
    deleted: bool = False
    version: int = 0
    received_at: datetime = _UNSET
    seq: int = 0


AnyVisit = Visit | _NewVisit
_NEW_VISIT_COLUMNS = tuple(f.name for f in fields(_NewVisit))
_TABLES = SQLModel.metadata.tables


@dataclass
class _Batch:
    session: Session
    scope: Scope
    now: datetime
    visits: dict[str, AnyVisit] = field(default_factory=dict)
    by_teacher_day: dict[tuple[str, Any], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    by_student_day: dict[tuple[str, Any], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    touched: dict[str, AnyVisit] = field(default_factory=dict)  # visits whose seq must move
    new_visits: dict[str, _NewVisit] = field(default_factory=dict)  # to INSERT
    new_links: dict[str, list[str]] = field(default_factory=dict)  # new visit id -> photos
    places: dict[str, Any] = field(default_factory=dict)  # visit id -> registered place
    policy_cache: dict[str, Any] = field(default_factory=dict)  # visit id -> policy in force
    dirty: set[str] = field(default_factory=set)  # visits whose flags must be recomputed
    # Round trips by (start, end): most trips run from the teacher's base to a registered home,
    # the same pair visit after visit, and a geodesic costs more than the rest of an op.
    trips: dict[tuple[Any, Any], int] = field(default_factory=dict)

    def run(self, raw_ops: list[Any]) -> list[PushResult]:
        lock_changes(self.session)  # first of all: see the module docstring
        parsed: list[tuple[int, PushOp]] = []
        results: list[PushResult | None] = [None] * len(raw_ops)
        for i, raw in enumerate(raw_ops):
            try:
                parsed.append((i, PushOp.model_validate(raw)))
            except ValidationError as exc:
                detail = describe_validation_errors(exc.errors())
                results[i] = _rejected(_op_id_of(raw), None, "invalid_record", detail=detail)
        records = self._validate_records(parsed, results)
        self._prefetch(parsed, records)
        seen_in_batch: dict[str, tuple[str, PushResult]] = {}
        new_sync_ops: list[dict[str, Any]] = []
        for i, op in parsed:
            if results[i] is not None:
                continue
            dumped = records[i].model_dump(mode="json")  # once: hashed here, stored by _upsert
            op_id, body_hash = str(op.op_id), _body_hash(op, dumped)
            earlier = self.sync_ops.get(op_id) or seen_in_batch.get(op_id)
            if earlier is not None:
                results[i] = self._replay(op_id, body_hash, earlier, op)
                continue
            result = self._apply(op, records.get(i), dumped)
            results[i] = result
            if result.status == "applied":
                seen_in_batch[op_id] = (body_hash, result)
                new_sync_ops.append(
                    {
                        "op_id": op_id,
                        "username": self.scope.username,
                        "body_hash": body_hash,
                        "result": result.model_dump(mode="json"),
                        "created_at": self.now,
                    }
                )
        self._write(new_sync_ops)
        return [r for r in results if r is not None]

    # -- validation and prefetch ------------------------------------------------------------

    def _validate_records(
        self, parsed: list[tuple[int, PushOp]], results: list[PushResult | None]
    ) -> dict[int, VisitRecord | DeleteRecord]:
        records: dict[int, VisitRecord | DeleteRecord] = {}
        for i, op in parsed:
            try:
                if op.type == "visit.upsert":
                    records[i] = VisitRecord.from_pushed(op.record)
                else:
                    records[i] = DeleteRecord.model_validate(op.record)
            except ValidationError as exc:
                detail = describe_validation_errors(exc.errors())
                rid = op.record.get("id") if isinstance(op.record.get("id"), str) else None
                results[i] = _rejected(str(op.op_id), rid, "invalid_record", detail=detail)
        return records

    def _prefetch(self, parsed: list[tuple[int, PushOp]], records: dict[int, Any]) -> None:
        s, scope = self.session, self.scope
        op_ids = [str(op.op_id) for _, op in parsed]
        self.sync_ops = {
            row.op_id: row for row in s.exec(select(SyncOp).where(col(SyncOp.op_id).in_(op_ids)))
        }
        upserts = [r for r in records.values() if isinstance(r, VisitRecord)]
        ids = [str(r.id) for r in records.values()]
        existing = list(s.exec(select(Visit).where(col(Visit.id).in_(ids)))) if ids else []
        student_ids = {r.student_id for r in upserts if r.student_id}
        student_ids |= {sid for r in upserts for sid in r.students_seen}
        student_ids |= {v.student_id for v in existing if v.student_id}
        self.students = (
            {
                st.id: st
                for st in s.exec(
                    select(Student).where(col(Student.id).in_(student_ids), scope.students())
                )
            }
            if student_ids
            else {}
        )
        school_ids = {r.school_id for r in upserts if r.school_id}
        self.schools = (
            {
                sc.id: sc
                for sc in s.exec(
                    select(School).where(
                        col(School.id).in_(school_ids),
                        col(School.id).in_(scope._assigned("school_id")),
                    )
                )
            }
            if school_ids and scope.role == "itinerant"
            else {}
        )
        self.base = s.get(School, scope.base_school_id) if scope.base_school_id else None
        hashes = {h for r in upserts for h in r.photos}
        # A visit may list a photo its teacher uploaded or that it lists already: a photo's name
        # alone must not let anyone link it, and so read it (services/photos.py, Possession).
        self.photos = holders(s, scope.username, hashes)
        self.linked = (
            set(
                s.exec(
                    select(VisitPhoto.visit_id, VisitPhoto.sha256).where(
                        col(VisitPhoto.visit_id).in_(ids), col(VisitPhoto.sha256).in_(hashes)
                    )
                ).all()
            )
            if hashes and ids
            else set()
        )
        self.policies = load_versions(s)
        # Neighbours for the evidence flags: this teacher's visits around the batch's days and
        # other visits to the batch's children on those days.
        times = [r.started_at for r in upserts] + [v.started_at for v in existing]
        if times:
            # Safe arithmetic: every pushed time lies in shared.terms' window, far from year 1
            # and 9999, where two days more or less overflow (and failed the whole batch).
            lo, hi = min(times) - timedelta(days=2), max(times) + timedelta(days=2)
            live = col(Visit.deleted).is_(False)
            mine = select(Visit).where(
                Visit.teacher == scope.username,
                live,
                col(Visit.started_at) >= lo,
                col(Visit.started_at) <= hi,
            )
            rows = list(s.exec(mine))
            if student_ids:
                rows += list(
                    s.exec(
                        select(Visit).where(
                            col(Visit.student_id).in_(student_ids),
                            live,
                            Visit.teacher != scope.username,
                            col(Visit.started_at) >= lo,
                            col(Visit.started_at) <= hi,
                        )
                    )
                )
            for v in rows:
                self._index(v)
        for v in existing:
            self.visits[v.id] = v
            if not v.deleted:
                self._index(v)

    # -- ops --------------------------------------------------------------------------------

    def _replay(self, op_id: str, body_hash: str, earlier: Any, op: PushOp) -> PushResult:
        if isinstance(earlier, SyncOp):
            same = earlier.username == self.scope.username and earlier.body_hash in (
                body_hash,
                _raw_body_hash(op),  # stored before the hash was of the meaning
            )
            first = PushResult.model_validate(earlier.result)
        else:
            same, first = earlier[0] == body_hash, earlier[1]
        if not same:
            return _rejected(op_id, None, "op_id_reused")
        return first.model_copy(update={"status": "duplicate"})

    def _apply(
        self, op: PushOp, record: VisitRecord | DeleteRecord | None, dumped: dict[str, Any]
    ) -> PushResult:
        assert record is not None
        op_id, rid = str(op.op_id), str(record.id)
        current = self.visits.get(rid)
        if current is not None and current.teacher != self.scope.username:
            return _rejected(op_id, rid, "not_assigned")  # someone else's: as if absent
        if current is None:
            if op.type == "visit.delete" or op.base_version is not None:
                return _rejected(op_id, rid, "unknown_record")
        elif op.base_version != current.version or (current.deleted and op.type == "visit.delete"):
            # An upsert based on the tombstone's own version restores the visit (an undo on the
            # phone): version + 1, judged afresh. Anything else about a tombstone is a conflict.
            return PushResult(
                op_id=op_id,
                status="conflict",
                id=rid,
                version=current.version,
                server_record=visit_out(cast(Visit, current)),  # duck-typed: see _NewVisit
            )
        if isinstance(record, DeleteRecord):
            assert current is not None
            return self._delete(op_id, current)
        return self._upsert(op_id, record, current, dumped)

    def _upsert(
        self, op_id: str, rec: VisitRecord, current: AnyVisit | None, dumped: dict[str, Any]
    ) -> PushResult:
        rid = str(rec.id)
        if rec.kind == VisitKind.HOME_TEACHING:
            subject: Student | School | None = (
                self.students.get(rec.student_id or "") if self.scope.role == "teacher" else None
            )
        else:
            subject = self.schools.get(rec.school_id or "")
        if subject is None or any(sid not in self.students for sid in rec.students_seen):
            return _rejected(op_id, rid, "not_assigned")
        if rec.photos and without_photo_consent(
            photographed_children(rec.kind, rec.student_id, rec.students_seen),
            lambda sid: self.students[sid].photo_consent,
        ):
            return _rejected(op_id, rid, "photo_consent_missing")
        # Not held by this teacher answers as if never uploaded: no oracle of which names exist,
        # and the phone that really holds the bytes uploads them and retries.
        missing = [h for h in rec.photos if h not in self.photos and (rid, h) not in self.linked]
        if missing:
            return _rejected(op_id, rid, "photo_not_uploaded", sha256=missing[0])
        policy = policy_in_force(self.policies, subject.district_code, local_date(rec.started_at))
        place = registered_place(subject)
        distance = subsidy = 0
        if rec.travel is not None:
            origin = rec.travel.origin
            start = (
                (origin.lat, origin.lon)
                if origin
                else (registered_place(self.base) if self.base else None)
            )
            end = place or ((rec.check_in.lat, rec.check_in.lon) if rec.check_in else None)
            if (start, end) not in self.trips:
                self.trips[(start, end)] = round_trip_m(start, end)
            distance = self.trips[(start, end)]
            if start is not None and end is not None:
                subsidy = visit_subsidy_fen(
                    distance, policy, self.scope.username, rec.travel.shared_with
                )
        visit = current or _NewVisit(id=rid, teacher=self.scope.username)
        if current is not None:
            self._unindex(current)
        visit.kind = rec.kind
        visit.student_id, visit.school_id = rec.student_id, rec.school_id
        visit.district_code = subject.district_code
        visit.started_at, visit.ended_at = rec.started_at, rec.ended_at
        visit.local_month = local_month(rec.started_at)
        visit.duration_s = int((rec.ended_at - rec.started_at).total_seconds())
        visit.record = dumped  # the validated record as JSON (dumped once, in run)
        visit.distance_m, visit.subsidy_fen = distance, subsidy
        # An edit sends a reviewed visit back to review.
        visit.review_status, visit.review_reason = ReviewStatus.PENDING, ""
        visit.reviewed_by = visit.reviewed_at = None
        visit.counted, visit.deleted = True, False
        visit.version += 1
        visit.received_at = self.now
        self.visits[rid] = visit
        self._index(visit)
        self.places[rid], self.policy_cache[rid] = place, policy
        self.dirty |= {rid} | self._neighbour_ids(visit)
        self.touched[rid] = visit
        if isinstance(visit, _NewVisit):
            self.new_visits[rid] = visit
            self.new_links[rid] = list(dict.fromkeys(rec.photos))
        else:
            self._photo_links(visit, rec.photos)
        return PushResult(op_id=op_id, status="applied", id=rid, version=visit.version)

    def _delete(self, op_id: str, visit: AnyVisit) -> PushResult:
        neighbours = self._neighbour_ids(visit)
        self._unindex(visit)
        visit.deleted, visit.counted = True, False
        visit.version += 1
        visit.received_at = self.now
        self.touched[visit.id] = visit
        self.dirty |= neighbours
        return PushResult(op_id=op_id, status="applied", id=visit.id, version=visit.version)

    # -- flags ------------------------------------------------------------------------------

    def _index(self, v: AnyVisit) -> None:
        self.visits.setdefault(v.id, v)
        day = local_date(v.started_at)
        self.by_teacher_day[(v.teacher, day)].add(v.id)
        if v.student_id and v.kind == VisitKind.HOME_TEACHING:
            self.by_student_day[(v.student_id, day)].add(v.id)

    def _unindex(self, v: AnyVisit) -> None:
        day = local_date(v.started_at)
        self.by_teacher_day[(v.teacher, day)].discard(v.id)
        if v.student_id:
            self.by_student_day[(v.student_id, day)].discard(v.id)

    def _neighbour_ids(self, v: AnyVisit) -> set[str]:
        day = local_date(v.started_at)
        ids: set[str] = set()
        for delta in (-1, 0, 1):
            ids |= self.by_teacher_day.get((v.teacher, day + timedelta(days=delta)), set())
        if v.student_id:
            ids |= self.by_student_day.get((v.student_id, day), set())
        ids.discard(v.id)
        return ids

    def _reflag_dirty(self) -> None:
        """Recompute flags once per affected visit, after the whole batch is in memory.

        Doing it per op would cost O(n^2) per op when many visits of a batch overlap.
        """
        cache: dict[str, Any] = {}

        def facts_of(vid: str) -> Any:
            if vid not in cache:
                cache[vid] = facts(cast(Visit, self.visits[vid]))
            return cache[vid]

        for vid in self.dirty:
            target = self.visits[vid]
            if target.deleted:
                continue
            flags = visit_flags(
                facts_of(vid),
                [facts_of(i) for i in self._neighbour_ids(target)],
                self._place_of(target),
                self._policy_of(target),
                target.received_at,
            )
            if flags != list(target.flags or ()) or vid in self.touched:
                target.flags, target.flagged = flags, bool(flags)
                self.touched[vid] = target

    def _place_of(self, v: AnyVisit) -> Any:
        if v.id not in self.places:
            subject = (
                self.session.get(Student, v.student_id)
                if v.student_id
                else self.session.get(School, v.school_id)
            )
            self.places[v.id] = registered_place(subject) if subject else None
        return self.places[v.id]

    def _policy_of(self, v: AnyVisit) -> Any:
        if v.id not in self.policy_cache:
            self.policy_cache[v.id] = policy_in_force(
                self.policies, v.district_code, local_date(v.started_at)
            )
        return self.policy_cache[v.id]

    # -- writing ----------------------------------------------------------------------------

    def _photo_links(self, visit: Visit, photos: list[str]) -> None:
        """Make a stored visit's photo links exactly ``photos``."""
        for link in self.session.exec(select(VisitPhoto).where(VisitPhoto.visit_id == visit.id)):
            if link.sha256 not in photos:
                self.session.delete(link)
        kept = set(
            self.session.exec(select(VisitPhoto.sha256).where(VisitPhoto.visit_id == visit.id))
        )
        for sha in dict.fromkeys(photos):
            if sha not in kept:
                self.session.add(VisitPhoto(visit_id=visit.id, sha256=sha))

    def _write(self, sync_ops: list[dict[str, Any]]) -> None:
        self._reflag_dirty()
        if self.touched:
            first = next_seq(self.session, len(self.touched))
            for offset, visit in enumerate(self.touched.values()):
                visit.seq = first + offset
        s = self.session
        s.flush()  # stored visits first: same order of writes as one unit of work
        # Bulk INSERTs through the tables: the column types still convert times and JSON.
        bulk_insert(
            s,
            _TABLES["visit"],
            [{c: getattr(v, c) for c in _NEW_VISIT_COLUMNS} for v in self.new_visits.values()],
        )
        links = [
            {"visit_id": vid, "sha256": sha} for vid, shas in self.new_links.items() for sha in shas
        ]
        bulk_insert(s, _TABLES["visit_photo"], links)
        bulk_insert(s, _TABLES["sync_op"], sync_ops)
