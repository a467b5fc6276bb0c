"""The audit log: who viewed, exported, reviewed, imported, changed or revoked what, when, and
from which device or address; filtered, paged, and exported as CSV.

A coordinator reads their district's rows, the admin every row. Reading the log is itself a
read of who looked at which child, so each page and each export writes an audit row.
"""

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, func, select

from server.console import lookup, policy_form
from server.console.subsidies import safe_text
from server.console.visit_filters import page_numbers
from server.console.web import NO_STORE, ConsoleRoute, Viewer, ViewerDep, _local, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import AuditLog, DeviceToken, Student, User, Visit, VisitPhoto
from server.services import audit
from shared.messages import t
from shared.terms import SHANGHAI

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
CSV_LIMIT = 100_000  # rows in one export; narrow the filter for more
TEXT_LIMIT = 64  # a username, a student id or a name: the columns' width
# The actions the filter offers; others (a new page's) can still be asked for by code.
ACTIONS = (
    "view", "download", "export", "sync", "review", "import", "assign", "unassign",
    "deactivate", "reactivate", "policy_change", "subsidy_approve", "subsidy_revoke",
    "create_user", "reset_password", "disable_user", "enable_user", "revoke",
    "sign_out_everywhere", "upload",
    "login", "login_failed", "login_refused", "lockout", "logout", "replaced",
    "password_change", "password_change_failed",
)  # fmt: skip
_ACTION = re.compile(r"[a-z_]{1,32}")
# ``field: old→new`` in a policy_change row (server/services/policies.py)
_PARAM = re.compile(r"\b(" + "|".join(map(re.escape, policy_form.FIELDS)) + r"): ")
CSV_COLUMNS = [
    t(f"export.col.{name}")
    for name in (
        "time", "actor", "actor_name", "action", "entity_type", "entity", "district_code",
        "device", "address", "detail",
    )
]  # fmt: skip


@dataclass(frozen=True)
class AuditFilter:
    person: str = ""
    child: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    district: str = ""
    page: int = 1

    def params(self, **changes: Any) -> str:
        f = replace(self, **changes)
        values = {
            "person": f.person,
            "child": f.child,
            "action": f.action,
            "from": f.since.isoformat() if f.since else "",
            "to": f.until.isoformat() if f.until else "",
            "district": f.district,
            "page": f.page if f.page != 1 else "",
        }
        return urlencode({k: v for k, v in values.items() if v})

    def summary(self) -> str:
        """The filter as the audit row of this read records it."""
        return self.params(page=1) or "*"


def _text(query: dict[str, str], name: str, label: str) -> str:
    value = query.get(name, "").strip()
    if len(value) > TEXT_LIMIT:
        raise ApiError(400, "audit.filter_too_long", field=label, limit=TEXT_LIMIT)
    return value


def _day(query: dict[str, str], name: str) -> date | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        if len(value) > 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "console.invalid_filter", detail=t("audit.filter.date")) from None


def parse_filter(session: Session, viewer: Viewer, query: dict[str, str]) -> AuditFilter:
    action = query.get("action", "").strip()
    if action and not _ACTION.fullmatch(action):
        raise ApiError(400, "console.invalid_filter", detail=t("console.audit.action"))
    district = query.get("district", "").strip()[:16]
    if district:
        lookup.visible_district(session, viewer, district)  # another district: 404
    page = query.get("page", "1")
    return AuditFilter(
        person=_text(query, "person", t("audit.filter.person")),
        child=_text(query, "child", t("desk.filter.student")),
        action=action,
        since=_day(query, "from"),
        until=_day(query, "to"),
        district=district,
        page=int(page) if page.isdigit() and len(page) < 7 and int(page) > 0 else 1,
    )


def _conditions(session: Session, viewer: Viewer, f: AuditFilter) -> list[Any]:
    conds: list[Any] = []
    if not viewer.is_admin:
        conds.append(AuditLog.district_code == viewer.scope.district_code)
    if f.district:
        conds.append(AuditLog.district_code == f.district)
    if f.person:
        named = select(User.username).where(User.name == f.person)
        conds.append(sa.or_(col(AuditLog.actor) == f.person, col(AuditLog.actor).in_(named)))
    if f.action:
        conds.append(AuditLog.action == f.action)
    if f.since:
        conds.append(col(AuditLog.at) >= datetime.combine(f.since, time.min, SHANGHAI))
    if f.until:
        end = datetime.combine(f.until + timedelta(days=1), time.min, SHANGHAI)
        conds.append(col(AuditLog.at) < end)
    if f.child:
        conds.append(_about_child(viewer, f.child))
    return conds


def _about_child(viewer: Viewer, text: str) -> Any:
    """Rows about a child (by id or name, among those the viewer may see): their record sent
    to a phone, their visits opened, their visits' photos viewed or downloaded."""
    children = select(Student.id).where(
        sa.or_(col(Student.id) == text, col(Student.name) == text), viewer.scope.students()
    )
    visits = select(Visit.id).where(col(Visit.student_id).in_(children))
    photos = select(VisitPhoto.sha256).where(col(VisitPhoto.visit_id).in_(visits))
    return sa.or_(
        sa.and_(col(AuditLog.entity) == "student", col(AuditLog.entity_id).in_(children)),
        sa.and_(col(AuditLog.entity) == "visit", col(AuditLog.entity_id).in_(visits)),
        sa.and_(col(AuditLog.entity) == "photo", col(AuditLog.entity_id).in_(photos)),
    )


def _devices(session: Session, rows: list[AuditLog]) -> dict[int, str]:
    ids = {r.device_id for r in rows if r.device_id is not None}
    if not ids:
        return {}
    found = session.exec(
        select(DeviceToken.id, DeviceToken.device_name).where(col(DeviceToken.id).in_(ids))
    )
    return {i: name for i, name in found.all() if i is not None}


def _record_read(session: Session, viewer: Viewer, f: AuditFilter, action: str, n: int) -> None:
    audit.record(
        session,
        actor=viewer.scope.username,
        action=action,
        entity="audit_log",
        entity_id=f.summary(),
        district_code=f.district or (None if viewer.is_admin else viewer.scope.district_code),
        detail=f"rows={n}",
    )
    session.commit()


def detail_text(row: AuditLog, children: Mapping[str, str] | None = None) -> str:
    """The row's detail as shown, in Chinese: a policy change names its parameters; elsewhere
    each ``key=`` the code writes (kind=, student=, version=, channel= ...) gets its label, the
    codes some keys take (a visit's kind, a sign-in's channel, a role) and a review's outcome
    their words, and a child (student=) its name from ``children`` beside the id. What the
    catalogue does not know is shown as stored: nothing is hidden."""
    if row.action == "policy_change":
        return _PARAM.sub(
            lambda m: t("audit.param", label=policy_form.label(m.group(1))), row.detail
        )
    named = children or {}
    text = _DETAIL_PAIR.sub(lambda m: _pair(m, named), row.detail)
    text = re.sub(r" {2,}", " ", text).strip()
    if row.action == "review":  # "approved version=2 reason=…" (services/review.py)
        outcome, _, rest = text.partition(" ")
        text = " ".join(filter(None, (_known(f"review.{outcome}", outcome), rest)))
    return text


# The child a row's detail names (a visit's view: "kind=home_teaching student=ST…").
_STUDENT_SEEN = re.compile(r"(?:(?<=\s)|^)student=(\S+)")
# A key as the code writes it, a lower-case word and "=" at the start or after a space, with
# the first word of its value.
_DETAIL_PAIR = re.compile(r"(?:(?<=\s)|^)([a-z_]+)=(\S*)")
# Keys whose value may be a code, with the catalogue prefix that words it.
_CODED = {"kind": "kind.", "role": "role.", "channel": "audit.code.", "reason": "audit.code."}


def _pair(m: re.Match[str], children: Mapping[str, str]) -> str:
    key, value = m.group(1), m.group(2)
    if not value:
        return ""  # "school=" of a home visit: nothing to say
    label = _known(f"audit.detail.{key}", f"{key}=")
    prefix = _CODED.get(key)
    if key == "student" and value in children:
        return label + f"{children[value]} {value}"
    return label + (_known(prefix + value, value) if prefix else value)


def _known(key: str, fallback: str) -> str:
    text = t(key)
    return fallback if text == key else text


def action_label(code: str) -> str:
    text = t(f"audit.action.{code}")
    return code if text == f"audit.action.{code}" else text


def entity_label(code: str) -> str:
    text = t(f"audit.entity.{code}")
    return code if text == f"audit.entity.{code}" else text


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    f = parse_filter(session, viewer, dict(request.query_params))
    conds = _conditions(session, viewer, f)
    total = session.exec(select(func.count()).select_from(AuditLog).where(*conds)).one()
    last = max(1, math.ceil(total / PAGE_SIZE))
    page = min(f.page, last)
    rows = list(
        session.exec(
            select(AuditLog)
            .where(*conds)
            .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    devices = _devices(session, rows)
    # An assignment's id is "username|student|school" (services/assignments.py): shown by name.
    assigned = [r.entity_id.split("|") for r in rows if r.entity == "assignment"]
    assigned = [a for a in assigned if len(a) == 3]
    # A month's subsidy approval is "username|YYYY-MM" (services/subsidy_approvals.py).
    paid = [p for r in rows if r.entity == "subsidy" and len(p := r.entity_id.split("|")) == 2]
    names = lookup.user_names(
        session, [*(r.actor for r in rows), *(a[0] for a in assigned), *(p[0] for p in paid)]
    )
    seen = [m.group(1) for r in rows for m in _STUDENT_SEEN.finditer(r.detail)]
    children = lookup.student_names(
        session,
        [*(r.entity_id for r in rows if r.entity == "student"), *(a[1] for a in assigned), *seen],
    )
    schools = lookup.school_names(session, (a[2] for a in assigned))
    _record_read(session, viewer, f, "view", len(rows))
    return render(
        request,
        "audit.html",
        viewer,
        f=replace(f, page=page),
        rows=rows,
        devices=devices,
        names=names,
        children=children,
        schools=schools,
        total=total,
        page=page,
        last=last,
        pages=page_numbers(page, last, around=3),
        actions=[(a, action_label(a)) for a in ACTIONS],
        action_label=action_label,
        detail_text=detail_text,
        entity_label=entity_label,
        districts=lookup.districts_for(session, viewer) if viewer.is_admin else [],
        csv_limit=CSV_LIMIT,
        text_limit=TEXT_LIMIT,
    )


@router.get("/audit/export.csv")
def audit_csv(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    f = parse_filter(session, viewer, dict(request.query_params))
    rows = list(
        session.exec(
            select(AuditLog)
            .where(*_conditions(session, viewer, f))
            .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
            .limit(CSV_LIMIT)
        )
    )
    devices = _devices(session, rows)
    names = lookup.user_names(session, (r.actor for r in rows))
    seen = [m.group(1) for r in rows for m in _STUDENT_SEEN.finditer(r.detail)]
    children = lookup.student_names(session, seen)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        device = devices.get(r.device_id, str(r.device_id)) if r.device_id is not None else ""
        writer.writerow(
            [
                safe_text(v)
                for v in (
                    _local(r.at, "%Y-%m-%d %H:%M:%S"),
                    r.actor,
                    names.get(r.actor, ""),
                    action_label(r.action),
                    entity_label(r.entity),
                    r.entity_id,
                    r.district_code or "",
                    device,
                    r.address or "",
                    detail_text(r, children),
                )
            ]
        )
    _record_read(session, viewer, f, "export", len(rows))
    # The BOM tells Excel the file is UTF-8; without it Chinese opens as mojibake.
    data = ("\ufeff" + out.getvalue()).encode("utf-8")
    stamp = datetime.now(SHANGHAI).strftime("%Y%m%d-%H%M")
    headers = NO_STORE | {"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'}
    return Response(data, media_type="text/csv; charset=utf-8", headers=headers)
