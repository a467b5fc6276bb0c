"""The overview of every visible district, and one district's full report."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, func, select

from server.console import lookup
from server.console.web import ConsoleRoute, ViewerDep, render
from server.deps import SessionDep
from server.models import Visit
from server.services import compliance
from shared.domain import ReviewStatus

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, viewer: ViewerDep, session: SessionDep, term: str = "") -> Response:
    chosen = lookup.term_or_400(term, session, viewer)
    reports = compliance.all_reports(session, scope=viewer.scope, term_id=chosen.id)["districts"]
    lo, hi = chosen.utc_bounds()
    pending = dict(
        session.exec(
            select(Visit.district_code, func.count())
            .where(
                viewer.scope.visits(),
                col(Visit.counted).is_(True),
                Visit.review_status == ReviewStatus.PENDING,
                col(Visit.started_at) >= lo,
                col(Visit.started_at) < hi,
            )
            .group_by(Visit.district_code)
        ).all()
    )
    return render(
        request,
        "dashboard.html",
        viewer,
        term=chosen,
        terms=lookup.term_choices(chosen.id),
        reports=reports,
        pending=pending,
        month=lookup.default_month(chosen),
    )


@router.get("/districts/{code}", response_class=HTMLResponse)
def district(
    request: Request, code: str, viewer: ViewerDep, session: SessionDep, term: str = ""
) -> Response:
    chosen = lookup.term_or_400(term, session, viewer)
    lookup.visible_district(session, viewer, code)
    report = compliance.district_report(
        session, scope=viewer.scope, district_code=code, term_id=chosen.id
    )
    it, svc = report["itinerant"], report["service"]
    schools = lookup.school_names(session, it["uncovered_school_ids"])
    # Minimum necessary: the page names the children, nothing more about them.
    children = lookup.student_names(session, svc["underserved_student_ids"])
    instructors = lookup.user_names(session, (r["username"] for r in it["instructors"]))
    return render(
        request,
        "district.html",
        viewer,
        term=chosen,
        terms=lookup.term_choices(chosen.id),
        r=report,
        uncovered=[(sid, schools.get(sid, sid)) for sid in it["uncovered_school_ids"]],
        underserved=[children.get(sid, sid) for sid in svc["underserved_student_ids"]],
        instructors=[
            {**row, "name": instructors.get(row["username"], row["username"])}
            for row in it["instructors"]
        ],
        month=lookup.default_month(chosen),
    )
