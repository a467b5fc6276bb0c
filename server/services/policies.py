"""Policy versions from the database."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from server.db import next_seq
from server.models import Policy
from server.services import audit
from server.services.rejudge import Rejudged, rejudge_visits
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


# ((database, highest Policy.seq), the versions then): every push judges by the policies,
# which change a few times a year; one tuple, replaced whole, so threads never see half of one.
_versions_at: tuple[tuple[str, int], list[PolicyVersion]] = (("", -1), [])


def versions_as_of(session: Session, policy_seq: int | None) -> list[PolicyVersion]:
    """``load_versions``, read again only when ``policy_seq`` (the highest ``Policy.seq``, read
    by the caller before) or the database differs from the last read: a new or replaced
    version always takes a new number from the change counter."""
    global _versions_at
    key = (str(session.get_bind().engine.url), -1 if policy_seq is None else policy_seq)
    seen, versions = _versions_at
    if seen != key or key[1] < 0:
        versions = load_versions(session)
        _versions_at = (key, versions)
    return versions


def params_for(session: Session, district_code: str, on: date) -> PolicyParams:
    return policy_in_force(load_versions(session), district_code, on)


@dataclass(frozen=True)
class SavedPolicy:
    """A saved version, and what judging the stored visits by it did (None: nothing was
    written, the same parameters were already stored for that date)."""

    row: Policy
    rejudged: Rejudged | None


def set_policy(
    session: Session, *, district_code: str | None, effective_from: date, params: PolicyParams
) -> Policy:
    """Create or replace the version taking effect on ``effective_from``, and judge the visits
    stored from that day on by it (services/rejudge.py)."""
    return _write(
        session, district_code=district_code, effective_from=effective_from, params=params
    ).row


def _write(
    session: Session, *, district_code: str | None, effective_from: date, params: PolicyParams
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
    session.flush()  # the new version must be in force for the visits judged next
    rejudged = rejudge_visits(
        session,
        versions=load_versions(session),
        district_code=district_code,
        since=effective_from,
    )
    return SavedPolicy(row, rejudged)


def save_policy(
    session: Session,
    *,
    actor: str,
    district_code: str | None,
    effective_from: date,
    sent: PolicyParams,
) -> SavedPolicy:
    """Save the version taking effect on ``effective_from``: the fields ``sent`` carries (those
    in its ``model_fields_set``, an explicit null included) over the version in force in that
    district on that date (the one replaced, when there is one), so that a field left out is
    inherited, never silently reset to a default. Adds an audit row (``policy_change``) naming
    each field changed, from what to what, whenever a version is written. Returns the row
    and what judging the stored visits by it did. Does not commit.
    """
    base = policy_in_force(load_versions(session), district_code, effective_from)
    merged = PolicyParams.model_validate(
        base.model_dump() | sent.model_dump(include=set(sent.model_fields_set))
    )
    before = _stored(session, district_code, effective_from)
    saved = _write(
        session, district_code=district_code, effective_from=effective_from, params=merged
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
