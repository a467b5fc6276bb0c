"""The phone's questions to the judge (``shared.judge``) about its own visits.

Nothing here decides: each function finds what the judge needs in the store (the visit's
record, the pulled policy versions and calendar, the registered home or school) and asks.

Flags: once a visit has synced the phone shows the server's (they also see the visits of other
teachers, for the pairwise flags); before that, the judge's own flags for the visit alone.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mobile.core.models import LocalVisit, VisitState
from mobile.core.store import Store
from shared import judge
from shared.domain import VisitKind
from shared.evidence import own_flags
from shared.messages import t
from shared.policy import PolicyVersion
from shared.travel import LatLon


def registered_place(kind: str, subject: dict[str, Any] | None) -> LatLon | None:
    """The child's registered home (home teaching) or the school's place, as pulled."""
    keys = ("home_lat", "home_lon") if kind == VisitKind.HOME_TEACHING else ("lat", "lon")
    lat, lon = ((subject or {}).get(k) for k in keys)
    return (lat, lon) if lat is not None and lon is not None else None


def subject_of(store: Store, kind: str, subject_id: str | None) -> dict[str, Any] | None:
    if not subject_id:
        return None
    return (
        store.student(subject_id) if kind == VisitKind.HOME_TEACHING else store.school(subject_id)
    )


def record_policy(store: Store, record: dict[str, Any], subject: dict[str, Any] | None) -> Any:
    """The policy the server will judge ``record`` by: its district's, on its day."""
    user = store.user()
    district = (subject or {}).get("district_code") or (user.district_code if user else None)
    return judge.policy_on(store.policies(), district, datetime.fromisoformat(record["started_at"]))


def record_flags(
    store: Store, record: dict[str, Any], received_at: datetime, teacher: str = ""
) -> list[str]:
    """The judge's own flags of a saved record (no pairwise ones: those need others' visits)."""
    kind = record["kind"]
    subject = subject_of(store, kind, record.get("student_id") or record.get("school_id"))
    facts = judge.record_facts(record, id=str(record.get("id", "")), teacher=teacher)
    policy = record_policy(store, record, subject)
    return sorted(own_flags(facts, registered_place(kind, subject), policy, received_at))


def shown_flags(store: Store, visit: LocalVisit, now: datetime) -> list[str]:
    """The flags to show for ``visit``: the server's once synced, else the judge's own."""
    if visit.state == VisitState.SYNCED or visit.record is None:
        return list(visit.flags)
    return record_flags(store, visit.record, now)


def flag_labels(store: Store, visit: LocalVisit, now: datetime) -> list[str]:
    """``shown_flags`` in Chinese (e.g. 无照片), for the history list."""
    return [t(f"flag.{code}") for code in shown_flags(store, visit, now)]


def minutes(visit: LocalVisit) -> int | None:
    """The duration the phone shows for a saved visit (None without a record)."""
    rec = visit.record or {}
    try:
        start = datetime.fromisoformat(rec["started_at"])
        end = datetime.fromisoformat(rec["ended_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return judge.duration_minutes(start, end)


def service_session(
    visit: LocalVisit, versions: Sequence[PolicyVersion], district_code: str | None
) -> bool:
    """Whether a saved visit is a session toward the service standard, under the policy of its
    day in ``district_code`` (its child's)."""
    rec = visit.record
    if rec is None or "started_at" not in rec or "ended_at" not in rec:
        return False
    start, end = datetime.fromisoformat(rec["started_at"]), datetime.fromisoformat(rec["ended_at"])
    policy = judge.policy_on(versions, district_code, start)
    return judge.counts_for_service(rec["kind"], start, end, policy)
