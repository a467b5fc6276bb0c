"""The district compliance report: SQL counts, decided by shared.compliance.

The visits of a term are read in one pass: a GROUP BY per visit kind over the covering index
``ix_visit_term_sums`` (its leading columns are the WHERE terms, the next ones the grouping keys
in order, so SQLite streams the groups from the index without touching the table or sorting).
Everything the report needs from visits is summed from those groups in Python. The roster
counts read the covering indexes ``ix_student_cap`` and ``ix_student_placement``.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from server.errors import ApiError
from server.models import Assignment, District, School, Student, Visit
from server.scope import Scope
from server.services.policies import load_versions
from server.settings import get_settings
from shared import compliance as rules
from shared.domain import Placement, ReviewStatus, Role, Stage, VisitKind
from shared.policy import PolicyParams, policy_in_force
from shared.terms import SHANGHAI, Term, TermError, parse_term


def _term(term_id: str) -> Term:
    try:
        return parse_term(term_id, get_settings().calendar())
    except TermError:
        raise ApiError(400, "invalid_term") from None


def all_reports(session: Session, *, scope: Scope, term_id: str, today: date | None = None) -> dict:
    term = _term(term_id)
    codes = [
        d.code
        for d in session.exec(
            select(District).where(scope.districts()).order_by(col(District.code))
        )
    ]
    return {"term": term.id, "districts": _reports(session, codes, term, today)}


def district_report(
    session: Session, *, scope: Scope, district_code: str, term_id: str, today: date | None = None
) -> dict:
    term = _term(term_id)
    if not scope.sees_district(district_code) or session.get(District, district_code) is None:
        raise ApiError(404, "not_found")
    return _reports(session, [district_code], term, today)[0]


def _reports(session: Session, codes: list[str], term: Term, today: date | None) -> list[dict]:
    if not codes:
        return []
    as_of = min(term.end, today or _today())
    versions = load_versions(session)
    policy = {code: policy_in_force(versions, code, as_of) for code in codes}
    names = dict(
        session.exec(
            select(District.code, District.name).where(col(District.code).in_(codes))
        ).all()
    )
    roster = _roster_counts(session, codes, policy)
    sums = _visit_sums(session, codes, term, policy)
    school_visits = sums.school_visits
    instructors = _instructors(session, codes, school_visits, policy)
    reports = []
    for code in codes:
        p = policy[code]
        total, count = roster.cap_counts.get(code, (0, 0))
        hd = rules.home_delivery(count, total, p.home_delivery_cap)
        cov = rules.itinerant_coverage(
            roster.in_scope[code], school_visits, p.itinerant_visits_per_term
        )
        svc = rules.service_standard(roster.served[code], sums.sessions, term, p, as_of)
        n_visits, n_flagged = sums.totals.get(code, (0, 0))
        reports.append(
            {
                "district_code": code,
                "district_name": names.get(code, ""),
                "term": term.id,
                "as_of": as_of.isoformat(),
                "home_delivery": hd.__dict__,
                "itinerant": {**cov.__dict__, "instructors": instructors.get(code, [])},
                "service": {k: v for k, v in svc.__dict__.items() if k != "months"}
                | {"required_by_month": {str(m): n for m, n in svc.months.items()}},
                "visits": {"total": n_visits, "flagged": n_flagged},
                "subsidy": {
                    "claimed_fen": rules.capped_subsidy(sums.claimed[code], p.monthly_cap_fen),
                    "approved_fen": rules.capped_subsidy(sums.approved[code], p.monthly_cap_fen),
                },
            }
        )
    return reports


@dataclass
class _Roster:
    cap_counts: dict[str, tuple[int, int]]  # district -> (denominator, home delivery)
    in_scope: dict[str, list[str]]  # district -> schools owed itinerant visits
    served: dict[str, list[str]]  # district -> children owed home teaching


def _roster_counts(session: Session, codes: list[str], policy: dict[str, PolicyParams]) -> _Roster:
    """The roster side of the report; each query reads one of Student's covering indexes."""
    on_roll = col(Student.active) == sa.true()  # "=", not "IS": PostgreSQL seeks indexes on "="
    cap_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for code, placement, certified, n in session.exec(
        select(Student.district_code, Student.placement, Student.certified, func.count())
        .where(on_roll, Student.stage == Stage.COMPULSORY, col(Student.district_code).in_(codes))
        .group_by(Student.district_code, Student.placement, col(Student.certified))
    ):
        counted, home = rules.counts_toward_cap(
            Stage.COMPULSORY, placement, certified, True, policy[code]
        )
        cap_counts[code][0] += n * counted
        cap_counts[code][1] += n * home

    regular = (
        select(Student.school_id, func.count().label("n"))
        .where(on_roll, Student.placement == Placement.REGULAR_CLASS)
        .group_by(Student.school_id)
        .subquery()
    )
    in_scope: dict[str, list[str]] = defaultdict(list)
    for school_id, code, kind, n in session.exec(
        select(School.id, School.district_code, School.kind, regular.c.n)
        .join(regular, regular.c.school_id == School.id)
        .where(col(School.district_code).in_(codes))
    ):
        if rules.school_in_scope(kind, n):
            in_scope[code].append(school_id)
    served: dict[str, list[str]] = defaultdict(list)
    for student_id, code in session.exec(
        select(Student.id, Student.district_code).where(
            on_roll,
            Student.placement == Placement.HOME_DELIVERY,
            col(Student.district_code).in_(codes),
        )
    ):
        served[code].append(student_id)
    return _Roster(
        cap_counts={code: (t, h) for code, (t, h) in cap_counts.items()},
        in_scope=in_scope,
        served=served,
    )


@dataclass
class _VisitSums:
    """The term's counted visits, summed as the report needs them."""

    school_visits: dict[str, int] = field(default_factory=dict)  # itinerant visits per school
    # (student, YYYYMM) -> home-teaching sessions of at least the district's minimum length
    sessions: dict[tuple[str, int], int] = field(default_factory=dict)
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)  # district -> (all, flagged)
    # district -> (teacher, YYYYMM) -> fen, for capped_subsidy. Without a monthly cap only the
    # total matters, so it is kept under the single key _ALL_MONTHS.
    claimed: dict[str, dict[tuple[str, int], int]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    approved: dict[str, dict[tuple[str, int], int]] = field(
        default_factory=lambda: defaultdict(dict)
    )


_ALL_MONTHS = ("", 0)


def _whole_months(term: Term) -> bool:
    return term.start.day == 1 and (term.end + timedelta(days=1)).day == 1


def _visit_sums(
    session: Session, codes: list[str], term: Term, policy: dict[str, PolicyParams]
) -> _VisitSums:
    """Two GROUP BYs (home teaching, itinerant) per kind of district policy, usually one.

    Each groups by a prefix of ix_visit_term_sums after its equality terms, which is what lets
    the database stream groups from the index. Grouping by teacher costs time, so it is only
    done for districts whose policy caps the monthly subsidy per teacher.
    """
    months = term.months()
    # local_month is started_at's month in Asia/Shanghai, so for a term of whole months this
    # range is the term exactly; otherwise the exact bounds are added (started_at is in the
    # index too, so the query still never reads the table).
    in_term = [
        col(Visit.counted) == sa.true(),  # "=", not "IS": PostgreSQL seeks indexes on "="
        col(Visit.local_month).between(months[0], months[-1]),
    ]
    if not _whole_months(term):
        lo, hi = term.utc_bounds()
        in_term += [col(Visit.started_at) >= lo, col(Visit.started_at) < hi]
    groups: dict[tuple[int, bool], list[str]] = defaultdict(list)
    for code in codes:
        p = policy[code]
        groups[(p.service_min_minutes, p.monthly_cap_fen is not None)].append(code)

    sums = _VisitSums()
    # district -> [visits, flagged, fen, approved fen]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    school_visits: dict[str, int] = defaultdict(int)
    sessions: dict[tuple[str, int], int] = defaultdict(int)
    for (minutes, capped), group in groups.items():
        where = [*in_term, col(Visit.district_code).in_(group)]
        for kind in (VisitKind.HOME_TEACHING, VisitKind.ITINERANT):
            home = kind == VisitKind.HOME_TEACHING
            rows = _sums(session, kind, where, minutes if home else None, capped)
            for code, month, student_id, school_id, teacher, n, flagged, short, fen, ok in rows:
                total = totals[code]
                total[0] += n
                total[1] += flagged
                total[2] += fen
                total[3] += ok
                if home:
                    sessions[(student_id, month)] += n - short
                else:
                    school_visits[school_id] += n
                if capped:
                    key = (teacher, month)
                    claimed, approved = sums.claimed[code], sums.approved[code]
                    claimed[key] = claimed.get(key, 0) + fen
                    approved[key] = approved.get(key, 0) + ok
        for code in group:
            if not capped and code in totals:
                sums.claimed[code] = {_ALL_MONTHS: totals[code][2]}
                sums.approved[code] = {_ALL_MONTHS: totals[code][3]}
    sums.totals = {code: (t[0], t[1]) for code, t in totals.items()}
    sums.school_visits, sums.sessions = dict(school_visits), dict(sessions)
    return sums


def _sums(
    session: Session, kind: VisitKind, where: list[Any], minutes: int | None, capped: bool
) -> list[Any]:
    """Rows of (district, month, student, school, teacher, visits, flagged, sessions shorter
    than ``minutes`` (home teaching), fen, approved fen), one per group.

    The keys follow the index: home-teaching rows have no school_id and itinerant ones no
    student_id, so grouping by the NULL one costs little and keeps the prefix unbroken. A key
    not grouped by is selected as NULL, so that every row has the same shape.
    """
    keys: list[Any] = [Visit.district_code, Visit.local_month, Visit.student_id]
    if capped or kind == VisitKind.ITINERANT:
        keys.append(Visit.school_id)
    if capped:
        keys.append(Visit.teacher)
    shown = keys + [sa.null()] * (5 - len(keys))
    stmt = (
        sa.select(
            *shown,
            func.count(),
            # FILTER rather than sum(CASE ...): a row the filter refuses skips the aggregate
            # step, so each counts the rarer case (short sessions, not long ones).
            func.count().filter(col(Visit.flagged) == sa.true()),
            func.count().filter(col(Visit.duration_s) < minutes * 60) if minutes else sa.literal(0),
            func.coalesce(func.sum(Visit.subsidy_fen), 0),
            func.coalesce(
                func.sum(Visit.subsidy_fen).filter(
                    col(Visit.review_status) == ReviewStatus.APPROVED
                ),
                0,
            ),
        )
        .where(col(Visit.kind) == kind, *where)
        .group_by(*keys)
    )
    # Core rather than ORM execution, all rows at once: tens of thousands of small rows.
    return list(session.connection().execute(stmt).all())


def _instructors(
    session: Session,
    codes: list[str],
    school_visits: dict[str, int],
    policy: dict[str, PolicyParams],
) -> dict[str, list[dict[str, Any]]]:
    """Per itinerant instructor: assigned schools and how many of them are covered."""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for username, code, school_id in session.exec(
        select(Assignment.username, Assignment.district_code, Assignment.school_id).where(
            col(Assignment.deleted).is_(False),
            col(Assignment.school_id).is_not(None),
            col(Assignment.district_code).in_(codes),
        )
    ):
        row = out[code].setdefault(username, {"username": username, "schools": 0, "covered": 0})
        row["schools"] += 1
        need = policy[code].itinerant_visits_per_term
        row["covered"] += int(school_visits.get(school_id or "", 0) >= need)
    return {code: sorted(rows.values(), key=lambda r: r["username"]) for code, rows in out.items()}


def _today() -> date:
    from datetime import datetime

    return datetime.now(SHANGHAI).date()


def render_text(reports: list[dict], term_id: str) -> str:
    """The report as a table for the terminal."""
    lines = [
        f"合规报告 {term_id}",
        "区县代码  名称      送教人数/总数  比例     上限   余量  "
        "巡回覆盖        达标学生       访问(标记)  补助申报(元)",
    ]
    for r in reports:
        hd, it, sv, vi = r["home_delivery"], r["itinerant"], r["service"], r["visits"]
        mark = "超标" if hd["over_cap"] else "  "
        lines.append(
            f"{r['district_code']}  {r['district_name']:<6}  {hd['count']:>5}/{hd['total']:<6} "
            f"{hd['ratio']:.2%} {mark} {hd['cap']:.0%}  {hd['headroom']:>5}  "
            f"{it['schools_covered']:>4}/{it['schools_in_scope']:<4} {it['coverage']:.0%}  "
            f"{sv['students_meeting_standard']:>5}/{sv['students']:<5}  "
            f"{vi['total']:>6}({vi['flagged']})  {r['subsidy']['claimed_fen'] / 100:,.2f}"
        )
    return "\n".join(lines)


__all__ = ["all_reports", "district_report", "render_text", "Role"]
