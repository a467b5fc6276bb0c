"""The district compliance report: SQL counts, decided by shared.compliance.

The visits of a term are read from ``visit_tally`` (counted visits summed per kind, month,
district, subject and teacher, kept by triggers: migration 0003), never visit by visit, except
for a month the term only partly covers. Everything the report needs from visits is summed
from those rows in Python. The roster counts read the covering indexes ``ix_student_cap`` and
``ix_student_placement``.

Which home-teaching sessions count toward the service standard is the judge's decision,
stored with each visit (``visit.service_session``, ``shared.judge.counts_for_service``): the
tally and the partial months only sum it. A month is settled by the policy in force on its last
day (``shared.judge.policy_for_month``: the sessions it owes, its subsidy cap); the term's
figures by the one in force on the report's last counted day (``shared.judge.policy_for_term``).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from server.models import Assignment, District, School, Student, Visit, VisitTally
from server.scope import Scope
from server.services.errors import DomainError
from server.services.policies import load_versions
from server.settings import get_settings
from shared import compliance as rules
from shared import judge
from shared.domain import Placement, ReviewStatus, Stage, VisitKind
from shared.policy import PolicyParams, PolicyVersion
from shared.protocol import ComplianceReport, ComplianceReports
from shared.terms import SHANGHAI, Term, TermError, parse_term


def term_or_refusal(term_id: str) -> Term:
    try:
        return parse_term(term_id, get_settings().calendar())
    except TermError:
        raise DomainError("invalid_term") from None


def all_reports(
    session: Session, *, scope: Scope, term_id: str, today: date | None = None
) -> ComplianceReports:
    term = term_or_refusal(term_id)
    codes = [
        d.code
        for d in session.exec(
            select(District).where(scope.districts()).order_by(col(District.code))
        )
    ]
    return ComplianceReports(term=term.id, districts=_reports(session, codes, term, today))


def district_report(
    session: Session, *, scope: Scope, district_code: str, term_id: str, today: date | None = None
) -> ComplianceReport:
    term = term_or_refusal(term_id)
    if not scope.sees_district(district_code) or session.get(District, district_code) is None:
        raise DomainError("not_found")
    return _reports(session, [district_code], term, today)[0]


def pending_reviews(
    session: Session, *, scope: Scope, term_id: str, district_codes: list[str]
) -> dict[str, int]:
    """District -> counted visits of the term still awaiting review, for ``district_codes``
    within the caller's scope.

    Written for the partial index ``ix_visit_pending``: the status and ``counted`` as literals,
    not parameters (SQLite plans before it sees parameters), and the districts named even for
    an admin (with only the time range, SQLite prefers ``ix_visit_log`` and reads the table:
    8 s on the province of bench/compliance.py, against 0.1 s)."""
    if not district_codes:
        return {}
    lo, hi = term_or_refusal(term_id).utc_bounds()
    pending: sa.ColumnElement[str] = sa.literal_column(f"'{ReviewStatus.PENDING.value}'")
    return {
        code: n
        for code, n in session.exec(
            select(Visit.district_code, func.count())
            .where(
                scope.visits(),
                col(Visit.district_code).in_(district_codes),
                col(Visit.review_status) == pending,
                col(Visit.counted) == sa.true(),
                col(Visit.started_at) >= lo,
                col(Visit.started_at) < hi,
            )
            .group_by(Visit.district_code)
        )
    }


def _reports(
    session: Session, codes: list[str], term: Term, today: date | None
) -> list[ComplianceReport]:
    if not codes:
        return []
    found = gather(session, codes, term, today)
    return [report_of(found, code) for code in codes]


@dataclass
class Gathered:
    """Everything the reports of ``codes`` are decided from (one read of the database)."""

    term: Term
    as_of: date
    policy: dict[str, PolicyParams]
    monthly: "_MonthlyPolicy"
    names: dict[str, str]
    roster: "_Roster"
    sums: "_VisitSums"
    instructors: dict[str, list[dict[str, Any]]]


def gather(session: Session, codes: list[str], term: Term, today: date | None) -> Gathered:
    today = today or _today()
    as_of = judge.report_day(term, today)
    versions = load_versions(session)
    policy = {code: judge.policy_for_term(versions, code, term, today) for code in codes}
    monthly = _MonthlyPolicy(versions)
    names = dict(
        session.exec(
            select(District.code, District.name).where(col(District.code).in_(codes))
        ).all()
    )
    roster = _roster_counts(session, codes, policy)
    sums = _visit_sums(session, codes, term, monthly)
    instructors = _instructors(session, codes, sums.school_visits, policy)
    return Gathered(term, as_of, policy, monthly, names, roster, sums, instructors)


def report_of(g: Gathered, code: str) -> ComplianceReport:
    p, sums, term = g.policy[code], g.sums, g.term
    total, count = g.roster.cap_counts.get(code, (0, 0))
    hd = rules.home_delivery(count, total, p.home_delivery_cap)
    cov = rules.itinerant_coverage(
        g.roster.in_scope[code], sums.school_visits, p.itinerant_visits_per_term
    )
    served = g.roster.served[code]
    svc = rules.service_standard(served, sums.sessions, term, p, g.as_of, g.monthly.of(code))
    # Uncapped, the sums are kept under _ALL_MONTHS, which no policy settles.
    cap = g.monthly.cap_of(code) if g.monthly.capped(code, term) else _no_cap
    n_visits, n_flagged = sums.totals.get(code, (0, 0))
    by_month = {
        str(m): rules.month_delivery(served, sums.sessions, m, owed)
        for m, owed in svc.months.items()
    }
    return ComplianceReport.model_validate(
        {
            "district_code": code,
            "district_name": g.names.get(code, ""),
            "term": term.id,
            "as_of": g.as_of.isoformat(),
            "home_delivery": hd.__dict__,
            "itinerant": {**cov.__dict__, "instructors": g.instructors.get(code, [])},
            "service": {k: v for k, v in svc.__dict__.items() if k != "months"}
            | {
                "required_by_month": {str(m): n for m, n in svc.months.items()},
                "sessions_by_month": {m: d.sessions for m, d in by_month.items()},
                "students_meeting_by_month": {m: d.students_meeting for m, d in by_month.items()},
            },
            "visits": {
                "total": n_visits,
                "flagged": n_flagged,
                "by_kind": {
                    kind: dict(
                        zip(("total", "flagged"), sums.by_kind[code].get(kind, (0, 0)), strict=True)
                    )
                    for kind in VisitKind
                },
            },
            "subsidy": {
                "claimed_fen": rules.capped_by_month(sums.claimed[code], cap),
                "approved_fen": rules.capped_by_month(sums.approved[code], cap),
            },
        }
    )


@dataclass
class _MonthlyPolicy:
    """The policy that settles each month of each district (``judge.policy_for_month``)."""

    versions: list[PolicyVersion]
    cache: dict[tuple[str, int], PolicyParams] = field(default_factory=dict)

    def get(self, code: str, month: int) -> PolicyParams:
        if (code, month) not in self.cache:
            self.cache[(code, month)] = judge.policy_for_month(self.versions, code, month)
        return self.cache[(code, month)]

    def of(self, code: str) -> Any:
        return lambda month: self.get(code, month)

    def cap_of(self, code: str) -> Any:
        return lambda month: self.get(code, month).monthly_cap_fen

    def capped(self, code: str, term: Term) -> bool:
        """Whether any month of ``term`` has a monthly cap in ``code``."""
        return any(self.get(code, m).monthly_cap_fen is not None for m in term.months())


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
    # (student, YYYYMM) -> home-teaching sessions toward the standard (the judge's, summed)
    sessions: dict[tuple[str, int], int] = field(default_factory=dict)
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)  # district -> (all, flagged)
    # district -> visit kind -> (all, flagged)
    by_kind: dict[str, dict[str, tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # district -> (teacher, YYYYMM) -> fen, for capped_subsidy. Without a monthly cap only the
    # total matters, so it is kept under the single key _ALL_MONTHS.
    claimed: dict[str, dict[tuple[str, int], int]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    approved: dict[str, dict[tuple[str, int], int]] = field(
        default_factory=lambda: defaultdict(dict)
    )


_ALL_MONTHS = ("", 0)


def _no_cap(_month: int) -> None:
    return None


def _visit_sums(
    session: Session, codes: list[str], term: Term, monthly: _MonthlyPolicy
) -> _VisitSums:
    """The term's counted visits, summed per district, child, school and teacher-month.

    Months wholly inside the term come from ``visit_tally``; a month the term only partly
    covers (a city calendar starting on 8 September) is summed from the visits themselves
    between the term's exact bounds. The database adds the rows up for each use; Python only
    files the results.
    """
    lo, hi = term.utc_bounds()
    whole: list[int] = []
    partial: list[int] = []
    for month in term.months():
        (whole if term.covers_month(month) else partial).append(month)
    parts = [_tally_rows(codes, whole)] if whole else []
    if partial:
        parts.append(_partial_month_rows(codes, partial, lo, hi))
    if not parts:
        return _VisitSums()
    rows = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()
    run = session.connection().execute
    home = rows.c.kind == VisitKind.HOME_TEACHING

    sums = _VisitSums()
    per_district_kind = run(
        sa.select(
            rows.c.district_code,
            rows.c.kind,
            func.sum(rows.c.visits),
            func.sum(rows.c.flagged),
            func.sum(rows.c.fen),
            func.sum(rows.c.approved_fen),
        ).group_by(rows.c.district_code, rows.c.kind)
    )
    for code, kind, n, flagged, fen, ok in per_district_kind:
        sums.by_kind[code][kind] = (int(n), int(flagged))
        all_n, all_flagged = sums.totals.get(code, (0, 0))
        sums.totals[code] = (all_n + int(n), all_flagged + int(flagged))
        if not monthly.capped(code, term):  # only the total matters
            claimed, approved = sums.claimed[code], sums.approved[code]
            claimed[_ALL_MONTHS] = claimed.get(_ALL_MONTHS, 0) + int(fen)
            approved[_ALL_MONTHS] = approved.get(_ALL_MONTHS, 0) + int(ok)
    # (month, district, subject): the tally's key order, so the groups stream without a sort.
    sessions = run(
        sa.select(rows.c.subject_id, rows.c.local_month, func.sum(rows.c.sessions))
        .where(home)
        .group_by(rows.c.local_month, rows.c.district_code, rows.c.subject_id)
    )
    sums.sessions = {(subject, month): int(n) for subject, month, n in sessions}
    school_visits = run(
        sa.select(rows.c.subject_id, func.sum(rows.c.visits))
        .where(rows.c.kind == VisitKind.ITINERANT)
        .group_by(rows.c.subject_id)
    )
    sums.school_visits = {school: int(n) for school, n in school_visits}
    capped = [code for code in codes if monthly.capped(code, term)]
    if capped:
        by_teacher_month = run(
            sa.select(
                rows.c.district_code,
                rows.c.teacher,
                rows.c.local_month,
                func.sum(rows.c.fen),
                func.sum(rows.c.approved_fen),
            )
            .where(rows.c.district_code.in_(capped))
            .group_by(rows.c.district_code, rows.c.teacher, rows.c.local_month)
        )
        for code, teacher, month, fen, ok in by_teacher_month:
            sums.claimed[code][(teacher, month)] = int(fen)
            sums.approved[code][(teacher, month)] = int(ok)
    return sums


_ROW_NAMES = ("kind", "district_code", "local_month", "subject_id", "teacher")
_SUM_NAMES = ("visits", "flagged", "sessions", "fen", "approved_fen")


def _tally_rows(codes: list[str], months: list[int]) -> sa.Select:
    """The tally rows of ``months`` in ``codes``."""
    t = VisitTally
    return sa.select(*(getattr(t, name) for name in _ROW_NAMES + _SUM_NAMES)).where(
        col(t.kind).in_([VisitKind.HOME_TEACHING, VisitKind.ITINERANT]),  # seek the key
        col(t.local_month).between(months[0], months[-1]),
        col(t.district_code).in_(codes),
        col(t.visits) > 0,
    )


def _partial_month_rows(
    codes: list[str], months: list[int], lo: datetime, hi: datetime
) -> sa.Select:
    """What ``_tally_rows`` gives, summed from the visits of ``months`` between ``lo`` and
    ``hi``."""
    v = Visit
    keys: list[sa.SQLColumnExpression[Any]] = [
        col(v.kind),
        col(v.district_code),
        col(v.local_month),
        func.coalesce(v.student_id, v.school_id, ""),
        col(v.teacher),
    ]
    sums: list[sa.SQLColumnExpression[Any]] = [
        func.count(),
        func.count().filter(col(v.flagged) == sa.true()),
        func.count().filter(col(v.service_session) == sa.true()),
        func.coalesce(func.sum(v.subsidy_fen), 0),
        func.coalesce(
            func.sum(v.subsidy_fen).filter(col(v.review_status) == ReviewStatus.APPROVED), 0
        ),
    ]
    labelled: list[sa.Label[Any]] = [
        expr.label(name) for expr, name in zip(keys + sums, _ROW_NAMES + _SUM_NAMES, strict=True)
    ]
    return (
        sa.select(*labelled)
        .where(
            col(v.counted) == sa.true(),
            col(v.district_code).in_(codes),
            col(v.local_month).in_(months),
            col(v.started_at) >= lo,
            col(v.started_at) < hi,
        )
        .group_by(*keys)
    )


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


__all__ = [
    "Gathered",
    "all_reports",
    "district_report",
    "gather",
    "pending_reviews",
    "report_of",
    "term_or_refusal",
]
