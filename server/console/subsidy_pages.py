"""The travel subsidies of a month, per teacher: the figures, the caps applied, and the
coordinator's approval of each teacher's month (server/services/subsidy_approvals.py).

A refused approval (figures changed since the page was read, approved meanwhile by someone
else, no reason to take one back) shows the page again with the message and the error's status.
"""

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from server.console import lookup, subsidies
from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, Viewer, ViewerDep, _local, flash, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import District
from server.services import subsidy_approvals
from server.services.subsidy_approvals import MonthState, label
from shared.domain import Role
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def subsidy_approval_cells(states: list[MonthState]) -> dict[tuple[str, str], list[Any]]:
    """The XLSX's approval cells (subsidies.APPROVAL_COLUMNS) of each approved teacher."""
    cells: dict[tuple[str, str], list[Any]] = {}
    for s in states:
        if s.approval is None:
            continue
        state = t("subsidy.state.stale" if s.stale else "subsidy.state.approved")
        cells[(s.row["district_code"], s.row["teacher"])] = [
            state,
            subsidies.yuan(s.approval.amount_fen),
            s.approval.approved_by,
            _local(s.approval.approved_at),
        ]
    return cells


def _district(session: Session, viewer: Viewer, code: str) -> str | None:
    if code.strip():
        return lookup.visible_district(session, viewer, code.strip()[:6]).code
    return None if viewer.is_admin else viewer.scope.district_code


def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    month: str,
    district: str,
    *,
    status: int = 200,
    error: str = "",
) -> Response:
    yyyymm, last_day = subsidies.month_or_400(month, lookup.today())
    code = _district(session, viewer, district)
    states = subsidy_approvals.month_states(session, viewer.scope, code, yyyymm, last_day)
    history = subsidy_approvals.history(session, viewer.scope, code, yyyymm)
    names = lookup.user_names(
        session,
        [
            *(s.row["teacher"] for s in states),
            *(a.approved_by for a in history),
            *(a.revoked_by for a in history),
        ],
    )
    rows = [s.row for s in states]
    totals = {
        k: sum(r[k] for r in rows)
        for k in ("visits", "approved_visits", "distance_m", "claimed_fen", "payable_fen")
    } | {"approved_fen": sum(r["approved_fen"] for r in rows)}
    approved_total = sum(s.approval.amount_fen for s in states if s.approval)
    return render(
        request,
        "subsidies.html",
        viewer,
        status=status,
        error=error,
        month=label(yyyymm),
        district=code or "",
        districts=dict(session.exec(select(District.code, District.name)).all()),
        district_choices=lookup.districts_for(session, viewer) if viewer.is_admin else [],
        states=states,
        history=history,
        names=names,
        totals=totals,
        approved_total=approved_total,
        approved_count=sum(1 for s in states if s.approval),
        may_approve=viewer.scope.role == Role.COORDINATOR,
    )


@router.get("/subsidies", response_class=HTMLResponse)
def subsidy_page(
    request: Request, viewer: ViewerDep, session: SessionDep, month: str = "", district: str = ""
) -> Response:
    return _page(request, viewer, session, month[:16], district)


def _back(month: str, district: str) -> RedirectResponse:
    query = f"?month={month}" + (f"&district={district}" if district else "")
    return RedirectResponse(f"/subsidies{query}", status_code=303)


def _field(form: Any, name: str, limit: int = 64) -> str:
    return str(form.get(name) or "").strip()[:limit]


@router.post("/subsidies/approve")
def approve(request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep) -> Response:
    month, district = _field(form, "month", 16), _field(form, "district", 6)
    teacher = _field(form, "teacher")
    seen = _field(form, "seen_amount_fen", 12)
    yyyymm, last_day = subsidies.month_or_400(month, lookup.today())
    try:
        approval = subsidy_approvals.approve(
            session,
            scope=viewer.scope,
            district_code=district,
            teacher=teacher,
            month=yyyymm,
            last_day=last_day,
            seen_amount_fen=int(seen) if seen.isdigit() else None,
        )
    except ApiError as exc:
        session.rollback()  # release the change-counter lock the service took
        if exc.status in (403, 404):
            raise
        return _page(
            request, viewer, session, month, district, status=exc.status, error=exc.message
        )
    session.commit()
    name = lookup.user_names(session, [teacher]).get(teacher, teacher)
    flash(
        request,
        t(
            "subsidy.approved_ok",
            teacher=name,
            month=label(yyyymm),
            amount=f"{Decimal(approval.amount_fen) / 100:,.2f}",
        ),
    )
    return _back(label(yyyymm), "" if not viewer.is_admin else district)


@router.post("/subsidies/{approval_id}/take-back")
def take_back(
    request: Request, approval_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    month, district = _field(form, "month", 16), _field(form, "district", 6)
    wanted = int(approval_id) if approval_id.isdigit() and len(approval_id) < 10 else 0
    try:
        approval = subsidy_approvals.take_back(
            session,
            scope=viewer.scope,
            approval_id=wanted,
            reason=str(form.get("reason") or "")[:2000],
        )
    except ApiError as exc:
        session.rollback()
        if exc.status in (403, 404):
            raise
        return _page(
            request, viewer, session, month, district, status=exc.status, error=exc.message
        )
    session.commit()
    flash(
        request,
        t("subsidy.taken_back_ok", teacher=approval.teacher, month=label(approval.month)),
    )
    return _back(label(approval.month), "")
