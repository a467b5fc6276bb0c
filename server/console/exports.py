"""Exports for the city's term report: the visit log (CSV) and the travel subsidy (XLSX).

Minimum necessary: a child appears by id and name only (no guardian, phone or address). Every
export is audited. Text that a spreadsheet would run as a formula is neutralised.
"""

import csv
import io
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session, col, select

from server.console import lookup, subsidies
from server.console.subsidies import safe_text, yuan
from server.console.subsidy_pages import subsidy_approval_cells
from server.console.web import NO_STORE, ConsoleRoute, Viewer, ViewerDep
from server.deps import SessionDep
from server.models import District, Visit
from server.services import audit, subsidy_approvals
from shared.judge import duration_minutes
from shared.messages import t
from shared.terms import SHANGHAI

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

VISIT_COLUMNS = [
    t(f"export.col.{name}")
    for name in (
        "visit_id", "kind", "district_code", "district", "teacher", "teacher_name",
        "student_id", "student_name", "school_id", "school_name", "started_at", "ended_at",
        "minutes", "flags", "flag_notes", "km", "subsidy", "review_status", "review_reason",
    )
]  # fmt: skip


def _district_filter(session: Session, viewer: Viewer, code: str) -> str | None:
    """The district asked for (404 if not visible); empty: the coordinator's own, or all."""
    if code:
        return lookup.visible_district(session, viewer, code.strip()).code
    return None if viewer.is_admin else viewer.scope.district_code


def _attachment(data: bytes, filename: str, media_type: str) -> Response:
    headers = NO_STORE | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=media_type, headers=headers)


@router.get("/exports/visits.csv")
def visits_csv(
    viewer: ViewerDep, session: SessionDep, term: str = "", district: str = ""
) -> Response:
    chosen = lookup.term_or_400(term, session, viewer)
    code = _district_filter(session, viewer, district)
    lo, hi = chosen.utc_bounds()
    conds: list[Any] = [
        viewer.scope.visits(),
        col(Visit.counted).is_(True),
        col(Visit.started_at) >= lo,
        col(Visit.started_at) < hi,
    ]
    if code:
        conds.append(Visit.district_code == code)
    visits = session.exec(
        select(Visit).where(*conds).order_by(col(Visit.started_at), col(Visit.id))
    ).all()
    students = lookup.student_names(session, (v.student_id for v in visits))
    schools = lookup.school_names(session, (v.school_id for v in visits))
    teachers = lookup.user_names(session, (v.teacher for v in visits))
    districts = dict(session.exec(select(District.code, District.name)).all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(VISIT_COLUMNS)
    for v in visits:
        notes = v.flag_notes or {}
        writer.writerow(
            [
                safe_text(value)
                for value in (
                    v.id,
                    t(f"kind.{v.kind}"),
                    v.district_code,
                    districts.get(v.district_code, ""),
                    v.teacher,
                    teachers.get(v.teacher, ""),
                    v.student_id or "",
                    students.get(v.student_id or "", ""),
                    v.school_id or "",
                    schools.get(v.school_id or "", ""),
                    _local(v.started_at),
                    _local(v.ended_at),
                    duration_minutes(v.started_at, v.ended_at),
                    t("list.sep").join(t(f"flag.{c}") for c in v.flags or []),
                    t("list.clause_sep").join(
                        t(
                            "console.visit.flag_resolution",
                            flag=t(f"flag.{c}"),
                            reason=n.get("reason", ""),
                        )
                        for c, n in notes.items()
                    ),
                    f"{v.distance_m / 1000:.1f}",
                    f"{yuan(v.subsidy_fen):.2f}",
                    t(f"review.{v.review_status}"),
                    v.review_reason,
                )
            ]
        )
    audit.record(
        session,
        actor=viewer.scope.username,
        action="export",
        entity="visits_csv",
        entity_id=f"{code or '*'}:{chosen.id}",
        district_code=code,
        detail=f"rows={len(visits)}",
    )
    session.commit()
    # The BOM tells Excel the file is UTF-8; without it Chinese opens as mojibake.
    data = ("\ufeff" + out.getvalue()).encode("utf-8")
    name = f"visits-{code or 'all'}-{chosen.id}.csv"
    return _attachment(data, name, "text/csv; charset=utf-8")


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@router.get("/exports/subsidies.xlsx")
def subsidies_xlsx(
    viewer: ViewerDep, session: SessionDep, month: str = "", district: str = ""
) -> Response:
    yyyymm, last_day = subsidies.month_or_400(month, lookup.today())
    code = _district_filter(session, viewer, district)
    states = subsidy_approvals.month_states(session, viewer.scope, code, yyyymm, last_day)
    rows = [s.row for s in states]
    label = f"{yyyymm // 100}-{yyyymm % 100:02d}"
    data = subsidies.workbook(
        session,
        rows,
        label=label,
        code=code,
        actor=viewer.scope.username,
        approvals=subsidy_approval_cells(states),
    )
    audit.record(
        session,
        actor=viewer.scope.username,
        action="export",
        entity="subsidies_xlsx",
        entity_id=f"{code or '*'}:{label}",
        district_code=code,
        detail=f"rows={len(rows)}",
    )
    session.commit()
    name = f"subsidies-{code or 'all'}-{label}.xlsx"
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _attachment(data, name, xlsx)
