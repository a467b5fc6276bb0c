"""One district's compliance report with the figures it was decided from: the console's
district page (``server/console/district_view.py``). Every figure is one the report counted
(``compliance.gather``), never a second count; only the placements, each school's instructors
and the flags by kind are read here besides."""

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from server.models import Assignment, District, Student, Visit
from server.scope import Scope
from server.services.compliance import gather, report_of, term_or_refusal
from server.services.errors import DomainError
from shared.protocol import ComplianceReport
from shared.terms import Term


@dataclass(frozen=True)
class DistrictDetail:
    """One district's report and the figures it was decided from (the console's district
    page): every figure here is one the report counted, never a second count."""

    report: ComplianceReport
    owed: dict[int, int]  # month (YYYYMM) -> sessions owed each child
    # child on roll in home delivery -> month -> sessions of at least the minimum length
    sessions: dict[str, dict[int, int]]
    school_visits: dict[str, int]  # school in scope -> counted itinerant visits this term
    school_instructors: dict[str, list[str]]  # school in scope -> instructors assigned
    placements: dict[tuple[str, str], int]  # (stage, placement) -> children on roll
    flags: dict[str, dict[str, int]]  # evidence flag -> visit kind -> counted visits with it


def district_detail(
    session: Session, *, scope: Scope, district_code: str, term_id: str, today: date | None = None
) -> DistrictDetail:
    """As ``district_report``, with the figures behind it; 404 outside the caller's scope."""
    term = term_or_refusal(term_id)
    if not scope.sees_district(district_code) or session.get(District, district_code) is None:
        raise DomainError("not_found")
    g = gather(session, [district_code], term, today)
    report = report_of(g, district_code)
    owed = {int(m): n for m, n in report.service.required_by_month.items()}
    served = g.roster.served[district_code]
    in_scope = g.roster.in_scope[district_code]
    instructors: dict[str, list[str]] = {school: [] for school in in_scope}
    for username, school_id in session.exec(
        select(Assignment.username, Assignment.school_id).where(
            col(Assignment.deleted).is_(False),
            col(Assignment.school_id).in_(in_scope),
            Assignment.district_code == district_code,
        )
    ):
        instructors[school_id or ""].append(username)
    placements = {
        (stage, placement): n
        for stage, placement, n in session.exec(
            select(Student.stage, Student.placement, func.count())
            .where(col(Student.active) == sa.true(), Student.district_code == district_code)
            .group_by(Student.stage, Student.placement)
        )
    }
    return DistrictDetail(
        report=report,
        owed=owed,
        sessions={s: {m: g.sums.sessions.get((s, m), 0) for m in owed} for s in served},
        school_visits={school: g.sums.school_visits.get(school, 0) for school in in_scope},
        school_instructors={k: sorted(v) for k, v in instructors.items()},
        placements=placements,
        flags=_flag_counts(session, district_code, term),
    )


def _flag_counts(session: Session, district_code: str, term: Term) -> dict[str, dict[str, int]]:
    """Counted visits of the term per evidence flag and visit kind (a visit with two flags
    counts under each). Grouped by the stored list, so the database returns one row per
    combination of flags, not per visit."""
    lo, hi = term.utc_bounds()
    flags = sa.cast(Visit.flags, sa.Text)  # PostgreSQL's json has no equality to group by
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind, listed, n in session.exec(
        select(Visit.kind, flags, func.count())
        .where(
            Visit.district_code == district_code,
            col(Visit.started_at) >= lo,
            col(Visit.started_at) < hi,
            col(Visit.counted) == sa.true(),
            col(Visit.flagged) == sa.true(),
        )
        .group_by(Visit.kind, flags)
    ):
        for flag in json.loads(listed):
            out[flag][kind] += n
    return {flag: dict(kinds) for flag, kinds in out.items()}
