"""Phase 2 of a push: the batch judged in memory against rows read with a handful of set
queries, with no lock and no write; it yields the results and a ``WritePlan``."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.db import last_change
from server.models import Policy, School, Student, SyncOp, Visit, VisitPhoto
from server.scope import Scope
from server.services.photos import holders
from server.services.policies import versions_as_of
from server.services.sync_push.parse import Parsed, raw_hash, rejected
from server.services.sync_push.rows import (
    NEIGHBOUR_COLUMNS,
    NEW_VISIT_COLUMNS,
    REFERENCE,
    ROSTER,
    AnyVisit,
    Neighbour,
    NewVisit,
    Seen,
    pair_facts_of,
    spans_around,
)
from server.services.sync_push.write import WritePlan
from server.services.visits import facts, registered_place, visit_out
from shared import judge
from shared.consent import photographed_children, without_photo_consent
from shared.domain import ReviewStatus, Role, VisitKind
from shared.evidence import VisitFacts, pair_flags, visit_flags
from shared.protocol import DeleteRecord, PushOp, PushResult, VisitRecord
from shared.terms import local_date, local_month
from shared.travel import LatLon, round_trip_m


@dataclass
class Batch:
    session: Session
    scope: Scope
    now: datetime
    visits: dict[str, AnyVisit] = field(default_factory=dict)  # the batch's, whole
    near: dict[str, Neighbour] = field(default_factory=dict)  # the others around them
    by_teacher_day: dict[tuple[str, Any], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    by_student_day: dict[tuple[str, Any], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    # Visits whose seq must move: the batch's, and neighbours whose flags changed.
    touched: dict[str, AnyVisit | Neighbour] = field(default_factory=dict)
    new_visits: dict[str, NewVisit] = field(default_factory=dict)  # to INSERT
    new_links: dict[str, list[str]] = field(default_factory=dict)  # new visit id -> photos
    links: dict[str, list[str]] = field(default_factory=dict)  # stored visit id -> photos
    sync_ops: dict[str, SyncOp] = field(default_factory=dict)  # earlier ops with these op_ids
    new_sync_ops: list[dict[str, Any]] = field(default_factory=list)
    seen: Seen = field(default_factory=Seen)
    # Where neighbours are looked for: time spans (the batch's times, two days either side,
    # merged), and the batch's children.
    window: tuple[tuple[tuple[datetime, datetime], ...], frozenset[str]] | None = None
    places: dict[str, Any] = field(default_factory=dict)  # visit id -> registered place
    policy_cache: dict[str, Any] = field(default_factory=dict)  # visit id -> policy in force
    dirty: set[str] = field(default_factory=set)  # visits whose flags must be recomputed
    # Neighbours that lost a partner (an edited visit moved away, a deleted one), with the
    # pairwise flags they shared with it: only those are recomputed from all their neighbours
    # (who are all at hand for those flags); otherwise a neighbour can only gain a flag.
    lost_partner: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Round trips by (start, end): most trips run from the teacher's base to a registered home,
    # the same pair visit after visit, and a geodesic costs more than the rest of an op.
    trips: dict[tuple[Any, Any], int] = field(default_factory=dict)

    def judge(self, ops: list[Parsed]) -> list[PushResult]:
        """The results of ``ops``, in order, with reads only (the plan is made by ``plan``)."""
        results: list[PushResult | None] = [op.rejection for op in ops]
        todo = [(i, op) for i, op in enumerate(ops) if op.rejection is None]
        if not todo:
            return [r for r in results if r is not None]
        with self.session.no_autoflush:  # judging changes ORM rows that must not be written
            self._prefetch(todo)
            seen_in_batch: dict[str, tuple[str, PushResult]] = {}
            for i, parsed in todo:
                op = parsed.op
                assert op is not None
                op_id, body_hash = str(op.op_id), parsed.body_hash
                earlier = self.sync_ops.get(op_id) or seen_in_batch.get(op_id)
                if earlier is not None:
                    results[i] = self._replay(op_id, body_hash, earlier, op)
                    continue
                result = self._apply(op, parsed.record, parsed.dumped)
                results[i] = result
                if result.status == "applied":
                    seen_in_batch[op_id] = (body_hash, result)
                    self.new_sync_ops.append(
                        {
                            "op_id": op_id,
                            "username": self.scope.username,
                            "body_hash": body_hash,
                            "result": result.model_dump(mode="json"),
                            "created_at": self.now,
                        }
                    )
            self._reflag_dirty()
        return [r for r in results if r is not None]

    # -- prefetch and what the judgement rested on --------------------------------------------

    def read_seen(self) -> Seen:
        """``Seen`` read afresh with the queries of ``_prefetch``: (id, seq) only."""
        s = self.session
        reference = tuple(s.execute(REFERENCE).one())
        op_ids = frozenset(
            s.exec(select(SyncOp.op_id).where(col(SyncOp.op_id).in_(self.op_ids))).all()
        )
        visits = frozenset(
            (vid, seq)
            for vid, seq in s.exec(select(Visit.id, Visit.seq).where(col(Visit.id).in_(self.ids)))
        )
        queries = self._neighbour_queries(Visit.id, Visit.seq)
        neighbours = frozenset((vid, seq) for q in queries for vid, seq in s.exec(q))
        photos = frozenset(holders(s, self.scope.username, self.hashes))
        linked = self._linked()
        return Seen(self.seen.counter, reference, op_ids, visits, neighbours, photos, linked)

    def _linked(self) -> frozenset[tuple[str, str]]:
        if not (self.hashes and self.ids):
            return frozenset()
        return frozenset(
            self.session.exec(
                select(VisitPhoto.visit_id, VisitPhoto.sha256).where(
                    col(VisitPhoto.visit_id).in_(self.ids), col(VisitPhoto.sha256).in_(self.hashes)
                )
            ).all()
        )

    def _neighbour_queries(self, *columns: Any) -> list[Any]:
        """This teacher's live visits around the batch's days, and other teachers' live visits
        to the batch's children on those days."""
        if self.window is None:
            return []
        spans, student_ids = self.window
        live = col(Visit.deleted).is_(False)
        started = col(Visit.started_at)
        days = (sa.or_(*(sa.and_(started >= lo, started <= hi) for lo, hi in spans)),)
        queries = [select(*columns).where(Visit.teacher == self.scope.username, live, *days)]
        if student_ids:
            queries.append(
                select(*columns).where(
                    col(Visit.student_id).in_(student_ids),
                    live,
                    Visit.teacher != self.scope.username,
                    *days,
                )
            )
        return queries

    def _prefetch(self, todo: list[tuple[int, Parsed]]) -> None:
        s, scope = self.session, self.scope
        counter = last_change(s)  # first: see Seen
        reference = tuple(s.execute(REFERENCE).one())
        records = [p.record for _, p in todo if p.record is not None]
        self.op_ids = [str(p.op.op_id) for _, p in todo if p.op is not None]
        self.sync_ops = {
            row.op_id: row
            for row in s.exec(select(SyncOp).where(col(SyncOp.op_id).in_(self.op_ids)))
        }
        upserts = [r for r in records if isinstance(r, VisitRecord)]
        self.ids = ids = [str(r.id) for r in records]
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
                    select(School).where(col(School.id).in_(school_ids), scope.visitable_schools())
                )
            }
            if school_ids and scope.role == Role.ITINERANT
            else {}
        )
        self.base = s.get(School, scope.base_school_id) if scope.base_school_id else None
        self.hashes = hashes = {h for r in upserts for h in r.photos}
        # A visit may list a photo its teacher uploaded or that it lists already: a photo's name
        # alone must not let anyone link it, and so read it (services/photos.py, Possession).
        self.photos = holders(s, scope.username, hashes)
        self.linked = set(self._linked())
        self.policies = versions_as_of(s, reference[ROSTER.index(Policy)])
        # Neighbours for the evidence flags: this teacher's visits around the batch's days and
        # other visits to the batch's children on those days.
        times = [r.started_at for r in upserts] + [v.started_at for v in existing]
        rows: list[Neighbour] = []
        if times:
            # Safe arithmetic: every pushed time lies in shared.terms' window, far from year 1
            # and 9999, where two days more or less overflow (and failed the whole batch).
            self.window = (spans_around(times, timedelta(days=2)), frozenset(student_ids))
            own = set(ids)  # the batch's stored visits are loaded whole, above
            for query in self._neighbour_queries(*NEIGHBOUR_COLUMNS):
                rows += [Neighbour(*row) for row in s.exec(query) if row[0] not in own]
            for n in rows:
                self.near[n.id] = n
                self._index(n)
        self.seen = Seen(
            counter,
            reference,
            frozenset(self.sync_ops),
            frozenset((v.id, v.seq) for v in existing),
            frozenset((n.id, n.seq) for n in rows),
            frozenset(self.photos),
            frozenset(self.linked),
        )
        for v in existing:
            self.visits[v.id] = v
            if not v.deleted:
                self._index(v)

    # -- ops --------------------------------------------------------------------------------

    def _replay(self, op_id: str, body_hash: str, earlier: Any, op: PushOp) -> PushResult:
        if isinstance(earlier, SyncOp):
            same = earlier.username == self.scope.username and earlier.body_hash in (
                body_hash,
                raw_hash(op),  # stored before the hash was of the meaning
            )
            first = PushResult.model_validate(earlier.result)
        else:
            same, first = earlier[0] == body_hash, earlier[1]
        if not same:
            return rejected(op_id, None, "op_id_reused")
        return first.model_copy(update={"status": "duplicate"})

    def _apply(
        self, op: PushOp, record: VisitRecord | DeleteRecord | None, dumped: dict[str, Any]
    ) -> PushResult:
        assert record is not None
        op_id, rid = str(op.op_id), str(record.id)
        current = self.visits.get(rid)
        if current is not None and current.teacher != self.scope.username:
            return rejected(op_id, rid, "not_assigned")  # someone else's: as if absent
        if current is None:
            if op.type == "visit.delete" or op.base_version is not None:
                return rejected(op_id, rid, "unknown_record")
        elif op.base_version != current.version or (current.deleted and op.type == "visit.delete"):
            # An upsert based on the tombstone's own version restores the visit (an undo on the
            # phone): version + 1, judged afresh. Anything else about a tombstone is a conflict.
            return PushResult(
                op_id=op_id,
                status="conflict",
                id=rid,
                version=current.version,
                server_record=visit_out(cast(Visit, current)),  # duck-typed: see NewVisit
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
                self.students.get(rec.student_id or "") if self.scope.role == Role.TEACHER else None
            )
        else:
            subject = self.schools.get(rec.school_id or "")
        if subject is None or any(sid not in self.students for sid in rec.students_seen):
            return rejected(op_id, rid, "not_assigned")
        if rec.photos and without_photo_consent(
            photographed_children(rec.kind, rec.student_id, rec.students_seen),
            lambda sid: self.students[sid].photo_consent,
        ):
            return rejected(op_id, rid, "photo_consent_missing")
        # Not held by this teacher answers as if never uploaded: no oracle of which names exist,
        # and the phone that really holds the bytes uploads them and retries.
        missing = [h for h in rec.photos if h not in self.photos and (rid, h) not in self.linked]
        if missing:
            return rejected(op_id, rid, "photo_not_uploaded", sha256=missing[0])
        policy = judge.policy_on(self.policies, subject.district_code, rec.started_at)
        place = registered_place(subject)

        def measure(start: LatLon | None, end: LatLon | None) -> int:
            if (start, end) not in self.trips:
                self.trips[(start, end)] = round_trip_m(start, end)
            return self.trips[(start, end)]

        trip = judge.visit_trip(
            kind=rec.kind,
            travel=dumped.get("travel"),
            base_place=registered_place(self.base) if self.base else None,
            registered_place=place,
            check_in=dumped.get("check_in"),
            policy=policy,
            teacher=self.scope.username,
            measure=measure,
        )
        visit = current or NewVisit(id=rid, teacher=self.scope.username)
        if current is not None:
            self._lose_partner(current)
        visit.kind = rec.kind
        visit.student_id, visit.school_id = rec.student_id, rec.school_id
        visit.district_code = subject.district_code
        visit.started_at, visit.ended_at = rec.started_at, rec.ended_at
        visit.local_month = local_month(rec.started_at)
        visit.duration_s = int((rec.ended_at - rec.started_at).total_seconds())
        visit.record = dumped  # the validated record as JSON (dumped once, in run)
        visit.distance_m, visit.subsidy_fen = trip.distance_m, trip.subsidy_fen
        # An edit sends a reviewed visit back to review.
        visit.review_status, visit.review_reason = ReviewStatus.PENDING, ""
        visit.reviewed_by = visit.reviewed_at = None
        visit.deleted = False
        visit.counted = judge.in_counts(deleted=False, review_status=ReviewStatus.PENDING)
        visit.service_session = judge.counts_for_service(
            rec.kind, rec.started_at, rec.ended_at, policy
        )
        visit.version += 1
        visit.received_at = self.now
        self.visits[rid] = visit
        self._index(visit)
        self.places[rid], self.policy_cache[rid] = place, policy
        self.dirty |= {rid} | self._neighbour_ids(visit)
        self.touched[rid] = visit
        if isinstance(visit, NewVisit):
            self.new_visits[rid] = visit
            self.new_links[rid] = list(dict.fromkeys(rec.photos))
        else:
            self.links[rid] = list(rec.photos)
        return PushResult(op_id=op_id, status="applied", id=rid, version=visit.version)

    def _delete(self, op_id: str, visit: AnyVisit) -> PushResult:
        self._lose_partner(visit)
        visit.deleted = True
        visit.counted = judge.in_counts(deleted=True, review_status=visit.review_status)
        visit.version += 1
        visit.received_at = self.now
        self.touched[visit.id] = visit
        return PushResult(op_id=op_id, status="applied", id=visit.id, version=visit.version)

    # -- flags ------------------------------------------------------------------------------

    def _lose_partner(self, v: AnyVisit) -> None:
        """Take stored ``v`` out of the day indexes (it moves or goes): its neighbours there may
        lose a pairwise flag."""
        if v.deleted:
            return
        for vid in self._neighbour_ids(v):
            shared = pair_flags(pair_facts_of(self._row(vid)), [pair_facts_of(v)])
            if shared:
                self.dirty.add(vid)
                self.lost_partner[vid] |= shared
        self._unindex(v)

    def _row(self, vid: str) -> AnyVisit | Neighbour:
        return self.visits.get(vid) or self.near[vid]

    def _index(self, v: AnyVisit | Neighbour) -> None:
        day = local_date(v.started_at)
        self.by_teacher_day[(v.teacher, day)].add(v.id)
        if v.student_id and v.kind == VisitKind.HOME_TEACHING:
            self.by_student_day[(v.student_id, day)].add(v.id)

    def _unindex(self, v: AnyVisit | Neighbour) -> None:
        day = local_date(v.started_at)
        self.by_teacher_day[(v.teacher, day)].discard(v.id)
        if v.student_id:
            self.by_student_day[(v.student_id, day)].discard(v.id)

    def _neighbour_ids(self, v: AnyVisit | Neighbour) -> set[str]:
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

        The batch's own visits are judged whole. A neighbour only gains the pairwise flags it
        now shares with the batch's visits, unless it lost a partner (then all its pairs are
        recomputed): on a day with n visits a push costs O(n), not O(n^2).
        """
        cache: dict[str, VisitFacts] = {}

        def pairs_of(vid: str) -> VisitFacts:
            if vid not in cache:
                cache[vid] = pair_facts_of(self._row(vid))
            return cache[vid]

        landed = [vid for vid, v in self.touched.items() if not v.deleted]
        for vid in self.dirty:
            target = self._row(vid)
            if target.deleted:
                continue
            if vid not in self.places:  # not upserted by this batch: a neighbour
                lost = self.lost_partner.get(vid, set())
                flags_set = set(target.flags) - lost
                flags_set |= pair_flags(pairs_of(vid), [pairs_of(i) for i in landed])
                if lost:
                    around = [pairs_of(i) for i in self._neighbour_ids(target)]
                    flags_set |= pair_flags(pairs_of(vid), around) & lost
                flags = sorted(flags_set)
            else:
                assert not isinstance(target, Neighbour)
                flags = visit_flags(
                    facts(cast(Visit, target)),
                    [pairs_of(i) for i in self._neighbour_ids(target)],
                    self.places[vid],
                    self._policy_of(target),
                    target.received_at,
                )
            if flags != list(target.flags or ()) or vid in self.touched:
                target.flags = flags
                if not isinstance(target, Neighbour):
                    target.flagged = bool(flags)
                self.touched[vid] = target

    def _policy_of(self, v: AnyVisit) -> Any:
        if v.id not in self.policy_cache:
            self.policy_cache[v.id] = judge.policy_on(self.policies, v.district_code, v.started_at)
        return self.policy_cache[v.id]

    # -- writing ----------------------------------------------------------------------------

    # -- the plan ---------------------------------------------------------------------------

    def plan(self) -> WritePlan:
        """The judged batch as plain rows (still in the judging transaction: ORM rows are read)."""
        plan = WritePlan(sync_ops=self.new_sync_ops)
        for visit in self.touched.values():
            if isinstance(visit, Neighbour):
                plan.reflagged.append(
                    {"id": visit.id, "flags": visit.flags, "flagged": bool(visit.flags)}
                )
                continue
            row = {c: getattr(visit, c) for c in NEW_VISIT_COLUMNS}
            (plan.new_visits if isinstance(visit, NewVisit) else plan.changed_visits).append(row)
        plan.links_new = [
            {"visit_id": vid, "sha256": sha} for vid, shas in self.new_links.items() for sha in shas
        ]
        if self.links:
            # A stored visit's photo links become exactly the photos its last upsert lists.
            stored: dict[str, set[str]] = defaultdict(set)
            for vid, sha in self.session.exec(
                select(VisitPhoto.visit_id, VisitPhoto.sha256).where(
                    col(VisitPhoto.visit_id).in_(list(self.links))
                )
            ):
                stored[vid].add(sha)
            for vid, photos in self.links.items():
                plan.links_gone += [(vid, sha) for sha in sorted(stored[vid]) if sha not in photos]
                plan.links_new += [
                    {"visit_id": vid, "sha256": sha}
                    for sha in dict.fromkeys(photos)
                    if sha not in stored[vid]
                ]
        return plan
