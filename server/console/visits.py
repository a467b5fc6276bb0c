"""The visit log: a filtered, paged list, one visit in full, and its photos.

Opening a visit or one of its photos is a read of a child's record: each writes an audit row.
"""

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, func, select

from server.console import lookup
from server.console.web import NO_STORE, ConsoleRoute, Viewer, ViewerDep, render
from server.deps import SessionDep, SettingsDep
from server.errors import ApiError
from server.models import District, School, Student, User, Visit
from server.services import audit
from server.services.photos import content_type, path_for
from server.services.policies import load_versions
from server.services.visits import facts, registered_place
from server.settings import get_settings
from shared import judge
from shared.domain import ReviewStatus, Role, VisitKind
from shared.messages import t
from shared.terms import SHANGHAI, Term
from shared.visit_time import TimeEdit

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VisitFilter:
    term: Term
    district: str
    kind: str
    teacher: str
    status: str
    flagged: bool
    page: int

    def params(self, **changes: Any) -> str:
        values = {
            "term": self.term.id,
            "district": self.district,
            "kind": self.kind,
            "teacher": self.teacher,
            "status": self.status,
            "flagged": "1" if self.flagged else "",
            "page": self.page,
        } | changes
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})


def _filter(session: Session, viewer: Viewer, query: dict[str, str]) -> VisitFilter:
    kind, status = query.get("kind", ""), query.get("status", "")
    if kind and kind not in set(VisitKind):
        raise ApiError(400, "console.invalid_filter", detail="类型")
    if status and status not in set(ReviewStatus):
        raise ApiError(400, "console.invalid_filter", detail="审核状态")
    district = query.get("district", "").strip()
    if district:
        lookup.visible_district(session, viewer, district)  # another district: 404
    page = query.get("page", "1")
    return VisitFilter(
        term=lookup.term_or_400(query.get("term", ""), session, viewer),
        district=district,
        kind=kind,
        teacher=query.get("teacher", "").strip()[:64],
        status=status,
        flagged=query.get("flagged", "") in ("1", "on", "true"),
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )


def _conditions(viewer: Viewer, f: VisitFilter) -> list[Any]:
    lo, hi = f.term.utc_bounds()
    conds: list[Any] = [
        viewer.scope.visits(),
        col(Visit.deleted).is_(False),
        col(Visit.started_at) >= lo,
        col(Visit.started_at) < hi,
    ]
    if f.district:
        conds.append(Visit.district_code == f.district)
    if f.kind:
        conds.append(Visit.kind == f.kind)
    if f.teacher:
        conds.append(Visit.teacher == f.teacher)
    if f.status:
        conds.append(Visit.review_status == f.status)
    if f.flagged:
        conds.append(col(Visit.flagged).is_(True))
    return conds


def _staff(session: Session, viewer: Viewer, district: str) -> list[User]:
    query = select(User).where(col(User.role).in_([Role.TEACHER, Role.ITINERANT]))
    code = district or (None if viewer.is_admin else viewer.scope.district_code)
    if code:
        query = query.where(User.district_code == code)
    return list(session.exec(query.order_by(User.username).limit(1000)))


def flag_rows(visit: Visit) -> list[dict[str, Any]]:
    notes = visit.flag_notes or {}
    return [
        {"code": code, "label": t(f"flag.{code}"), "note": notes.get(code)}
        for code in visit.flags or []
    ]


@router.get("/visits", response_class=HTMLResponse)
def visit_list(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    f = _filter(session, viewer, dict(request.query_params))
    conds = _conditions(viewer, f)
    total = session.exec(select(func.count()).select_from(Visit).where(*conds)).one()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(f.page, pages)
    visits = session.exec(
        select(Visit)
        .where(*conds)
        .order_by(col(Visit.started_at).desc(), col(Visit.id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    students = lookup.student_names(session, (v.student_id for v in visits))
    schools = lookup.school_names(session, (v.school_id for v in visits))
    staff = _staff(session, viewer, f.district)
    names = {u.username: u.name for u in staff} | lookup.user_names(
        session, (v.teacher for v in visits)
    )
    rows = [
        {
            "visit": v,
            "teacher": names.get(v.teacher, v.teacher),
            "subject": students.get(v.student_id or "")
            or schools.get(v.school_id or "")
            or v.student_id
            or v.school_id,
            "flags": flag_rows(v),
        }
        for v in visits
    ]
    return render(
        request,
        "visits.html",
        viewer,
        f=f,
        terms=lookup.term_choices(f.term.id),
        districts=lookup.districts_for(session, viewer) if viewer.is_admin else [],
        staff=staff,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        prev_link=f.params(page=page - 1) if page > 1 else None,
        next_link=f.params(page=page + 1) if page < pages else None,
    )


def visible_visit(session: Session, viewer: Viewer, visit_id: str) -> Visit:
    visit = session.exec(
        select(Visit).where(Visit.id == visit_id[:36], viewer.scope.visits())
    ).first()
    if visit is None:
        raise ApiError(404, "not_found")
    return visit


def detail_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    visit_id: str,
    *,
    status: int = 200,
    error: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    """The visit in full, with its review and flag forms; audited as a view. Commits."""
    visit = visible_visit(session, viewer, visit_id)
    record = visit.record or {}
    media = get_settings().media_dir
    photos = [
        {"sha": sha, "present": path_for(media, sha).is_file()}
        for sha in dict.fromkeys(record.get("photos") or [])
    ]
    seen = record.get("students_seen") or []
    students = lookup.student_names(session, [visit.student_id, *seen])
    schools = lookup.school_names(session, [visit.school_id])
    people = lookup.user_names(
        session,
        [
            visit.teacher,
            visit.reviewed_by,
            *(n.get("by") for n in (visit.flag_notes or {}).values()),
        ],
    )
    audit.record(
        session,
        actor=viewer.scope.username,
        action="view",
        entity="visit",
        entity_id=visit.id,
        district_code=visit.district_code,
        detail=f"kind={visit.kind} student={visit.student_id or ''} school={visit.school_id or ''}",
    )
    session.commit()
    return render(
        request,
        "visit.html",
        viewer,
        status=status,
        v=visit,
        rec=record,
        subject=students.get(visit.student_id or "") or schools.get(visit.school_id or ""),
        district=session.get(District, visit.district_code),
        check_in_off_m=_check_in_offset(session, visit),
        time_edits=_time_edit_lines(session, visit),
        seen=[students.get(s, s) for s in seen],
        people=people,
        flags=flag_rows(visit),
        photos=photos,
        may_review=viewer.scope.role == Role.COORDINATOR and not visit.deleted,
        error=error,
        form=form or {},
    )


def _check_in_offset(session: Session, visit: Visit) -> int | None:
    """Metres between the check-in and the registered home or school, to judge a geofence flag.

    The page shows this distance, never the registered home position itself.
    """
    subject = (
        session.get(Student, visit.student_id)
        if visit.student_id
        else session.get(School, visit.school_id or "")
    )
    place = registered_place(subject) if subject else None
    return judge.check_in_distance_m((visit.record or {}).get("check_in"), place)


def _time_edit_lines(session: Session, visit: Visit) -> list[str]:
    """What the ``time_edited`` flag is about, in words: each time typed away from the tap."""
    f = facts(visit)
    policy = judge.policy_on(load_versions(session), visit.district_code, f.started_at)
    edits = judge.time_edits(f.started_at, f.ended_at, f.check_in_at, f.check_out_at, policy)
    return [time_edit_text(edit) for edit in edits]


def time_edit_text(edit: TimeEdit) -> str:
    """签到时间被修改：设备记录 06:06，填写 04:30（提前 96 分钟）"""
    tapped, recorded = edit.tapped.astimezone(SHANGHAI), edit.recorded.astimezone(SHANGHAI)
    fmt = "%H:%M" if tapped.date() == recorded.date() else "%m-%d %H:%M"
    shift = t(f"console.time_edit.{'earlier' if edit.earlier else 'later'}", minutes=edit.minutes)
    return t(
        f"console.time_edit.{edit.which}",
        tapped=tapped.strftime(fmt),
        recorded=recorded.strftime(fmt),
        shift=shift,
    )


@router.get("/visits/{visit_id}", response_class=HTMLResponse)
def visit_detail(
    request: Request, visit_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    return detail_page(request, viewer, session, visit_id)


@router.get("/visits/{visit_id}/photos/{sha}")
def visit_photo(
    visit_id: str, sha: str, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """One photo of a visit the viewer may see; audited as a view of a child's photo."""
    visit = visible_visit(session, viewer, visit_id)
    if not _SHA256.fullmatch(sha) or sha not in ((visit.record or {}).get("photos") or []):
        raise ApiError(404, "not_found")
    try:
        data = path_for(settings.media_dir, sha).read_bytes()
    except FileNotFoundError:
        raise ApiError(404, "console.photo_missing") from None
    audit.record(
        session,
        actor=viewer.scope.username,
        action="view",
        entity="photo",
        entity_id=sha,
        district_code=visit.district_code,
        detail=f"visit={visit.id}",
    )
    session.commit()
    return Response(data, media_type=content_type(data), headers=NO_STORE)
