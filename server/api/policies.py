"""Policy parameters per district with an effective date: everyone in scope reads, admins set."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import AfterValidator, BaseModel
from sqlmodel import col, select

from server import errors
from server.deps import ScopeDep, SessionDep
from server.errors import ApiError
from server.models import District, Policy
from server.services.policies import save_policy
from shared.domain import Role
from shared.policy import PolicyParams
from shared.terms import date_in_window

router = APIRouter(tags=["policy"])
DEFAULT_SCOPE = "default"  # path value for the version that applies to every district


class PolicyOut(BaseModel):
    district_code: str | None
    effective_from: date
    params: PolicyParams
    version: int


def _out(row: Policy) -> PolicyOut:
    return PolicyOut(
        district_code=row.district_code,
        effective_from=row.effective_from,
        params=PolicyParams.model_validate(row.params),
        version=row.version,
    )


@router.get("/policies", response_model=list[PolicyOut], responses=errors.responses(401))
def list_policies(scope: ScopeDep, session: SessionDep) -> list[PolicyOut]:
    rows = session.exec(
        select(Policy)
        .where(scope.policies())
        .order_by(col(Policy.district_code), col(Policy.effective_from))
    )
    return [_out(row) for row in rows]


@router.put(
    "/policies/{district}/{effective_from}",
    response_model=PolicyOut,
    responses=errors.responses(400, 401, 403, 404, 422),
)
def put_policy(
    district: Annotated[str, Path(json_schema_extra={"pattern": r"^(default|[0-9]{6})$"})],
    effective_from: Annotated[
        date,
        AfterValidator(date_in_window),
        Path(description="生效日期 YYYY-MM-DD，2000-01-01 至 2099-12-31"),
    ],
    params: PolicyParams,
    scope: ScopeDep,
    session: SessionDep,
) -> PolicyOut:
    """Set the parameters taking effect on ``effective_from`` in ``district`` (or ``default``).

    The body may name only the fields that change: a field left out keeps its value in the
    version in force in that district on that date (the version being replaced, if that date
    already has one; else the latest earlier one; else the defaults of domain.md shown in the
    schema). A field sent as ``null`` (``monthly_cap_fen``) is set to null. Every save that
    writes a version is in the audit log (``policy_change``, with each field's old and new
    value).

    Only the city (admin) sets policy (domain.md). The version judges the visits from its date
    on, those already stored included: their evidence flags are recomputed (services/rejudge.py)
    and phones pull the change; the subsidies already claimed stay as they were.
    """
    if scope.role != Role.ADMIN:
        raise ApiError(403, "forbidden")
    code = None if district == DEFAULT_SCOPE else district
    if code is not None and session.get(District, code) is None:
        raise ApiError(404, "not_found")
    row = save_policy(
        session,
        actor=scope.username,
        district_code=code,
        effective_from=effective_from,
        sent=params,
    ).row
    session.commit()
    session.refresh(row)
    return _out(row)
