"""The re-judging of stored visits after a policy change, as the admin follows it (issue 10).

Confirming a version (policy_pages.save) lands here: the job's state, judged of total with a
bar, and the gained/lost counts per flag, final once the job is done. The page reloads itself
with ``<meta http-equiv="refresh">`` while the job runs (the console's CSP runs no inline
script, and a reload needs none). Reading a job is no write and no child's record: like the
policy pages it is not audited. The admin sees every job, a coordinator their district's and
the city-wide ones (services/rejudge_jobs.visible).
"""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from server.console import lookup, policy_form
from server.console.web import ConsoleRoute, Viewer, ViewerDep, render
from server.deps import SessionDep
from server.errors import ApiError
from server.models import RejudgeJob
from server.services import rejudge_jobs
from server.services.policy_versions import load_versions
from shared.messages import t
from shared.policy import policy_in_force

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

REFRESH_S = 2  # seconds between reloads while the job runs
JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def scope_names(session: Session, viewer: Viewer) -> dict[str, str]:
    return {d.code: d.name for d in lookup.districts_for(session, viewer)}


def scope_name(code: str | None, names: dict[str, str]) -> str:
    return (
        t("rejudge.city")
        if code is None
        else t("console.common.name_code", name=names.get(code, code), code=code)
    )


def progress(job: RejudgeJob) -> tuple[int, int]:
    """(total shown, percent judged): pushes during the job may make judged exceed the count
    taken when it was saved."""
    total = max(job.total, job.judged)
    return total, (100 * job.judged // total if total else 100)


def job_rows(session: Session, viewer: Viewer) -> list[dict[str, Any]]:
    """The recent jobs the viewer may see, as the policy page lists them."""
    names = scope_names(session, viewer)
    rows = []
    for job in rejudge_jobs.recent(session, viewer.scope):
        total, percent = progress(job)
        rows.append(
            {
                "job": job,
                "scope": scope_name(job.district_code, names),
                "total": total,
                "percent": percent,
            }
        )
    return rows


def render_job(
    request: Request,
    viewer: Viewer,
    session: Session,
    job: RejudgeJob | None,
    *,
    code: str | None,
    effective_from: str,
    version: int,
) -> Response:
    changes: list[policy_form.Change] = []
    seconds, shown_total, percent, flags = 0.0, 0, 0, []
    if job is not None:
        versions = load_versions(session)
        day = job.effective_from
        before = policy_in_force(versions, job.district_code, day - timedelta(1))
        changes = policy_form.changes(before, policy_in_force(versions, job.district_code, day))
        if job.started_at and job.finished_at:
            seconds = (job.finished_at - job.started_at).total_seconds()
        shown_total, percent = progress(job)
        gained, lost = job.gained or {}, job.lost or {}
        flags = [(f, gained.get(f, 0), lost.get(f, 0)) for f in sorted({*gained, *lost})]
    running = job is not None and job.status in (
        rejudge_jobs.JobStatus.QUEUED,
        rejudge_jobs.JobStatus.RUNNING,
    )
    return render(
        request,
        "policy_job.html",
        viewer,
        job=job,
        scope_name=scope_name(code, scope_names(session, viewer)),
        effective_from=effective_from,
        version=version,
        changes=changes,
        flags=flags,
        seconds=seconds,
        shown_total=shown_total,
        percent=percent,
        refresh=REFRESH_S if running else 0,
        district_filter=code or "",
    )


@router.get("/policies/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: JobId, viewer: ViewerDep, session: SessionDep) -> Response:
    job = rejudge_jobs.visible(session, viewer.scope, job_id)
    if job is None:
        raise ApiError(404, "not_found")
    return render_job(
        request,
        viewer,
        session,
        job,
        code=job.district_code,
        effective_from=job.effective_from.isoformat(),
        version=job.policy_version,
    )
