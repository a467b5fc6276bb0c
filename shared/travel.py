"""Trip distance and travel subsidy (交通费补助). Money is integer fen; distance integer metres."""

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from geopy.distance import geodesic

from shared.policy import PolicyParams, SubsidyMode

LatLon = tuple[float, float]


def distance_m(a: LatLon, b: LatLon) -> int:
    """Geodesic (WGS-84) distance in whole metres."""
    return int(round(geodesic(a, b).meters))


def round_trip_m(origin: LatLon | None, destination: LatLon | None) -> int:
    """There and back along the geodesic; 0 when either end is unknown."""
    if origin is None or destination is None:
        return 0
    return 2 * distance_m(origin, destination)


def visit_subsidy_fen(
    trip_m: int, policy: PolicyParams, teacher: str, shared_with: Sequence[str] = ()
) -> int:
    """What this visit earns its teacher, before any monthly cap.

    A trip shared by several teachers is paid once (split, the odd fen to the first username in
    order) unless the policy pays each; the split depends only on who shared, never on who
    synced first.
    """
    if policy.subsidy_mode == SubsidyMode.FLAT_PER_VISIT:
        amount = policy.flat_fen_per_visit
    else:
        km = Decimal(trip_m) * policy.road_factor / Decimal(1000)
        amount = int((km * policy.fen_per_km).to_integral_value(rounding=ROUND_HALF_UP))
    party = sorted({teacher, *shared_with})
    if policy.shared_trip_paid_each or len(party) == 1:
        return amount
    share, odd = divmod(amount, len(party))
    return share + (odd if party[0] == teacher else 0)
