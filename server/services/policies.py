"""Policy versions from the database."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from server.db import next_seq
from server.models import Policy, RejudgeJob
from server.services import audit, rejudge, rejudge_jobs
from server.services.policy_versions import load_versions, versions_as_of
from shared.policy import PolicyParams, policy_in_force

# load_versions and versions_as_of live in policy_versions (rejudge_jobs reads them too, and
# this module writes jobs); their old home still names them.
__all__ = ["load_versions", "versions_as_of", "params_for", "set_policy", "save_policy"]


def params_for(session: Session, district_code: str, on: date) -> PolicyParams:
    return policy_in_force(load_versions(session), district_code, on)


@dataclass(frozen=True)
class SavedPolicy:
    """A saved version and the job judging the stored visits by it (services/rejudge_jobs.py;
    None: nothing was written, the same parameters were already stored for that date)."""

    row: Policy
    job: RejudgeJob | None


def set_policy(
    session: Session, *, district_code: str | None, effective_from: date, params: PolicyParams
) -> Policy:
    """Create or replace the version taking effect on ``effective_from``, and judge the visits
    stored from that day on by it, all in the caller's transaction (its job runs to the end
    there): for the demo loader and tests, whose data is small. Saving from the API or the
    console goes through ``save_policy``, whose job runs a page per transaction."""
    owner = rejudge_jobs.new_owner()
    saved = _write(
        session,
        district_code=district_code,
        effective_from=effective_from,
        params=params,
        requested_by="system",
        owner=owner,
    )
    if saved.job is not None and saved.job.id is not None:
        rejudge_jobs.run_in_transaction(session, saved.job.id, owner=owner, page_size=rejudge.PAGE)
    return saved.row


def _write(
    session: Session,
    *,
    district_code: str | None,
    effective_from: date,
    params: PolicyParams,
    requested_by: str,
    owner: str | None,
) -> SavedPolicy:
    row = session.exec(
        select(Policy).where(
            col(Policy.district_code).is_(None)
            if district_code is None
            else Policy.district_code == district_code,
            Policy.effective_from == effective_from,
        )
    ).first()
    data = params.model_dump(mode="json")
    if row is not None and row.params == data:
        return SavedPolicy(row, None)
    if row is None:
        row = Policy(
            district_code=district_code,
            effective_from=effective_from,
            params=data,
            seq=next_seq(session),
        )
    else:
        row.params, row.version, row.seq = data, row.version + 1, next_seq(session)
    session.add(row)
    session.flush()  # the row's id for the job; the version in force for pushes at commit
    job = rejudge_jobs.queue_job(session, policy=row, requested_by=requested_by, owner=owner)
    return SavedPolicy(row, job)


def save_policy(
    session: Session,
    *,
    actor: str,
    district_code: str | None,
    effective_from: date,
    sent: PolicyParams,
    owner: str | None = None,
) -> SavedPolicy:
    """Save the version taking effect on ``effective_from``: the fields ``sent`` carries (those
    in its ``model_fields_set``, an explicit null included) over the version in force in that
    district on that date (the one replaced, when there is one), so that a field left out is
    inherited, never silently reset to a default. Adds an audit row (``policy_change``) naming
    each field changed, from what to what, whenever a version is written. Returns the row
    and the job that judges the stored visits by it (services/rejudge_jobs.py), written in the
    same transaction: already running under ``owner`` when one is given (the caller then runs
    its first pages after the commit), else queued for the background worker. Does not commit.
    """
    base = policy_in_force(load_versions(session), district_code, effective_from)
    merged = PolicyParams.model_validate(
        base.model_dump() | sent.model_dump(include=set(sent.model_fields_set))
    )
    before = _stored(session, district_code, effective_from)
    saved = _write(
        session,
        district_code=district_code,
        effective_from=effective_from,
        params=merged,
        requested_by=actor,
        owner=owner,
    )
    row = saved.row
    if before is None or row.version != before:
        audit.record(
            session,
            actor=actor,
            action="policy_change",
            entity="policy",
            entity_id=f"{district_code or 'default'}|{effective_from.isoformat()}",
            district_code=district_code,
            detail=_changes(base, merged),
        )
    return saved


def _stored(session: Session, district_code: str | None, effective_from: date) -> int | None:
    """The version number of the row stored for that district and date, if any."""
    return session.exec(
        select(Policy.version).where(
            col(Policy.district_code).is_(None)
            if district_code is None
            else Policy.district_code == district_code,
            Policy.effective_from == effective_from,
        )
    ).first()


def _changes(old: PolicyParams, new: PolicyParams) -> str:
    """``field: old→new`` for each field that differs, joined by '; '."""
    a: dict[str, Any] = old.model_dump(mode="json")
    b: dict[str, Any] = new.model_dump(mode="json")
    return "; ".join(f"{k}: {a[k]}→{b[k]}" for k in b if a[k] != b[k])
