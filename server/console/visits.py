"""The visit log: a filtered, paged list, one visit in full, and its photos.

Opening a visit or one of its photos is a read of a child's record: each writes an audit row.
"""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, func, select

from server.console import lookup, visit_filters
from server.console.web import NO_STORE, ConsoleRoute, Viewer, ViewerDep, render
from server.deps import SessionDep, SettingsDep
from server.errors import ApiError
from server.models import District, School, Student, User, Visit
from server.services import audit, flag_reasons, review_codes, visit_history
from server.services.photos import content_type, path_for
from server.services.policies import load_versions
from server.services.visits import facts, registered_place
from server.settings import get_settings
from shared import judge
from shared.domain import Role
from shared.messages import t
from shared.policy import PolicyParams
from shared.terms import SHANGHAI
from shared.visit_time import TimeEdit

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

_SHA256 = re.compile(r"[0-9a-f]{64}")


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


def may_review(viewer: Viewer) -> bool:
    return viewer.scope.role == Role.COORDINATOR


def list_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    query: dict[str, str],
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    """The log for ``query``; refused filters answer 400 with their messages and no rows."""
    f = visit_filters.parse(session, viewer, query)
    total, page, pages, visits = 0, 1, 1, []
    if not f.errors:
        conds = visit_filters.conditions(viewer, f)
        total = session.exec(select(func.count()).select_from(Visit).where(*conds)).one()
        pages = visit_filters.page_count(total)
        page = min(f.page, pages)
        visits = list(
            session.exec(
                select(Visit)
                .where(*conds)
                .order_by(col(Visit.started_at).desc(), col(Visit.id))
                .offset((page - 1) * visit_filters.PAGE_SIZE)
                .limit(visit_filters.PAGE_SIZE)
            ).all()
        )
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
    f = visit_filters.with_page(f, page)
    return render(
        request,
        "visits.html",
        viewer,
        status=400 if f.errors else status,
        f=f,
        districts=lookup.districts_for(session, viewer) if viewer.is_admin else [],
        staff=staff,
        flag_choices=visit_filters.FLAG_CHOICES,
        reason_codes=review_codes.CODES,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        page_numbers=visit_filters.page_numbers(page, pages),
        may_review=may_review(viewer),
        **extra,
    )


@router.get("/visits", response_class=HTMLResponse)
def visit_list(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    return list_page(request, viewer, session, dict(request.query_params))


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
    """The visit in full: its positions, each flag explained, photos, change history, and its
    review and flag forms; audited as a view. Commits."""
    visit = visible_visit(session, viewer, visit_id)
    record = visit.record or {}
    media = get_settings().media_dir
    photos = [
        {"sha": sha, "present": path_for(media, sha).is_file()}
        for sha in dict.fromkeys(record.get("photos") or [])
    ]
    subject: Student | School | None = (
        session.get(Student, visit.student_id)
        if visit.student_id
        else session.get(School, visit.school_id or "")
    )
    explained = flag_reasons.explain(session, viewer.scope, visit, subject)
    partners = [p for e in explained for p in e.partners]
    seen = record.get("students_seen") or []
    students = lookup.student_names(
        session, [visit.student_id, *seen, *(p.student_id for p in partners)]
    )
    schools = lookup.school_names(session, [visit.school_id, *(p.school_id for p in partners)])
    history = visit_history.entries(session, visit, students | schools)
    people = lookup.user_names(
        session,
        [
            visit.teacher,
            visit.reviewed_by,
            *(n.get("by") for n in (visit.flag_notes or {}).values()),
            *(e.actor for e in history.entries),
            *(p.teacher for p in partners),
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
    place = registered_place(subject) if subject else None
    return render(
        request,
        "visit.html",
        viewer,
        status=status,
        v=visit,
        rec=record,
        subject=students.get(visit.student_id or "") or schools.get(visit.school_id or ""),
        district=session.get(District, visit.district_code),
        # The page shows these distances, never the registered home position itself.
        offsets={key: _offset(record.get(key), place) for key in ("check_in", "check_out")},
        place_label=t("desk.place.home" if isinstance(subject, Student) else "desk.place.school"),
        time_edits=_time_edit_lines(session, visit),
        seen=[students.get(s, s) for s in seen],
        names=students | schools,
        people=people,
        flags=explained,
        history=history,
        photos=photos,
        reason_codes=review_codes.CODES,
        may_review=may_review(viewer) and not visit.deleted,
        error=error,
        form=form or {},
    )


def _offset(position: dict[str, Any] | None, place: tuple[float, float] | None) -> int | None:
    """Metres between a check-in or check-out and the registered home or school."""
    return judge.check_in_distance_m(position, place)


def _time_edit_lines(session: Session, visit: Visit) -> list[str]:
    """Each time typed away from its tap, in words: what the phone marks 已修改, and what the
    ``time_edited`` flag is about when beyond the policy's tolerance."""
    f = facts(visit)
    policy = judge.policy_on(load_versions(session), visit.district_code, f.started_at)
    edits = judge.time_corrections(f.started_at, f.ended_at, f.check_in_at, f.check_out_at)
    return [time_edit_text(edit, policy) for edit in edits]


def time_edit_text(edit: TimeEdit, policy: PolicyParams) -> str:
    """签到时间被修改：设备记录 06:06，填写 04:30（提前 96 分钟）, and for a correction within
    the tolerance, that it is not flagged."""
    tapped, recorded = edit.tapped.astimezone(SHANGHAI), edit.recorded.astimezone(SHANGHAI)
    fmt = "%H:%M" if tapped.date() == recorded.date() else "%m-%d %H:%M"
    shift = t(f"console.time_edit.{'earlier' if edit.earlier else 'later'}", minutes=edit.minutes)
    line = t(
        f"console.time_edit.{edit.which}",
        tapped=tapped.strftime(fmt),
        recorded=recorded.strftime(fmt),
        shift=shift,
    )
    if judge.beyond_tolerance(edit, policy):
        return line
    return line + t("console.time_edit.within", tolerance=policy.time_edit_tolerance_minutes)


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
