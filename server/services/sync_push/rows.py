"""The shapes a push judges: visits new to the server, their stored neighbours, and what a
judgement rested on (``Seen``)."""

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.models import Assignment, Policy, School, Student, Visit
from shared.domain import ReviewStatus
from shared.evidence import VisitFacts


@dataclass(frozen=True)
class Seen:
    """What a judgement rested on, as (id, seq) pairs: every change to a visit, a student, a
    school, an assignment or a policy takes a new number from the counter, so two equal
    ``Seen`` mean that the judgement still holds.

    ``counter`` and ``reference`` (the highest seq of the roster tables) are read before
    anything else: when the counter has not moved by the time the lock is held, no change was
    committed meanwhile and the rest need not be read again. ``reference`` means that a
    roster change committed while judging is seen as a change even where each statement reads
    its own snapshot (PostgreSQL's READ COMMITTED; SQLite outside a write transaction).
    """

    counter: int = -1  # the change counter when judging began (compared on its own)
    reference: tuple[Any, ...] = ()
    op_ids: frozenset[str] = frozenset()
    visits: frozenset[tuple[str, int]] = frozenset()  # the batch's own ids
    neighbours: frozenset[tuple[str, int]] = frozenset()  # for the pairwise flags
    photos: frozenset[str] = frozenset()
    linked: frozenset[tuple[str, str]] = frozenset()

    @property
    def judged_rows(self) -> bool:
        """False when no op reached the database (all rejected while parsing)."""
        return bool(self.reference)


def spans_around(times: list[datetime], margin: timedelta) -> tuple[tuple[datetime, datetime], ...]:
    """The times widened by ``margin`` either side, overlapping spans merged: a phone's backlog
    spreads over weeks, and one span from its first to its last visit would read every visit
    between them."""
    merged: list[tuple[datetime, datetime]] = []
    for moment in sorted(times):
        lo, hi = moment - margin, moment + margin
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def pair_facts_of(v: "AnyVisit | Neighbour") -> VisitFacts:
    """What ``shared.evidence.pair_flags`` reads of a visit (it reads no position or photo)."""
    return VisitFacts(
        id=v.id,
        teacher=v.teacher,
        kind=v.kind,
        subject_id=v.student_id or v.school_id or "",
        started_at=v.started_at,
        ended_at=v.ended_at,
        check_in=None,
        photo_count=0,
    )


ROSTER = (Student, School, Assignment, Policy)
REFERENCE = sa.select(*(sa.select(sa.func.max(m.seq)).scalar_subquery() for m in ROSTER))


_UNSET = datetime.min.replace(tzinfo=UTC)  # every NewVisit time is set by _upsert


@dataclass(slots=True)
class NewVisit:
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
    service_session: bool = False
    deleted: bool = False
    version: int = 0
    received_at: datetime = _UNSET
    seq: int = 0


@dataclass(slots=True)
class Neighbour:
    """A stored live visit near the batch, as far as its pairwise flags need it.

    Only its pairwise flags can change when the batch lands beside it (its own flags depend on
    it alone, and on the policy, which re-judging keeps up: services/rejudge.py), so neither
    its record nor its registered place is read.
    """

    id: str
    seq: int
    teacher: str
    kind: str
    student_id: str | None
    school_id: str | None
    started_at: datetime
    ended_at: datetime
    flags: list[str]
    deleted: bool = False


NEIGHBOUR_COLUMNS = tuple(getattr(Visit, f.name) for f in fields(Neighbour) if f.name != "deleted")

AnyVisit = Visit | NewVisit
# Every column a push sets, ``seq`` last: it is numbered under the lock (write.write).
NEW_VISIT_COLUMNS = tuple(f.name for f in fields(NewVisit) if f.name != "seq")
