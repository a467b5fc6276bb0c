"""The devices signed in as the district's staff, and revoking one (a lost or shared phone)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from server.console.csrf import CsrfForm
from server.console.web import ConsoleRoute, ViewerDep, flash, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import DeviceToken, User
from server.services import users
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


@router.post("/devices/{token_id}/revoke")
def revoke(
    request: Request, token_id: str, form: CsrfForm, viewer: ViewerDep, session: SessionDep
) -> Response:
    wanted = int(token_id) if token_id.isdigit() and len(token_id) < 10 else None
    device = session.get(DeviceToken, wanted) if wanted else None
    owner = session.get(User, device.user_id) if device else None
    if device is None or owner is None or not viewer.scope.sees_district(owner.district_code or ""):
        raise ApiError(404, "not_found")
    users.revoke_token(session, token_id=device.id or 0)
    session.commit()
    flash(request, t("console.device_revoked", device=device.device_name, username=owner.username))
    return RedirectResponse("/devices", status_code=303)
