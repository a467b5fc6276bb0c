"""The devices signed in as the district's staff; revoking one (a lost or shared phone), and
signing a user out everywhere (every console session and device token)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, Viewer, ViewerDep, flash, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import DeviceToken, User
from server.services import audit, console_sessions, users
from shared.domain import Role
from shared.messages import t

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

LIMIT = 500


@router.get("/devices", response_class=HTMLResponse)
def devices(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    query = (
        select(DeviceToken, User)
        .join(User)
        .order_by(col(DeviceToken.revoked_at).is_not(None), col(DeviceToken.id).desc())
        .limit(LIMIT)
    )
    if not viewer.is_admin:
        query = query.where(User.district_code == viewer.scope.district_code)
    return render(request, "devices.html", viewer, rows=list(session.exec(query)), limit=LIMIT)


def _visible_device(session: Session, viewer: Viewer, token_id: str) -> tuple[DeviceToken, User]:
    wanted = int(token_id) if token_id.isdigit() and len(token_id) < 10 else None
    device = session.get(DeviceToken, wanted) if wanted else None
    owner = session.get(User, device.user_id) if device else None
    if device is None or owner is None or not viewer.scope.sees_district(owner.district_code or ""):
        raise ApiError(404, "not_found")
    return device, owner


@router.get("/devices/{token_id}/revoke", response_class=HTMLResponse)
def confirm_revoke(
    request: Request, token_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    """The confirmation before revoking: a page of its own, so it works without JavaScript."""
    device, owner = _visible_device(session, viewer, token_id)
    return render(request, "device_revoke.html", viewer, d=device, u=owner)


@router.post("/devices/{token_id}/revoke")
def revoke(
    request: Request, token_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    device, owner = _visible_device(session, viewer, token_id)
    users.revoke_token(session, token_id=device.id or 0, actor=viewer.user.username)
    session.commit()
    flash(request, t("console.device_revoked", device=device.device_name, username=owner.username))
    return RedirectResponse("/devices", status_code=303)


@router.post("/devices/sign-out-everywhere")
def sign_out_everywhere(
    request: Request, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    """End every console session and device token of ``username``: an admin for anyone, a
    coordinator for the staff of their district (not for an admin)."""
    username = str(form.get("username") or "").strip()[:64]
    target = session.exec(select(User).where(User.username == username)).first()
    if target is None or not _may_sign_out(viewer, target):
        raise ApiError(404, "console.no_such_user")
    sessions, devices_ended = console_sessions.end_all(session, user=target)
    audit.record_account(
        session,
        target,
        "sign_out_everywhere",
        actor=viewer.user.username,
        detail=f"console_sessions={sessions} devices={devices_ended}",
    )
    session.commit()
    flash(
        request,
        t(
            "console.signed_out_everywhere",
            username=target.username,
            sessions=sessions,
            devices=devices_ended,
        ),
    )
    return RedirectResponse("/devices", status_code=303)


def _may_sign_out(viewer: Viewer, target: User) -> bool:
    if viewer.is_admin:
        return True
    return target.role != Role.ADMIN and viewer.scope.sees_district(target.district_code or "")
