"""Visits: what the server adds to a pushed record, and how a stored visit is shown."""

from collections.abc import Callable, Mapping
from typing import Any

from server.models import School, Student, Visit
from shared.evidence import VisitFacts
from shared.judge import record_facts
from shared.travel import LatLon


def visit_out(visit: Visit) -> dict[str, Any]:
    """The visit as the API shows it: the pushed record plus the server's fields."""
    return {
        **visit.record,
        "id": visit.id,
        "teacher": visit.teacher,
        "district_code": visit.district_code,
        "version": visit.version,
        "received_at": visit.received_at.isoformat(),
        "flags": list(visit.flags),
        "flag_notes": dict(visit.flag_notes or {}),
        "distance_m": visit.distance_m,
        "subsidy_fen": visit.subsidy_fen,
        "review_status": visit.review_status,
        "review_reason": visit.review_reason,
        "deleted": visit.deleted,
    }


def facts(visit: Visit | Mapping[str, Any]) -> VisitFacts:
    """Flag inputs from a stored visit (row or row dict), read by the judge from its record."""
    get: Callable[[str], Any] = (
        visit.get if isinstance(visit, Mapping) else lambda k: getattr(visit, k)
    )
    return record_facts(get("record") or {}, id=get("id"), teacher=get("teacher"), kind=get("kind"))


def registered_place(subject: Student | School) -> LatLon | None:
    if isinstance(subject, Student):
        lat, lon = subject.home_lat, subject.home_lon
    else:
        lat, lon = subject.lat, subject.lon
    return (lat, lon) if lat is not None and lon is not None else None
