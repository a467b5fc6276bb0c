"""Policy parameters per district with an effective date: everyone in scope reads, admins set."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import AfterValidator, BaseModel
from sqlmodel import col, select

from server import errors
from server.deps import ScopeDep, SessionDep, SettingsDep
from server.errors import ApiError
from server.models import District, Policy, RejudgeJob
from server.rejudge_worker import run_saved
from server.services import rejudge_jobs
from server.services.policies import save_policy
from server.services.rejudge_jobs import JobStatus
from shared.domain import Role
from shared.messages import t
from shared.policy import PolicyParams
from shared.terms import date_in_window

router = APIRouter(tags=["policy"])
DEFAULT_SCOPE = "default"  # path value for the version that applies to every district


class PolicyOut(BaseModel):
    district_code: str | None
    effective_from: date
    params: PolicyParams
    version: int


class RejudgeJobOut(BaseModel):
    """The re-judging of stored visits a saved version started, and how far it has come."""

    id: int
    status: JobStatus
    district_code: str | None
    effective_from: date
    policy_version: int
    requested_by: str
    total: int  # live visits in range when the version was saved
    judged: int
    changed: int  # visits whose flags or service-standard count changed
    gained: dict[str, int]  # per flag code, visits that gained it
    lost: dict[str, int]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str


class PolicySaved(PolicyOut):
    """The version as stored, and its re-judging job (null: the same parameters were already
    stored for that date, nothing was written or judged)."""

    rejudge_job: RejudgeJobOut | None


def job_out(job: RejudgeJob) -> RejudgeJobOut:
    return RejudgeJobOut.model_validate(
        job.model_dump() | {"gained": job.gained or {}, "lost": job.lost or {}}
    )


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
    response_model=PolicySaved,
    responses=errors.responses(400, 401, 403, 404, 422),
)
def put_policy(
    district: Annotated[str, Path(json_schema_extra={"pattern": r"^(default|[0-9]{6})$"})],
    effective_from: Annotated[
        date,
        AfterValidator(date_in_window),
        Path(description=t("api.doc.effective_from")),
    ],
    params: PolicyParams,
    scope: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> PolicySaved:
    """Set the parameters taking effect on ``effective_from`` in ``district`` (or ``default``).

    The body may name only the fields that change: a field left out keeps its value in the
    version in force in that district on that date (the version being replaced, if that date
    already has one; else the latest earlier one; else the defaults of domain.md shown in the
    schema). A field sent as ``null`` (``monthly_cap_fen``) is set to null. Every save that
    writes a version is in the audit log (``policy_change``, with each field's old and new
    value).

    Only the city (admin) sets policy (domain.md). The version judges the visits from its date
    on, those already stored included: their evidence flags are recomputed (services/rejudge.py)
    and phones pull the change; the subsidies already claimed stay as they were. The version and
    its re-judging job are saved together; the request then judges for up to
    ``SONGJIAO_REJUDGE_INLINE_SECONDS`` (a district's change is usually done when it answers)
    and leaves the rest to the server's background worker: ``rejudge_job`` says how far it got,
    ``GET /policies/rejudge/jobs/{id}`` follows it to the end.
    """
    if scope.role != Role.ADMIN:
        raise ApiError(403, "forbidden")
    code = None if district == DEFAULT_SCOPE else district
    if code is not None and session.get(District, code) is None:
        raise ApiError(404, "not_found")
    owner = rejudge_jobs.new_owner()
    saved = save_policy(
        session,
        actor=scope.username,
        district_code=code,
        effective_from=effective_from,
        sent=params,
        owner=owner,
    )
    session.commit()
    job = saved.job
    if job is not None:
        job = run_saved(
            request.app.state.rejudge,
            session,
            job,
            owner=owner,
            seconds=settings.rejudge_inline_seconds,
        )
    session.refresh(saved.row)
    out = _out(saved.row)
    return PolicySaved(**out.model_dump(), rejudge_job=job_out(job) if job else None)


@router.get(
    "/policies/rejudge/jobs/{job_id}",
    response_model=RejudgeJobOut,
    responses=errors.responses(401, 404),
)
def get_rejudge_job(
    job_id: Annotated[int, Path(ge=1, le=2**31 - 1)], scope: ScopeDep, session: SessionDep
) -> RejudgeJobOut:
    """How far the re-judging started by a saved version has come: ``judged`` of ``total``
    while ``queued`` or ``running``, and the counts per flag when ``done``. The admin sees
    every job, a coordinator those of their district and the city-wide ones; anyone else, and
    any other job, 404."""
    job = rejudge_jobs.visible(session, scope, job_id)
    if job is None:
        raise ApiError(404, "not_found")
    return job_out(job)
