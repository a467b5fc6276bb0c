"""The judge of a visit: the one place phone and server ask how a visit is shown, flagged,
counted and paid. Both call these functions and re-implement none of them.

Where each rule lives (this module gathers them; the rules themselves are small and named):

- duration, to the whole minute, and "long enough": ``shared.visit_time`` (``duration_minutes``,
  ``too_short``); times corrected away from the tap: ``shared.visit_time.time_corrections``,
  and beyond the tolerance (the flag) ``time_edits``;
- evidence flags: ``shared.evidence`` (``own_flags``, ``pair_flags``, ``check_in_flags``);
- whether a visit counts at all, and toward the service standard: here (``in_counts``,
  ``counts_for_service``);
- the policy in force for a visit's day, a month and a term report: here (``policy_on``,
  ``policy_for_month``, ``policy_for_term``) over ``shared.policy.policy_in_force``;
- the month and term a moment falls in: ``shared.terms`` (``local_month``, ``month_bounds``,
  ``term_of``);
- the trip's ends, distance and subsidy: here (``visit_trip``) over ``shared.travel``; the
  distance of a check-in from the registered place: ``check_in_distance_m``.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.domain import ReviewStatus, VisitKind
from shared.evidence import VisitFacts, own_flags, pair_flags
from shared.policy import PolicyParams, PolicyVersion, policy_in_force
from shared.protocol import tap_instant
from shared.terms import Term, local_date, month_bounds
from shared.travel import LatLon, SubsidyTerms, distance_m, round_trip_m, subsidy_terms
from shared.visit_time import (
    TimeEdit,
    beyond_tolerance,
    duration_minutes,
    time_corrections,
    time_edits,
    too_short,
)

# -- counting --------------------------------------------------------------------------------


def in_counts(*, deleted: bool, review_status: str | None) -> bool:
    """Whether a stored visit counts (coverage, service standard, subsidy claimed): while it is
    pending review or approved, flagged or not. Only a visit rejected in review or deleted
    drops out (domain.md, rule 2: flags ask a coordinator to look, they never remove a visit).
    """
    return not deleted and review_status != ReviewStatus.REJECTED


def counts_for_service(
    kind: str, started_at: datetime, ended_at: datetime, policy: PolicyParams
) -> bool:
    """A home-teaching session toward the service standard (送教频次): one not too short
    under the policy of its day, i.e. exactly one not flagged ``short_duration``."""
    return kind == VisitKind.HOME_TEACHING and not too_short(kind, started_at, ended_at, policy)


# -- which policy ----------------------------------------------------------------------------


def policy_on(
    versions: Sequence[PolicyVersion], district_code: str | None, moment: datetime | date
) -> PolicyParams:
    """The rule a visit is judged by: in force in its district on its local date (domain.md:
    "judged by the rule in force where and when it happened")."""
    day = local_date(moment) if isinstance(moment, datetime) else moment
    return policy_in_force(versions, district_code, day)


def policy_for_month(
    versions: Sequence[PolicyVersion], district_code: str | None, month: int
) -> PolicyParams:
    """The rule that settles a month (its monthly subsidy cap, the sessions it owes): the one
    in force on the month's last day.

    Why the last day: a month's total is complete only then, and the cap and the standard apply
    to that total, so the month is settled by the rule in force when it closes. It depends on
    no one's clock: a past month's figures never change when looked at later, the phone and the
    server agree without sharing a "today", and a running month already shows the rule a
    version saved ahead for a later day of it will apply. (A visit's own flags and whether it is
    long enough stay with the rule of its own day: ``policy_on``.)
    """
    return policy_in_force(versions, district_code, month_bounds(month)[1])


def report_day(term: Term, today: date) -> date:
    """The last day a term report counts: today while the term runs, else its last day."""
    return min(term.end, today)


def policy_for_term(
    versions: Sequence[PolicyVersion], district_code: str | None, term: Term, today: date
) -> PolicyParams:
    """The rule a term report is read against (the home-delivery cap, itinerant visits per
    term): the one in force on the report's last counted day (``report_day``)."""
    return policy_in_force(versions, district_code, report_day(term, today))


# -- a visit's own verdict -------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the phone shows and the server stores for one visit under one policy."""

    minutes: int  # the duration shown (whole minutes)
    flags: list[str]  # sorted evidence flags
    service_session: bool  # counts toward the service standard (when it counts at all)
    time_edits: list[TimeEdit] = field(default_factory=list)


def judge_visit(
    visit: VisitFacts,
    registered_place: LatLon | None,
    policy: PolicyParams,
    received_at: datetime,
    neighbours: Iterable[VisitFacts] = (),
) -> Verdict:
    """``visit`` judged under ``policy`` (the policy of its day: ``policy_on``); the pairwise
    flags among ``neighbours`` (none given: none of them)."""
    flags = own_flags(visit, registered_place, policy, received_at) | pair_flags(visit, neighbours)
    return Verdict(
        minutes=duration_minutes(visit.started_at, visit.ended_at),
        flags=sorted(flags),
        service_session=counts_for_service(visit.kind, visit.started_at, visit.ended_at, policy),
        time_edits=time_edits(
            visit.started_at, visit.ended_at, visit.check_in_at, visit.check_out_at, policy
        ),
    )


def record_facts(
    record: Mapping[str, Any], *, id: str, teacher: str, kind: str | None = None
) -> VisitFacts:
    """The flag inputs of a visit record in its JSON form (as pushed, stored or pulled)."""
    check_in = record.get("check_in") or None
    kind = kind or record["kind"]
    return VisitFacts(
        id=id,
        teacher=teacher,
        kind=kind,
        subject_id=record.get("student_id") or record.get("school_id") or "",
        started_at=_instant(record["started_at"]),
        ended_at=_instant(record["ended_at"]),
        check_in=(check_in["lat"], check_in["lon"], check_in["accuracy_m"]) if check_in else None,
        photo_count=len(record.get("photos") or ()),
        # The taps' own instants: in the position, or beside it when there was no fix.
        check_in_at=_instant(tap_instant(record, "check_in")),
        check_out_at=_instant(tap_instant(record, "check_out")),
    )


def _instant(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# -- distances, trip and subsidy ---------------------------------------------------------------


def check_in_distance_m(check_in: Mapping[str, Any] | None, place: LatLon | None) -> int | None:
    """Metres from a check-in ({lat, lon, ...}) to the registered home or school; None when
    either is unknown (what the geofence flag is about)."""
    if not check_in or place is None:
        return None
    return distance_m((check_in["lat"], check_in["lon"]), place)


@dataclass(frozen=True)
class Trip:
    origin: LatLon | None
    origin_source: str | None  # "custom" | "base_school"
    destination: LatLon | None
    destination_source: str | None  # "home" | "school" | "check_in"
    distance_m: int  # round trip; 0 without a claim or an end
    subsidy_fen: int  # before the monthly cap; 0 without a claim or an end
    terms: SubsidyTerms | None = None  # the rule that gave subsidy_fen (None: nothing claimed)


def visit_trip(
    *,
    kind: str,
    travel: Mapping[str, Any] | None,
    base_place: LatLon | None,
    registered_place: LatLon | None,
    check_in: Mapping[str, Any] | None,
    policy: PolicyParams,
    teacher: str,
    measure: Callable[[LatLon | None, LatLon | None], int] = round_trip_m,
) -> Trip:
    """A visit's trip and what it earns its teacher under ``policy`` (the policy of its day).

    From: the record's ``travel.origin``, else the teacher's base school. To: the registered
    home (home teaching) or school (itinerant), else the check-in position. No claim
    (``travel`` None) earns nothing and measures nothing; an unknown end gives 0 m and nothing.
    ``measure`` is the round trip (the server passes a cached one).
    """
    custom = (travel or {}).get("origin")
    origin: LatLon | None
    origin_source: str | None
    if custom:
        origin, origin_source = (custom["lat"], custom["lon"]), "custom"
    else:
        origin, origin_source = base_place, ("base_school" if base_place else None)
    destination: LatLon | None
    if registered_place is not None:
        destination = registered_place
        destination_source: str | None = "home" if kind == VisitKind.HOME_TEACHING else "school"
    elif check_in:
        destination, destination_source = (check_in["lat"], check_in["lon"]), "check_in"
    else:
        destination, destination_source = None, None
    if travel is None:
        return Trip(origin, origin_source, destination, destination_source, 0, 0)
    distance = measure(origin, destination)
    if origin is None or destination is None:
        return Trip(origin, origin_source, destination, destination_source, distance, 0)
    terms = subsidy_terms(distance, policy, teacher, travel.get("shared_with") or ())
    return Trip(
        origin, origin_source, destination, destination_source, distance, terms.amount_fen, terms
    )


__all__ = [
    "TimeEdit",
    "Trip",
    "Verdict",
    "check_in_distance_m",
    "counts_for_service",
    "duration_minutes",
    "in_counts",
    "judge_visit",
    "policy_for_month",
    "policy_for_term",
    "policy_on",
    "record_facts",
    "report_day",
    "time_edits",
    "time_corrections",
    "beyond_tolerance",
    "visit_trip",
]
