"""The district compliance report: SQL counts, decided by shared.compliance."""

from collections import defaultdict
from datetime import date
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
    lo, hi = term.utc_bounds()
    in_term = sa.and_(
        col(Visit.counted).is_(True),
        col(Visit.started_at) >= lo,
        col(Visit.started_at) < hi,
        col(Visit.district_code).in_(codes),
    )

    cap_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for code, placement, certified, n in session.exec(
        select(Student.district_code, Student.placement, Student.certified, func.count())
        .where(
            col(Student.active).is_(True),
            Student.stage == Stage.COMPULSORY,
            col(Student.district_code).in_(codes),
        )
        .group_by(Student.district_code, Student.placement, Student.certified)
    ):
        counted, home = rules.counts_toward_cap(
            Stage.COMPULSORY, placement, certified, True, policy[code]
        )
        cap_counts[code][0] += n * counted
        cap_counts[code][1] += n * home

    regular = (
        select(Student.school_id, func.count().label("n"))
        .where(col(Student.active).is_(True), Student.placement == Placement.REGULAR_CLASS)
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
    school_visits = dict(
        session.exec(
            select(Visit.school_id, func.count())
            .where(in_term, Visit.kind == VisitKind.ITINERANT)
            .group_by(Visit.school_id)
        ).all()
    )

    served: dict[str, list[str]] = defaultdict(list)
    for student_id, code in session.exec(
        select(Student.id, Student.district_code).where(
            col(Student.active).is_(True),
            Student.placement == Placement.HOME_DELIVERY,
            col(Student.district_code).in_(codes),
        )
    ):
        served[code].append(student_id)
    sessions: dict[tuple[str, int], int] = {}
    by_minimum: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_minimum[policy[code].service_min_minutes].append(code)
    for minutes, group in by_minimum.items():
        for student_id, month, n in session.exec(
            select(Visit.student_id, Visit.local_month, func.count())
            .where(
                in_term,
                Visit.kind == VisitKind.HOME_TEACHING,
                col(Visit.district_code).in_(group),
                Visit.duration_s >= minutes * 60,
            )
            .group_by(Visit.student_id, Visit.local_month)
        ):
            sessions[(student_id, month)] = n

    totals = {
        code: (n, int(f or 0))
        for code, n, f in session.exec(
            select(Visit.district_code, func.count(), func.sum(sa.cast(Visit.flagged, sa.Integer)))
            .where(in_term)
            .group_by(Visit.district_code)
        )
    }
    claimed: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
    approved: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
    approved_fen = sa.case(
        (Visit.review_status == ReviewStatus.APPROVED, Visit.subsidy_fen), else_=0
    )
    for code, teacher, month, fen, ok_fen in session.exec(
        select(
            Visit.district_code,
            Visit.teacher,
            Visit.local_month,
            func.sum(Visit.subsidy_fen),
            func.sum(approved_fen),
        )
        .where(in_term)
        .group_by(Visit.district_code, Visit.teacher, Visit.local_month)
    ):
        claimed[code][(teacher, month)] = int(fen or 0)
        approved[code][(teacher, month)] = int(ok_fen or 0)

    instructors = _instructors(session, codes, school_visits, policy)
    reports = []
    for code in codes:
        p = policy[code]
        total, count = cap_counts[code]
        hd = rules.home_delivery(count, total, p.home_delivery_cap)
        cov = rules.itinerant_coverage(in_scope[code], school_visits, p.itinerant_visits_per_term)
        svc = rules.service_standard(served[code], sessions, term, p, as_of)
        n_visits, n_flagged = totals.get(code, (0, 0))
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
                    "claimed_fen": rules.capped_subsidy(claimed[code], p.monthly_cap_fen),
                    "approved_fen": rules.capped_subsidy(approved[code], p.monthly_cap_fen),
                },
            }
        )
    return reports


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
        row["covered"] += int(school_visits.get(school_id, 0) >= need)
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
