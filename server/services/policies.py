"""Policy versions from the database."""

from datetime import date

from sqlmodel import Session, col, select

from server.db import next_seq
from server.models import Policy
from server.services.rejudge import rejudge_visits
from shared.policy import PolicyParams, PolicyVersion, policy_in_force


def load_versions(session: Session) -> list[PolicyVersion]:
    return [
        PolicyVersion(
            district_code=p.district_code,
            effective_from=p.effective_from,
            params=PolicyParams.model_validate(p.params),
        )
        for p in session.exec(select(Policy))
    ]


def params_for(session: Session, district_code: str, on: date) -> PolicyParams:
    return policy_in_force(load_versions(session), district_code, on)


def set_policy(
    session: Session, *, district_code: str | None, effective_from: date, params: PolicyParams
) -> Policy:
    """Create or replace the version taking effect on ``effective_from``, and judge the visits
    stored from that day on by it (services/rejudge.py)."""
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
        return row
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
    session.flush()  # the new version must be in force for the visits judged next
    rejudge_visits(
        session,
        versions=load_versions(session),
        district_code=district_code,
        since=effective_from,
    )
    return row
