"""Judging stored visits again when a policy version is saved.

A visit is judged by the policy in force where and when it happened. A version saved later
with an effective date in the past changes that rule for visits already stored, so their
evidence flags are recomputed: all but the pairwise ones (overlaps, same-day duplicates), which
no policy decides and which stay as they are, and whether each counts toward the service
standard (``service_session``), both by the judge (``shared.judge``). A visit whose verdict
changes moves its ``seq``, so phones pull it, and ``visit_tally`` follows through its triggers
(it sums ``service_session``).

The subsidy is not recomputed: it was claimed and perhaps approved under the rule known when
the visit arrived, and money already reviewed does not change behind the reviewer's back.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from server.db import next_seq
from server.models import School, Student
from server.services.visits import facts, registered_place
from shared.evidence import PAIR_FLAGS, own_flags
from shared.judge import counts_for_service, policy_on
from shared.policy import PolicyVersion
from shared.terms import SHANGHAI
from shared.travel import LatLon

_COLUMNS = (
    "id",
    "kind",
    "teacher",
    "student_id",
    "school_id",
    "district_code",
    "started_at",
    "ended_at",
    "record",
    "flags",
    "service_session",
    "received_at",
)


PAGE = 2_000  # visits judged per round trip by ``rejudge_visits``: memory stays bounded


@dataclass
class Rejudged:
    """What a re-judging did: visits judged, visits whose flags changed, and per flag code
    how many visits gained or lost it (the console shows these when a version is saved)."""

    judged: int = 0
    changed: int = 0
    gained: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)


def _range(table: sa.Table, district_code: str | None, since: date) -> list[Any]:
    """The live visits a version for ``district_code`` (None: every district) from ``since``
    (Asia/Shanghai) judges again."""
    where = [
        table.c.deleted == sa.false(),
        table.c.started_at >= datetime.combine(since, time.min, SHANGHAI),
    ]
    if district_code is not None:
        where.append(table.c.district_code == district_code)
    return where


def visits_to_judge(session: Session, *, district_code: str | None, since: date) -> int:
    """How many live visits a version for ``district_code`` (None: every district) taking
    effect on ``since`` would judge again: what the console tells an admin before saving."""
    table = SQLModel.metadata.tables["visit"]
    query = sa.select(sa.func.count()).where(*_range(table, district_code, since))
    return int(session.connection().execute(query).scalar_one())


def read_page(
    session: Session, *, district_code: str | None, since: date, after: str, limit: int
) -> list[dict[str, Any]]:
    """The next ``limit`` visits of the range with an id above ``after``, in id order."""
    table = SQLModel.metadata.tables["visit"]
    query = (
        sa.select(*(table.c[name] for name in _COLUMNS))
        .where(*_range(table, district_code, since), table.c.id > after)
        .order_by(table.c.id)
        .limit(limit)
    )
    return [dict(row) for row in session.connection().execute(query).mappings()]


def judge_rows(
    session: Session, versions: list[PolicyVersion], rows: list[dict[str, Any]]
) -> Rejudged:
    """Judge ``rows`` (from ``read_page``) under ``versions`` and write the visits whose
    verdict changed, each with a new ``seq``. Returns what changed."""
    outcome = Rejudged(judged=len(rows))
    if rows:
        _rejudge_page(session, SQLModel.metadata.tables["visit"], versions, rows, outcome)
    return outcome


def rejudge_visits(
    session: Session, *, versions: list[PolicyVersion], district_code: str | None, since: date
) -> Rejudged:
    """Recompute, under ``versions``, the policy-decided flags of live visits from ``since``
    (Asia/Shanghai) on, in ``district_code`` or, for a city-wide version (None), everywhere,
    all in the caller's transaction. Returns what changed. A saved version runs this as a job
    instead, a page per transaction (services/rejudge_jobs.py); this one-shot form is the
    reference the tests hold a job's outcome against.
    """
    outcome, after = Rejudged(), ""
    while True:  # ends: every page starts after the last id of the one before
        rows = read_page(session, district_code=district_code, since=since, after=after, limit=PAGE)
        if not rows:
            return outcome
        page = judge_rows(session, versions, rows)
        outcome.judged += page.judged
        outcome.changed += page.changed
        outcome.gained.update(page.gained)
        outcome.lost.update(page.lost)
        after = rows[-1]["id"]


def _rejudge_page(
    session: Session,
    table: sa.Table,
    versions: list[PolicyVersion],
    rows: list[dict[str, Any]],
    outcome: Rejudged,
) -> None:
    places = _registered_places(session, rows)
    changed = []
    for row in rows:
        facts_ = facts(row)
        policy = policy_on(versions, row["district_code"], facts_.started_at)
        place = places.get(row["student_id"] or row["school_id"])
        kept = set(row["flags"] or ()) & PAIR_FLAGS
        flags = sorted(own_flags(facts_, place, policy, row["received_at"]) | kept)
        session_ = counts_for_service(facts_.kind, facts_.started_at, facts_.ended_at, policy)
        if flags != list(row["flags"] or ()) or session_ != bool(row["service_session"]):
            changed.append(
                {
                    "b_id": row["id"],
                    "flags": flags,
                    "flagged": bool(flags),
                    "service_session": session_,
                }
            )
        if changed and changed[-1]["b_id"] == row["id"]:
            outcome.gained.update(set(flags) - set(row["flags"] or ()))
            outcome.lost.update(set(row["flags"] or ()) - set(flags))
    if changed:
        first = next_seq(session, len(changed))
        for offset, change in enumerate(changed):
            change["seq"] = first + offset
        session.connection().execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                flags=sa.bindparam("flags"),
                flagged=sa.bindparam("flagged"),
                service_session=sa.bindparam("service_session"),
                seq=sa.bindparam("seq"),
            ),
            changed,
        )
    outcome.changed += len(changed)


def _registered_places(session: Session, rows: list[dict[str, Any]]) -> dict[str, LatLon]:
    """Registered home or school positions by subject id, where one is on record."""
    student_ids = {r["student_id"] for r in rows if r["student_id"]}
    school_ids = {r["school_id"] for r in rows if r["school_id"]}
    subjects: list[Student | School] = [
        *session.exec(select(Student).where(col(Student.id).in_(student_ids))),
        *session.exec(select(School).where(col(School.id).in_(school_ids))),
    ]
    return {s.id: place for s in subjects if (place := registered_place(s)) is not None}
