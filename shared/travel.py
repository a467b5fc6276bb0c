"""Trip distance and travel subsidy (交通费补助). Money is integer fen; distance integer metres."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from geopy.distance import geodesic

from shared.policy import PolicyParams, SubsidyMode

LatLon = tuple[float, float]

# One measurer for the process: geopy builds its geodesic solver on first use and keeps it,
# where ``geodesic(a, b)`` would build a new one (two thirds of the cost) for every distance.
_WGS84 = geodesic()
# A sphere of the mean Earth radius is within 0.6 % of the WGS-84 geodesic at any distance, so
# a haversine distance outside this band decides a radius test without the exact solver.
_EARTH_RADIUS_M = 6_371_008.8
_SPHERE_ERROR = 0.01


def distance_m(a: LatLon, b: LatLon) -> int:
    """Geodesic (WGS-84) distance in whole metres."""
    return int(round(_WGS84.measure(a, b) * 1000))


def within_m(a: LatLon, b: LatLon, radius_m: float) -> bool:
    """``distance_m(a, b) <= radius_m``, deciding clear cases with a cheap spherical bound.

    The geofence test runs for every pushed visit; most check-ins are far inside the fence (or
    far outside it), and only those near its edge need the exact geodesic.
    """
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    sphere_m = 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
    if sphere_m < radius_m * (1 - _SPHERE_ERROR) - 1:
        return True
    if sphere_m > radius_m * (1 + _SPHERE_ERROR) + 1:
        return False
    return distance_m(a, b) <= radius_m


def round_trip_m(origin: LatLon | None, destination: LatLon | None) -> int:
    """There and back along the geodesic; 0 when either end is unknown."""
    if origin is None or destination is None:
        return 0
    return 2 * distance_m(origin, destination)


@dataclass(frozen=True)
class SubsidyTerms:
    """How a visit's subsidy is reached under a policy (before any monthly cap), so that a
    screen can show the rule it applied: ``amount_fen`` is what the teacher is paid."""

    mode: SubsidyMode
    trip_m: int  # the round trip, geodesic
    road_factor: Decimal  # per km only: geodesic km × this = road km
    fen_per_km: int
    flat_fen_per_visit: int
    trip_fen: int  # the whole trip's amount
    party: int  # teachers on the trip (1: alone)
    paid_each: bool  # each teacher of a shared trip is paid the whole amount
    amount_fen: int  # this teacher's share
    monthly_cap_fen: int | None  # applied to the month's total, not here


def subsidy_terms(
    trip_m: int, policy: PolicyParams, teacher: str, shared_with: Sequence[str] = ()
) -> SubsidyTerms:
    """The rule of ``visit_subsidy_fen``, with its terms."""
    if policy.subsidy_mode == SubsidyMode.FLAT_PER_VISIT:
        amount = policy.flat_fen_per_visit
    else:
        km = Decimal(trip_m) * policy.road_factor / Decimal(1000)
        amount = int((km * policy.fen_per_km).to_integral_value(rounding=ROUND_HALF_UP))
    party = sorted({teacher, *shared_with})
    share = amount
    if not policy.shared_trip_paid_each and len(party) > 1:
        share, odd = divmod(amount, len(party))
        share += odd if party[0] == teacher else 0
    return SubsidyTerms(
        mode=policy.subsidy_mode,
        trip_m=trip_m,
        road_factor=policy.road_factor,
        fen_per_km=policy.fen_per_km,
        flat_fen_per_visit=policy.flat_fen_per_visit,
        trip_fen=amount,
        party=len(party),
        paid_each=policy.shared_trip_paid_each,
        amount_fen=share,
        monthly_cap_fen=policy.monthly_cap_fen,
    )


def visit_subsidy_fen(
    trip_m: int, policy: PolicyParams, teacher: str, shared_with: Sequence[str] = ()
) -> int:
    """What this visit earns its teacher, before any monthly cap.

    A trip shared by several teachers is paid once (split, the odd fen to the first username in
    order) unless the policy pays each; the split depends only on who shared, never on who
    synced first.
    """
    return subsidy_terms(trip_m, policy, teacher, shared_with).amount_fen
