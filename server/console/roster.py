"""The roster desk: upload a CSV or XLSX, read each row's outcome, confirm; students on and off
the roll. The import is the CLI's and API's (services.roster); the file waits for the
confirmation on the server (services.roster_uploads), never in the browser."""

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, or_, select
from starlette.datastructures import UploadFile

from server.console import lookup
from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, Viewer, ViewerDep, flash, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import District, RosterUpload, Student
from server.services import roster_uploads, students
from server.services.roster_cells import LABELS
from server.services.roster_parse import RosterFileError
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

STUDENTS_SHOWN = 50


@router.get("/roster", response_class=HTMLResponse)
def roster_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    q: str = "",
    inactive: str = "",
    district: str = "",
) -> Response:
    code = _upload_district(session, viewer, district)
    return _roster(request, viewer, session, q=q[:64], inactive=inactive == "1", district=code)


def _upload_district(session: SessionDep, viewer: Viewer, asked: str) -> str | None:
    """The one district an upload (and the list of students) is for. An admin picks one, or
    none for the whole city (each row's own district); a coordinator's is always their own,
    and naming another answers 404 as if it did not exist."""
    asked = asked.strip()[:16]
    if not viewer.is_admin:
        if asked and asked != viewer.scope.district_code:
            raise ApiError(404, "not_found")
        return viewer.scope.district_code
    return lookup.visible_district(session, viewer, asked).code if asked else None


def _roster(
    request: Request,
    viewer: Viewer,
    session: SessionDep,
    *,
    q: str = "",
    inactive: bool = False,
    district: str | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    query = select(Student).where(viewer.scope.students())
    if district is not None:
        query = query.where(col(Student.district_code) == district)
    if q.strip():
        like = f"%{q.strip()}%"
        query = query.where(or_(col(Student.id).like(like), col(Student.name).like(like)))
    if inactive:
        query = query.where(col(Student.active).is_(False))
    found = list(session.exec(query.order_by(col(Student.id)).limit(STUDENTS_SHOWN + 1)))
    districts = lookup.districts_for(session, viewer)
    return render(
        request,
        "roster.html",
        viewer,
        status=status,
        error=error,
        q=q,
        inactive=inactive,
        students=found[:STUDENTS_SHOWN],
        # Names beside the codes: a coordinator knows schools by name, not by id.
        school_names=lookup.school_names(session, (s.school_id for s in found)),
        district_names={d.code: d.name for d in districts},
        more=len(found) > STUDENTS_SHOWN,
        shown=STUDENTS_SHOWN,
        labels=LABELS,
        district=district if viewer.is_admin else None,
        districts=districts if viewer.is_admin else [],
    )


@router.post("/roster/preview", response_class=HTMLResponse)
def preview(request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep) -> Response:
    """Check the uploaded file and show what importing it would do; nothing is written yet."""
    district = _upload_district(session, viewer, str(form.get("district") or ""))
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        error = t("roster_desk.no_file")
        return _roster(request, viewer, session, district=district, error=error, status=400)
    data = upload.file.read()  # the body limit has already bounded the size
    try:
        staged = roster_uploads.stage(
            session,
            user=viewer.user,
            scope=viewer.scope,
            data=data,
            filename=upload.filename,
            district=district if viewer.is_admin else None,
        )
    except RosterFileError as exc:
        session.rollback()
        return _roster(
            request, viewer, session, district=district, error=exc.message, status=exc.status
        )
    session.commit()
    return RedirectResponse(f"/roster/uploads/{staged.id}", status_code=303)


@router.get("/roster/uploads/{upload_id}", response_class=HTMLResponse)
def upload_page(
    request: Request,
    upload_id: str,
    viewer: ViewerDep,
    session: SessionDep,
    outcome: str = "",
    page: int = 1,
) -> Response:
    staged = roster_uploads.find(session, upload_id=upload_id, user=viewer.user)
    return _preview(request, viewer, session, staged, outcome=outcome, page=page)


def _preview(
    request: Request,
    viewer: Viewer,
    session: SessionDep,
    staged: RosterUpload,
    *,
    outcome: str = "",
    page: int = 1,
    error: str = "",
    status: int = 200,
) -> Response:
    outcome = outcome if outcome in roster_uploads.OUTCOMES else ""
    rows, pages = roster_uploads.page(session, staged, outcome=outcome or None, number=page)
    return render(
        request,
        "roster_preview.html",
        viewer,
        status=status,
        upload=staged,
        rows=rows,
        outcome=outcome,
        outcomes=roster_uploads.OUTCOMES,
        page=min(max(1, page), pages),
        pages=pages,
        total=sum(staged.counts.values()),
        district=session.get(District, staged.district_code) if staged.district_code else None,
        error=error,
    )


@router.post("/roster/uploads/{upload_id}/confirm", response_class=HTMLResponse)
def confirm(
    request: Request, upload_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Import as previewed, or nothing: when rows would now come out otherwise (someone changed
    the roster meanwhile), a fresh preview of the same file is shown instead."""
    staged = roster_uploads.find(session, upload_id=upload_id, user=viewer.user)
    data, filename, district = staged.data, staged.filename, staged.district_code
    try:
        report = roster_uploads.confirm(session, staged, scope=viewer.scope)
    except RosterFileError as exc:
        session.rollback()
        if exc.code != "roster_changed":
            fresh = roster_uploads.find(session, upload_id=upload_id, user=viewer.user)
            return _preview(request, viewer, session, fresh, error=exc.message, status=exc.status)
        try:
            fresh = roster_uploads.stage(
                session,
                user=viewer.user,
                scope=viewer.scope,
                data=data,
                filename=filename,
                district=district,
            )
        except RosterFileError as again:
            session.rollback()
            return _roster(request, viewer, session, error=again.message, status=again.status)
        session.commit()
        return _preview(request, viewer, session, fresh, error=exc.message, status=409)
    flash(
        request,
        t(
            "roster_desk.imported",
            filename=filename,
            kind=t(f"roster.kind.{report.kind}"),
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            removed=report.removed,
            rejected=len(report.rejected),
        ),
    )
    back = f"/roster?district={quote(district)}" if district else "/roster"
    return RedirectResponse(back, status_code=303)


@router.post("/roster/uploads/{upload_id}/cancel")
def cancel(
    request: Request, upload_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    staged = roster_uploads.find(session, upload_id=upload_id, user=viewer.user)
    roster_uploads.cancel(session, staged)
    session.commit()
    flash(request, t("roster_desk.cancelled"))
    return RedirectResponse("/roster", status_code=303)


@router.post("/roster/students/{student_id}/active")
def student_active(
    request: Request, student_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    wanted = str(form.get("active") or "")
    if wanted not in ("0", "1"):
        raise ApiError(400, "invalid_request", detail="active")
    student = students.set_active(
        session, scope=viewer.scope, student_id=student_id, active=wanted == "1"
    )
    session.commit()
    key = "roster_desk.reactivated" if student.active else "roster_desk.deactivated"
    flash(request, t(key, name=student.name, id=student.id))
    return RedirectResponse(f"/roster?q={quote(student.id)}", status_code=303)
