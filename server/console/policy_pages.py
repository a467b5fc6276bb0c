"""Policy: the parameters in force in each district and their history; an admin adds a
version (choose district and date, edit, see old → new, confirm) and sees the re-judging of
the stored visits it caused, with its counts.

Saving goes through server/services/policies.py (save_policy), the API's own path: the same
merge, audit row and re-judging job. The request runs the job's first pages for a moment
(``SONGJIAO_REJUDGE_INLINE_SECONDS``) and lands on the job's progress page
(server/console/rejudge_pages.py), finished already for a district's change; a city-wide one
goes on in the background worker, a page per transaction, while phones keep syncing.
Coordinators read; only the admin writes (domain.md: the city sets policy).
"""

import hashlib
import json
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from server.console import lookup, policy_form
from server.console.csrf import CsrfForm
from server.console.rejudge_pages import job_rows, render_job, scope_name, scope_names
from server.console.web import ConsoleRoute, Viewer, ViewerDep, render
from server.deps import SessionDep, SettingsDep
from server.errors import ApiError
from server.models import AuditLog, Policy
from server.rejudge_worker import run_saved
from server.services import rejudge_jobs
from server.services.errors import DomainError
from server.services.policies import load_versions, save_policy
from server.services.rejudge import visits_to_judge
from shared.messages import t
from shared.policy import PolicyParams, policy_in_force

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

DEFAULT = "default"  # the city-wide version, as in the API's path
# Above this many visits to judge the preview says the re-judging will go on in the background
# for minutes: bench/rejudge.py measured about 2,400 visits a second on SQLite when every one
# changes (the worst case; 990,090 visits city-wide in 410 s, pages of 250).
SLOW_ABOVE = 20_000


def _require_admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise ApiError(403, "policy.admin_only")


def _scope_code(session: Session, viewer: Viewer, text: str) -> str | None:
    """None for the city-wide version, else a visible district's code; 404 otherwise."""
    text = text.strip()[:16]
    if text == DEFAULT:
        return None
    return lookup.visible_district(session, viewer, text).code


def _fingerprint(params: PolicyParams) -> str:
    text = json.dumps(params.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _scope_label(session: Session, viewer: Viewer, code: str | None) -> str:
    return scope_name(code, scope_names(session, viewer))


@router.get("/policies", response_class=HTMLResponse)
def policies(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    versions = load_versions(session)
    districts = lookup.districts_for(session, viewer)
    names = {d.code: d.name for d in districts}
    today = lookup.today()
    columns: list[tuple[str | None, str]] = [(None, t("rejudge.city"))] + [
        (d.code, t("console.common.name_code", name=d.name, code=d.code)) for d in districts
    ]
    in_force = {code: policy_in_force(versions, code, today).model_dump() for code, _ in columns}
    rows = session.exec(
        select(Policy)
        .where(viewer.scope.policies())
        .order_by(col(Policy.district_code), col(Policy.effective_from).desc())
    ).all()
    authors = _authors(session, rows)
    history = []
    for row in rows:
        before = policy_in_force(versions, row.district_code, row.effective_from - timedelta(1))
        now = policy_in_force(versions, row.district_code, row.effective_from)
        key = f"{row.district_code or DEFAULT}|{row.effective_from.isoformat()}"
        history.append(
            {
                "row": row,
                "scope": scope_name(row.district_code, names),
                "changes": policy_form.changes(before, now),
                "author": authors.get(key),
                "future": row.effective_from > today,
            }
        )
    return render(
        request,
        "policies.html",
        viewer,
        today=today,
        fields=policy_form.FIELDS,
        label=policy_form.label,
        show=policy_form.show,
        columns=columns,
        in_force=in_force,
        history=history,
        districts=districts,
        jobs=job_rows(session, viewer),
    )


def _authors(session: Session, rows: Any) -> dict[str, AuditLog]:
    """The latest policy_change audit row of each version: who saved it, when."""
    keys = {f"{r.district_code or DEFAULT}|{r.effective_from.isoformat()}" for r in rows}
    found: dict[str, AuditLog] = {}
    if not keys:
        return found
    for entry in session.exec(
        select(AuditLog)
        .where(AuditLog.action == "policy_change", col(AuditLog.entity_id).in_(keys))
        .order_by(col(AuditLog.id))
    ):
        found[entry.entity_id] = entry
    return found


def _edit_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    code: str | None,
    day: date,
    values: dict[str, str] | None = None,
    *,
    status: int = 200,
    error: str = "",
) -> Response:
    base = policy_in_force(load_versions(session), code, day)
    current = base.model_dump()
    return render(
        request,
        "policy_edit.html",
        viewer,
        status=status,
        error=error,
        scope_value=code or DEFAULT,
        scope_name=_scope_label(session, viewer, code),
        effective_from=day.isoformat(),
        fields=policy_form.FIELDS,
        label=policy_form.label,
        kind=policy_form.kind,
        values=values or {k: policy_form.form_value(k, current[k]) for k in policy_form.FIELDS},
        base_show={k: policy_form.show(k, current[k]) for k in policy_form.FIELDS},
    )


@router.get("/policies/new", response_class=HTMLResponse)
def new_version(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    district: str = DEFAULT,
    effective_from: str = "",
) -> Response:
    _require_admin(viewer)
    code = _scope_code(session, viewer, district)
    day = policy_form.parse_date(effective_from) if effective_from else lookup.today()
    return _edit_page(request, viewer, session, code, day)


def _posted(session: Session, viewer: Viewer, form: Any) -> tuple[str | None, date]:
    code = _scope_code(session, viewer, str(form.get("district") or ""))
    return code, policy_form.parse_date(str(form.get("effective_from") or ""))


def _values(form: Any) -> dict[str, str]:
    return {k: str(form.get(k) or "")[: policy_form.VALUE_LIMIT] for k in policy_form.FIELDS}


@router.post("/policies/preview", response_class=HTMLResponse)
def preview(request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep) -> Response:
    """What the version would change, old → new per parameter, and how many stored visits it
    would judge again; nothing is written."""
    _require_admin(viewer)
    code, day = _posted(session, viewer, form)
    try:
        params = policy_form.parse(form)
    except DomainError as exc:
        return _edit_page(
            request, viewer, session, code, day, _values(form), status=400, error=exc.message
        )
    base = policy_in_force(load_versions(session), code, day)
    found = policy_form.changes(base, params)
    if not found:
        return _edit_page(
            request,
            viewer,
            session,
            code,
            day,
            _values(form),
            status=400,
            error=t("policy.no_changes"),
        )
    return render(
        request,
        "policy_preview.html",
        viewer,
        scope_value=code or DEFAULT,
        scope_name=_scope_label(session, viewer, code),
        effective_from=day.isoformat(),
        changes=found,
        hidden={k: policy_form.form_value(k, v) for k, v in params.model_dump().items()},
        base_fingerprint=_fingerprint(base),
        to_judge=visits_to_judge(session, district_code=code, since=day),
        slow_above=SLOW_ABOVE,
    )


@router.post("/policies/save", response_class=HTMLResponse)
def save(
    request: Request,
    form: CsrfForm,
    viewer: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Save the version previewed, unless the version it changes was changed meanwhile (409:
    preview again); run the re-judging for a moment, then show its progress page."""
    _require_admin(viewer)
    code, day = _posted(session, viewer, form)
    params = policy_form.parse(form)
    base = policy_in_force(load_versions(session), code, day)
    if str(form.get("base_fingerprint") or "") != _fingerprint(base):
        return _edit_page(
            request,
            viewer,
            session,
            code,
            day,
            _values(form),
            status=409,
            error=t("policy.base_changed"),
        )
    owner = rejudge_jobs.new_owner()
    saved = save_policy(
        session,
        actor=viewer.scope.username,
        district_code=code,
        effective_from=day,
        sent=params,
        owner=owner,
    )
    session.commit()
    if saved.job is None:  # the same parameters were stored for that date meanwhile
        return render_job(
            request,
            viewer,
            session,
            None,
            code=code,
            effective_from=day.isoformat(),
            version=saved.row.version,
        )
    job = run_saved(
        request.app.state.rejudge,
        session,
        saved.job,
        owner=owner,
        seconds=settings.rejudge_inline_seconds,
    )
    return RedirectResponse(f"/policies/jobs/{job.id}", status_code=303)
