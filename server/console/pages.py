"""The overview of every visible district with its charts, and one district's full page."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from server.console import charts, district_view, lookup
from server.console.web import ConsoleRoute, ViewerDep, render
from server.deps import SessionDep
from server.services import compliance, district_detail

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, viewer: ViewerDep, session: SessionDep, term: str = "") -> Response:
    chosen = lookup.term_or_400(term, session, viewer)
    reports = compliance.all_reports(session, scope=viewer.scope, term_id=chosen.id).districts
    pending = compliance.pending_reviews(
        session,
        scope=viewer.scope,
        term_id=chosen.id,
        district_codes=[r.district_code for r in reports],
    )
    instructors = lookup.user_names(
        session, (row.username for r in reports for row in r.itinerant.instructors)
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
        charts=charts.dashboard(reports, instructors, admin=viewer.is_admin) if reports else [],
    )


@router.get("/districts/{code}", response_class=HTMLResponse)
def district(
    request: Request, code: str, viewer: ViewerDep, session: SessionDep, term: str = ""
) -> Response:
    chosen = lookup.term_or_400(term, session, viewer)
    detail = district_detail.district_detail(
        session, scope=viewer.scope, district_code=code, term_id=chosen.id
    )
    return render(
        request,
        "district.html",
        viewer,
        term=chosen,
        terms=lookup.term_choices(chosen.id),
        r=detail.report,
        page=district_view.build(session, detail),
        month=lookup.default_month(chosen),
    )
