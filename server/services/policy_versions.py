"""Policy versions as stored: read whole, and cached for pushes (which judge by them)."""

from sqlmodel import Session, select

from server.models import Policy
from shared.policy import PolicyParams, PolicyVersion


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
