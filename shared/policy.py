"""Policy parameters held per district with the date they take effect.

Defaults are those of domain.md. A visit is judged by the parameters in force in its district on
its local date; a month by those in force on its last day; a term report by those in force on
its last counted day (``shared.judge``: ``policy_on``, ``policy_for_month``, ``policy_for_term``).
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class SubsidyMode(StrEnum):
    FLAT_PER_VISIT = "flat_per_visit"
    PER_KM = "per_km"


class PolicyParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Rule 1: home-delivery cap (送教上门比例)
    home_delivery_cap: Decimal = Field(Decimal("0.05"), ge=0, le=1)
    count_certified_only: bool = False
    institution_in_denominator: bool = True
    # Rule 2: itinerant coverage
    itinerant_visits_per_term: int = Field(2, ge=1, le=100)
    # Rule 3: home-delivery service standard
    service_sessions_per_month: int = Field(4, ge=1, le=62)
    service_min_minutes: int = Field(60, ge=1, le=600)
    # Rule 4: evidence
    geofence_m: int = Field(500, ge=10, le=100_000)
    max_accuracy_m: int = Field(100, ge=1, le=100_000)
    itinerant_min_minutes: int = Field(30, ge=1, le=600)
    future_tolerance_minutes: int = Field(15, ge=0, le=24 * 60)
    max_age_days: int = Field(90, ge=1, le=3650)
    # A check-in/out time typed more than this far from the device's instant at the tap
    time_edit_tolerance_minutes: int = Field(5, ge=0, le=24 * 60)
    # Rule 5: travel subsidy, integer fen
    subsidy_mode: SubsidyMode = SubsidyMode.FLAT_PER_VISIT
    flat_fen_per_visit: int = Field(12_000, ge=0, le=10_000_000)
    fen_per_km: int = Field(100, ge=0, le=100_000)
    road_factor: Decimal = Field(Decimal("1.3"), ge=1, le=5)
    monthly_cap_fen: int | None = Field(None, ge=0, le=100_000_000)
    shared_trip_paid_each: bool = False


DEFAULT_POLICY = PolicyParams()


class PolicyVersion(BaseModel):
    """Parameters for one district (None: every district) from ``effective_from`` on."""

    district_code: str | None
    effective_from: date
    params: PolicyParams


def policy_in_force(
    versions: Sequence[PolicyVersion], district_code: str | None, on: date
) -> PolicyParams:
    """The parameters in force in ``district_code`` on ``on``.

    A district's own version beats a city-wide one; among those, the latest already in effect.
    With none in effect, the defaults of domain.md. ``district_code`` None asks for the
    city-wide version alone.
    """
    own = [v for v in versions if v.district_code == district_code and v.effective_from <= on]
    general = [v for v in versions if v.district_code is None and v.effective_from <= on]
    for pool in (own, general):
        if pool:
            return max(pool, key=lambda v: v.effective_from).params
    return DEFAULT_POLICY
