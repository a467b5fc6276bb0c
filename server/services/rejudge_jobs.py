"""Re-judging stored visits after a policy change, as a job run a page per transaction.

Saving a version writes a ``rejudge_job`` row in the same transaction (services/policies.py),
so the version is in force for pushes at once and the job exists whatever happens next. The job
is then run a page at a time: each page takes the change lock first (``lock_changes``, as a push
and a review do), reads the next visits after the job's cursor, judges them by the versions in
force now, writes those whose verdict changed with new ``seq`` numbers (phones pull them), and
commits that with the job's progress and cursor. So the write lock is held for one page only, a
push that lands between pages is read back and judged like any other visit (never overwritten
by a judgement of its older self), and a server killed anywhere resumes at the cursor.

Who runs a page holds the job's lease: ``owner`` set by one conditional UPDATE (``claim``) on
a queued job or a running one whose heartbeat is older than the lease, and every page's progress
is written only ``WHERE owner = me``. A runner that lost its lease (it stalled past the lease and
another took over) finds its page's UPDATE matching nothing and rolls the page back; so two
runners, in one process or several (PostgreSQL), never judge one job at once.

``run`` is the one driver: the saving request calls it with a small time budget (a district's
change usually ends inside it), the background worker (server/rejudge_worker.py) with none.
Callers of the page functions commit; ``run`` commits each page itself.
"""

import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.db import lock_changes
from server.models import Policy, RejudgeJob, utcnow
from server.scope import Scope
from server.services.policy_versions import load_versions
from server.services.rejudge import judge_rows, read_page, visits_to_judge
from shared.domain import Role

log = logging.getLogger("songjiao.rejudge")

MAX_ATTEMPTS = 3  # a page that fails this often fails the job (shown on the console)
ERROR_LIMIT = 1000  # the column's width


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Page(StrEnum):
    """What running one page of a job came to."""

    MORE = "more"  # judged and committed; more visits may follow
    DONE = "done"  # the last page: the job is done
    LOST = "lost"  # this runner does not hold the job (any more): nothing was written


def new_owner() -> str:
    """A lease holder's name: unique per runner, readable in the table (host, process)."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def queue_job(
    session: Session, *, policy: Policy, requested_by: str, owner: str | None = None
) -> RejudgeJob:
    """A job judging again the visits ``policy`` governs from its date on; already running
    under ``owner`` when one is given (the saving request runs its first pages, and no worker
    may take it between the commit and the first page), else queued. Does not commit."""
    now = utcnow()
    job = RejudgeJob(
        policy_id=policy.id or 0,
        policy_version=policy.version,
        district_code=policy.district_code,
        effective_from=policy.effective_from,
        requested_by=requested_by[:64],
        status=JobStatus.RUNNING if owner else JobStatus.QUEUED,
        total=visits_to_judge(
            session, district_code=policy.district_code, since=policy.effective_from
        ),
        owner=owner,
        started_at=now if owner else None,
        heartbeat_at=now if owner else None,
    )
    session.add(job)
    session.flush()
    return job


def _stale(lease_seconds: float, now: datetime) -> datetime:
    return now - timedelta(seconds=lease_seconds)


def claimable(
    session: Session, *, lease_seconds: float, now: datetime | None = None, limit: int = 5
) -> list[int]:
    """Ids of jobs a runner may claim, oldest first: queued ones, and running ones whose
    holder stopped renewing its lease (a killed process). Only candidates: ``claim`` decides."""
    stale = _stale(lease_seconds, now or utcnow())
    ids = session.exec(
        select(RejudgeJob.id)
        .where(
            sa.or_(
                col(RejudgeJob.status) == JobStatus.QUEUED,
                sa.and_(
                    col(RejudgeJob.status) == JobStatus.RUNNING,
                    col(RejudgeJob.heartbeat_at) < stale,
                ),
            )
        )
        .order_by(col(RejudgeJob.id))
        .limit(limit)
    ).all()
    return [job_id for job_id in ids if job_id is not None]


def claim(
    session: Session, job_id: int, *, owner: str, lease_seconds: float, now: datetime | None = None
) -> bool:
    """Take the lease of ``job_id`` for ``owner`` if it is queued or its lease ran out; one
    UPDATE whose WHERE decides, so of two runners claiming at once exactly one wins (the
    other's UPDATE finds the row changed and matches nothing). Commits."""
    now = now or utcnow()
    result = session.execute(
        sa.update(RejudgeJob)
        .where(
            col(RejudgeJob.id) == job_id,
            sa.or_(
                col(RejudgeJob.status) == JobStatus.QUEUED,
                sa.and_(
                    col(RejudgeJob.status) == JobStatus.RUNNING,
                    col(RejudgeJob.heartbeat_at) < _stale(lease_seconds, now),
                ),
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            owner=owner,
            heartbeat_at=now,
            started_at=sa.func.coalesce(col(RejudgeJob.started_at), now),
        )
    )
    session.commit()
    return _one(result)


def _one(result: object) -> bool:
    return getattr(result, "rowcount", 0) == 1


def _held(owner: str) -> list[sa.ColumnElement[bool]]:
    return [col(RejudgeJob.owner) == owner, col(RejudgeJob.status) == JobStatus.RUNNING]


def run_page(session: Session, job_id: int, *, owner: str, page_size: int) -> Page:
    """Judge the next ``page_size`` visits of ``job_id`` and record the progress, if ``owner``
    holds the job. The caller commits; on LOST it must roll back (the page's visits may have
    been written before the progress UPDATE found the lease gone)."""
    lock_changes(session)  # first: the page read below sees every push committed before it
    job = session.exec(
        select(RejudgeJob)
        .where(col(RejudgeJob.id) == job_id, *_held(owner))
        .execution_options(populate_existing=True)
    ).first()
    if job is None:
        return Page.LOST
    rows = read_page(
        session,
        district_code=job.district_code,
        since=job.effective_from,
        after=job.cursor,
        limit=page_size,
    )
    page = judge_rows(session, load_versions(session), rows)
    done = len(rows) < page_size
    now = utcnow()
    values: dict[str, object] = {
        "judged": job.judged + page.judged,
        "changed": job.changed + page.changed,
        "gained": dict(Counter(job.gained or {}) + page.gained),
        "lost": dict(Counter(job.lost or {}) + page.lost),
        "cursor": rows[-1]["id"] if rows else job.cursor,
        "heartbeat_at": now,
    }
    if done:
        values |= {"status": JobStatus.DONE, "finished_at": now, "owner": None}
    result = session.execute(
        sa.update(RejudgeJob).where(col(RejudgeJob.id) == job_id, *_held(owner)).values(**values)
    )
    if not _one(result):  # the lease went to another runner while this page was judged
        return Page.LOST
    return Page.DONE if done else Page.MORE


def release(session: Session, job_id: int, *, owner: str) -> None:
    """Give the job back to the queue (a runner out of time, or stopping): the next runner,
    here or in another process, takes it at once rather than after the lease. Commits."""
    session.execute(
        sa.update(RejudgeJob)
        .where(col(RejudgeJob.id) == job_id, *_held(owner))
        .values(status=JobStatus.QUEUED, owner=None)
    )
    session.commit()


def _failed_page(session: Session, job_id: int, owner: str, error: BaseException) -> None:
    """Note a page's failure: back to the queue to be tried again, or failed for good after
    ``MAX_ATTEMPTS``. Commits."""
    session.rollback()
    job = session.get(RejudgeJob, job_id, populate_existing=True)
    if job is None or job.owner != owner:
        return
    attempts = job.attempts + 1
    given_up = attempts >= MAX_ATTEMPTS
    session.execute(
        sa.update(RejudgeJob)
        .where(col(RejudgeJob.id) == job_id, *_held(owner))
        .values(
            attempts=attempts,
            error=f"{type(error).__name__}: {error}"[:ERROR_LIMIT],
            status=JobStatus.FAILED if given_up else JobStatus.QUEUED,
            finished_at=utcnow() if given_up else None,
            owner=None,
        )
    )
    session.commit()


def run(
    session: Session,
    job_id: int,
    *,
    owner: str,
    page_size: int,
    seconds: float | None = None,
    max_pages: int | None = None,
    pause: float = 0.0,
    stop: Callable[[], bool] = lambda: False,
) -> Page:
    """Run pages of ``job_id``, each committed, while ``owner`` holds it: until it is done,
    ``seconds`` have passed, ``max_pages`` ran, or ``stop()`` says so; a job left unfinished is
    released to the queue. ``pause`` seconds between pages let waiting writers (pushes) in.
    Returns the last page's outcome (MORE: released unfinished). Bounded: every page moves the
    cursor past the visits it read, so a job ends after (visits in range) / ``page_size`` + 1
    pages, more only by the visits pushed meanwhile."""
    deadline = None if seconds is None else time.monotonic() + seconds
    pages = 0
    while True:
        if (deadline is not None and time.monotonic() >= deadline) or stop():
            break
        if max_pages is not None and pages >= max_pages:
            break
        try:
            outcome = run_page(session, job_id, owner=owner, page_size=page_size)
            if outcome == Page.LOST:
                session.rollback()
                return outcome
            session.commit()
        except Exception as exc:  # any failure: the job must neither stick nor stop the worker
            log.exception("re-judging job %s: a page failed", job_id)
            _failed_page(session, job_id, owner, exc)
            return Page.LOST
        pages += 1
        if outcome != Page.MORE:
            return outcome
        if pause:
            time.sleep(pause)
    release(session, job_id, owner=owner)
    return Page.MORE


def run_in_transaction(session: Session, job_id: int, *, owner: str, page_size: int) -> None:
    """Every page of ``job_id`` in the caller's transaction, nothing committed: for callers
    whose own transaction must hold the version and its effects together (the demo loader, a
    test's setup) and whose data is small."""
    for _ in range(1_000_000):  # bounded: each page moves the cursor (see ``run``)
        outcome = run_page(session, job_id, owner=owner, page_size=page_size)
        if outcome == Page.LOST:
            raise RuntimeError(f"re-judging job {job_id} is not held by {owner}")
        if outcome == Page.DONE:
            return


def visible(session: Session, scope: Scope, job_id: int) -> RejudgeJob | None:
    """The job if the caller may see it: the admin every job, a coordinator those of their
    district and the city-wide ones (the versions they read); nobody else any."""
    job = session.get(RejudgeJob, job_id, populate_existing=True)
    if job is None or scope.role not in (Role.ADMIN, Role.COORDINATOR):
        return None
    if scope.role == Role.ADMIN or job.district_code in (None, scope.district_code):
        return job
    return None


def recent(session: Session, scope: Scope, limit: int = 20) -> list[RejudgeJob]:
    """The newest jobs the caller may see, newest first."""
    query = select(RejudgeJob).order_by(col(RejudgeJob.id).desc()).limit(limit)
    if scope.role != Role.ADMIN:
        query = query.where(
            sa.or_(
                col(RejudgeJob.district_code).is_(None),
                col(RejudgeJob.district_code) == scope.district_code,
            )
        )
    return list(session.exec(query).all())
