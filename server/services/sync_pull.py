"""Pull: every change the caller may see since their cursor, ordered by the server's sequence.

A pull never takes the change counter (``lock_changes``/``next_seq``): it reads with plain
SELECTs, and changes are visible in the order of their numbers because writers number them
under that lock (docs/sync.md). Its only writes are the audit rows of the children's records it
sends, in its own transaction, committed before it answers (so never lost); on SQLite they wait
at most for one push's short write phase, on PostgreSQL for nothing.
"""

import heapq
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect
from sqlmodel import Session, col, select

from server.models import Assignment, Policy, School, Student, Visit
from server.scope import Scope
from server.services import audit
from server.services.errors import DomainError
from server.services.visits import visit_out
from shared.domain import Role
from shared.protocol import CalendarRecord, PullPage, TermRecord
from shared.terms import TermCalendar

CURSOR_PREFIX = "c1."

# The tables a pull reads; each carries ``seq`` (see server.models).
SyncedTable = Policy | School | Student | Assignment | Visit
_Table = TypeVar("_Table", bound=SyncedTable)


def parse_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    digits = cursor.removeprefix(CURSOR_PREFIX)
    if not cursor.startswith(CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise DomainError("invalid_request", detail="cursor")
    return int(digits)


def pull(
    session: Session,
    *,
    scope: Scope,
    cursor: str | None,
    limit: int,
    calendar: tuple[TermCalendar, str] | None = None,
) -> PullPage:
    """Up to ``limit`` changes after ``cursor``; ``has_more`` when another call would find more.
    With ``calendar`` (the city's calendar and its tag), the page carries it too.

    One statement first reads the change counter and finds, per table, the lowest visible
    change after the cursor: most pulls of a phone that is caught up find none, and end there.
    The rows are then read up to that counter only. Every change numbered up to it was
    committed when it was read (numbers are taken under its lock, server/db.py), so the later
    statements, each with a snapshot of its own on PostgreSQL and on SQLite outside a write,
    see all of them; a change committed meanwhile, numbered above it, waits for the next pull
    instead of moving the cursor past one numbered below it that a table read earlier missed.
    Each table with a change contributes its ``limit + 1`` lowest-sequence rows; the merged
    ``limit`` lowest are exact, since a row missing from the merge would have at least
    ``limit + 1`` rows before it.

    The page is typed by entity and validated once, here (the route sends its JSON as is).
    """
    after = parse_cursor(cursor)
    sources = _sources(scope)
    ceiling, *firsts = session.execute(
        sa.select(_COMMITTED, *(_first_after(m, visible, after) for _, m, visible in sources))
    ).one()
    streams = []
    for (entity, model, visible), first in zip(sources, firsts, strict=True):
        if first is None:
            continue
        rows = _rows_after(session, model, visible, after=after, upto=ceiling, limit=limit + 1)
        streams.append([(row.seq, entity, row) for row in rows])
    merged = list(heapq.merge(*streams, key=lambda item: item[0]))
    taken = merged[:limit]
    changes = [_change(entity, row, scope) for _, entity, row in taken]
    # A child's record leaving the server for a device is a read: log one row per child.
    for change in changes:
        record = change["record"]
        if change["entity"] == "student" and record is not None:
            audit.record(
                session,
                actor=scope.username,
                action="sync",
                entity="student",
                entity_id=change["id"],
                district_code=record.get("district_code"),
            )
    session.commit()
    last = taken[-1][0] if taken else after
    page: dict[str, Any] = {
        "changes": changes,
        "cursor": f"{CURSOR_PREFIX}{last}",
        "has_more": len(merged) > limit,
    }
    if calendar is not None:
        page["calendar"] = calendar_record(*calendar)
    return PullPage.model_validate(page)


def _sources(scope: Scope) -> list[tuple[str, type[SyncedTable], ColumnElement[bool]]]:
    """Each synced table with what of it ``scope`` may see."""
    return [
        ("policy", Policy, scope.policies()),
        ("school", School, scope.schools()),
        ("student", Student, scope.students()),
        ("assignment", Assignment, scope.assignments()),
        ("visit", Visit, scope.visits()),
    ]


# The change counter's committed value (server/db.py last_change), as a scalar subquery.
_COUNTER = sa.table("seq_counter", sa.column("name"), sa.column("value"))
_COMMITTED = sa.select(_COUNTER.c.value).where(_COUNTER.c.name == "change").scalar_subquery()


def _first_after(
    model: type[SyncedTable], visible: ColumnElement[bool], after: int
) -> ScalarSelect[Any]:
    seq = col(model.seq)
    return sa.select(sa.func.min(seq)).where(seq > after, visible).scalar_subquery()


def calendar_record(calendar: TermCalendar, tag: str) -> CalendarRecord:
    """The calendar as a pull carries it, terms in id order."""
    terms = [
        TermRecord(
            id=term_id,
            start=d.start,
            end=d.end,
            teaching_start=d.teaching_start,
            teaching_end=d.teaching_end,
        )
        for term_id, d in sorted(calendar.items())
    ]
    return CalendarRecord(tag=tag, terms=terms)


def _rows_after(
    session: Session,
    model: type[_Table],
    visible: ColumnElement[bool],
    *,
    after: int,
    upto: int,
    limit: int,
) -> Sequence[_Table]:
    # A function of its own so the row type follows ``model``: select() given the union of the
    # table classes would type its rows as their base, SQLModel, which has no ``seq``.
    seq = col(model.seq)
    query = select(model).where(seq > after, seq <= upto, visible)
    return session.exec(query.order_by(seq).limit(limit)).all()


def _change(entity: str, row: Any, scope: Scope) -> dict[str, Any]:
    """One change as a dict in the form of ``PullPage``'s entries (validated with the page)."""
    if entity == "visit":
        return dict(
            entity="visit",
            id=row.id,
            version=row.version,
            deleted=row.deleted,
            record=None if row.deleted else visit_out(row),
        )
    if entity == "assignment":
        return dict(
            entity="assignment",
            id=row.id,
            version=row.version,
            deleted=row.deleted,
            record=None
            if row.deleted
            else {
                "username": row.username,
                "student_id": row.student_id,
                "school_id": row.school_id,
            },
        )
    if entity == "student":
        gone = not row.active
        return dict(
            entity="student",
            id=row.id,
            version=row.version,
            deleted=gone,
            record=None if gone else student_for(row, scope),
        )
    if entity == "school":
        return dict(
            entity="school",
            id=row.id,
            version=row.version,
            deleted=False,
            record={
                "id": row.id,
                "name": row.name,
                "district_code": row.district_code,
                "kind": row.kind,
                "lat": row.lat,
                "lon": row.lon,
            },
        )
    return dict(
        entity="policy",
        id=str(row.id),
        version=row.version,
        deleted=False,
        record={
            "district_code": row.district_code,
            "effective_from": row.effective_from.isoformat(),
            "params": row.params,
        },
    )


# What a field worker's phone may hold about a child: what the job needs, nothing more.
_TEACHER_FIELDS = (
    "id",
    "name",
    "school_id",
    "district_code",
    "stage",
    "grade",
    "placement",
    "disability_category",
    "disability_grade",
    "address",
    "home_lat",
    "home_lon",
    "guardian_name",
    "guardian_phone",
    "photo_consent",
    "iep_goals",
)
_ITINERANT_FIELDS = (
    "id",
    "name",
    "school_id",
    "district_code",
    "grade",
    "placement",
    "disability_category",
    "photo_consent",
)


def student_for(student: Student, scope: Scope) -> dict[str, Any]:
    fields: tuple[str, ...]
    if scope.role == Role.ITINERANT:
        fields = _ITINERANT_FIELDS
    elif scope.role == Role.TEACHER:
        fields = _TEACHER_FIELDS
    else:
        fields = tuple(Student.model_fields)
    data = student.model_dump(include=set(fields))
    return {k: data[k] for k in fields if k in data}


__all__ = ["pull", "parse_cursor", "student_for"]
