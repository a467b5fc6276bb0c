"""The trip and its money, computed as the server will: ``shared.judge.visit_trip`` under the
policy in force in the subject's district on the visit's local date (``shared.judge.policy_on``).

Month total: each counted visit's subsidy (the server's figure once synced, the preview before),
held to the monthly cap of the policy that settles the month in the teacher's district
(``shared.judge.policy_for_month``) with ``shared.compliance.capped_subsidy``.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mobile.core.caseload import today_local
from mobile.core.judged import registered_place
from mobile.core.models import LocalVisit, VisitState
from mobile.core.store import Store
from mobile.core.visit_form import VisitForm
from shared import judge
from shared.compliance import capped_subsidy
from shared.domain import ReviewStatus, VisitKind
from shared.policy import PolicyParams
from shared.terms import month_of
from shared.travel import LatLon, SubsidyTerms


@dataclass(frozen=True)
class TripPreview:
    origin: LatLon | None
    origin_source: str | None  # "custom" | "base_school"
    destination: LatLon | None
    destination_source: str | None  # "home" | "school" | "check_in"
    distance_m: int  # round trip
    subsidy_fen: int  # before the monthly cap
    terms: SubsidyTerms | None = None  # the rule that gave subsidy_fen (None: nothing claimed)


def trip_preview(
    *,
    teacher: str,
    kind: str,
    travel: dict[str, Any] | None,
    base_school: dict[str, Any] | None,
    subject: dict[str, Any] | None,
    check_in: dict[str, Any] | None,
    policy: PolicyParams,
) -> TripPreview:
    """The judge's trip (see the module docstring); dicts are as pulled or as in a record."""
    trip = judge.visit_trip(
        kind=kind,
        travel=travel,
        base_place=registered_place(VisitKind.ITINERANT, base_school),  # a school's place
        registered_place=registered_place(kind, subject),
        check_in=check_in,
        policy=policy,
        teacher=teacher,
    )
    return TripPreview(
        trip.origin,
        trip.origin_source,
        trip.destination,
        trip.destination_source,
        trip.distance_m,
        trip.subsidy_fen,
        trip.terms,
    )


def preview_record(store: Store, record: dict[str, Any]) -> TripPreview:
    """The preview for a visit record (JSON form) with the store's roster and policy."""
    user = store.user()
    kind = record["kind"]
    subject_id = record.get("student_id") if kind == VisitKind.HOME_TEACHING else None
    subject = (
        store.student(subject_id) if subject_id else store.school(record.get("school_id") or "")
    )
    started = record.get("started_at")
    on = datetime.fromisoformat(started) if started else today_local()
    district = (subject or {}).get("district_code") or (user.district_code if user else None)
    base = store.school(user.base_school_id) if user and user.base_school_id else None
    return trip_preview(
        teacher=user.username if user else "",
        kind=kind,
        travel=record.get("travel"),
        base_school=base,
        subject=subject,
        check_in=record.get("check_in"),
        policy=judge.policy_on(store.policies(), district or "", on),
    )


def preview_form(store: Store, form: VisitForm) -> TripPreview:
    """The preview for a form being filled in (shown before saving)."""
    home = form.kind == VisitKind.HOME_TEACHING
    record = {
        "kind": form.kind,
        "student_id": form.subject_id if home else None,
        "school_id": None if home else form.subject_id,
        "started_at": form.started_at,
        "check_in": form.check_in,
        "travel": {"origin": form.origin, "mode": form.travel_mode, "shared_with": form.shared_with}
        if form.claim_travel
        else None,
    }
    return preview_record(store, record)


def visit_subsidy(store: Store, visit: LocalVisit) -> int:
    """What a visit earns before the cap: the server's figure once synced, else the preview."""
    if visit.state == VisitState.SYNCED and visit.subsidy_fen is not None:
        return visit.subsidy_fen
    return preview_record(store, visit.record).subsidy_fen if visit.record else 0


@dataclass(frozen=True)
class MonthSubsidy:
    month: int  # YYYYMM
    claimed_fen: int  # counted visits (pending review or approved), after the monthly cap
    approved_fen: int  # approved in review, after the cap
    uncapped_fen: int
    cap_fen: int | None
    visits: int


def month_subsidy(
    store: Store, month: int | None = None, today: date | None = None
) -> MonthSubsidy:
    """This month's (or ``month``'s) subsidy for the history screen."""
    today = today or today_local()
    month = month or month_of(today)
    user = store.user()
    username = user.username if user else ""
    counted = [v for v in store.visits(month=month) if v.counted]
    amounts = {v.id: visit_subsidy(store, v) for v in counted}
    approved = sum(amounts[v.id] for v in counted if v.review_status == ReviewStatus.APPROVED)
    district = (user.district_code if user else None) or ""
    cap = judge.policy_for_month(store.policies(), district, month).monthly_cap_fen
    total = sum(amounts.values())
    return MonthSubsidy(
        month=month,
        claimed_fen=capped_subsidy({(username, month): total}, cap),
        approved_fen=capped_subsidy({(username, month): approved}, cap),
        uncapped_fen=total,
        cap_fen=cap,
        visits=len(counted),
    )
