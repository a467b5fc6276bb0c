"""Visit evidence flags (like home-care electronic visit verification): flag, never reject."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain import EvidenceFlag, VisitKind
from shared.policy import PolicyParams
from shared.terms import local_date
from shared.travel import LatLon, within_m
from shared.visit_time import time_edits, too_short


@dataclass(frozen=True)
class VisitFacts:
    """What the flags look at, from a stored or incoming visit."""

    id: str
    teacher: str
    kind: str
    subject_id: str  # the student (home teaching) or the school (itinerant)
    started_at: datetime
    ended_at: datetime
    check_in: tuple[float, float, float] | None  # lat, lon, accuracy_m
    photo_count: int
    # The device's instants at the check-in / check-out taps (Position.at); None: not sent.
    check_in_at: datetime | None = None
    check_out_at: datetime | None = None


# Flags that compare a visit with other visits; the rest judge the visit alone by its policy.
PAIR_FLAGS = frozenset({EvidenceFlag.OVERLAPPING, EvidenceFlag.SAME_DAY_DUPLICATE})


def visit_flags(
    visit: VisitFacts,
    neighbours: Iterable[VisitFacts],
    registered_place: LatLon | None,
    policy: PolicyParams,
    received_at: datetime,
) -> list[str]:
    """Sorted flag codes of ``visit`` among ``neighbours`` (other live visits; order is irrelevant).

    The pairwise flags are symmetric, so recomputing both sides of a pair gives the same set
    whichever visit arrived first.
    """
    flags = own_flags(visit, registered_place, policy, received_at)
    return sorted(flags | pair_flags(visit, neighbours))


def own_flags(
    visit: VisitFacts, registered_place: LatLon | None, policy: PolicyParams, received_at: datetime
) -> set[str]:
    """The flags ``visit`` earns alone under ``policy``: none of ``PAIR_FLAGS``."""
    flags = check_in_flags(visit.check_in, registered_place, policy)
    if too_short(visit.kind, visit.started_at, visit.ended_at, policy):
        flags.add(EvidenceFlag.SHORT_DURATION)
    if time_edits(visit.started_at, visit.ended_at, visit.check_in_at, visit.check_out_at, policy):
        flags.add(EvidenceFlag.TIME_EDITED)
    if visit.photo_count == 0:
        flags.add(EvidenceFlag.NO_PHOTO)
    if visit.started_at > received_at + timedelta(minutes=policy.future_tolerance_minutes):
        flags.add(EvidenceFlag.FUTURE_TIME)
    if visit.started_at < received_at - timedelta(days=policy.max_age_days):
        flags.add(EvidenceFlag.STALE_TIME)
    return flags


def check_in_flags(
    check_in: tuple[float, float, float] | None,
    registered_place: LatLon | None,
    policy: PolicyParams,
) -> set[str]:
    """The flags a check-in position (lat, lon, accuracy_m; None: no fix) earns under
    ``policy``: ``no_gps``, ``low_accuracy``, ``outside_geofence`` (only when the home or school
    has a registered place). The phone shows them at the tap; ``own_flags`` includes them."""
    flags: set[str] = set()
    if check_in is None:
        flags.add(EvidenceFlag.NO_GPS)
        return flags
    lat, lon, accuracy = check_in
    if accuracy > policy.max_accuracy_m:
        flags.add(EvidenceFlag.LOW_ACCURACY)
    if registered_place and not within_m((lat, lon), registered_place, policy.geofence_m):
        flags.add(EvidenceFlag.OUTSIDE_GEOFENCE)
    return flags


def pair_flags(visit: VisitFacts, neighbours: Iterable[VisitFacts]) -> set[str]:
    """The ``PAIR_FLAGS`` of ``visit`` among ``neighbours``; no policy decides these."""
    flags: set[str] = set()
    for other in neighbours:
        if other.id == visit.id:
            continue
        if other.teacher == visit.teacher and _overlap(visit, other):
            flags.add(EvidenceFlag.OVERLAPPING)
        if (
            visit.kind == other.kind == VisitKind.HOME_TEACHING
            and other.subject_id == visit.subject_id
            and local_date(other.started_at) == local_date(visit.started_at)
        ):
            flags.add(EvidenceFlag.SAME_DAY_DUPLICATE)
    return flags


def _overlap(a: VisitFacts, b: VisitFacts) -> bool:
    return a.started_at < b.ended_at and b.started_at < a.ended_at
