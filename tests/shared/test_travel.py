"""Distance (geodesic, integer metres) and subsidy (integer fen)."""

from decimal import Decimal

from geopy.distance import geodesic
from hypothesis import given
from hypothesis import strategies as st

from shared.policy import PolicyParams, SubsidyMode
from shared.travel import distance_m, round_trip_m, subsidy_terms, visit_subsidy_fen, within_m

lat = st.floats(-89.9, 89.9)
lon = st.floats(-179.9, 179.9)


def test_hangzhou_to_chunan_is_about_a_hundred_km() -> None:
    metres = distance_m((30.24, 120.17), (29.61, 119.04))
    assert 125_000 < metres < 135_000 and isinstance(metres, int)


def test_round_trip_is_twice_and_zero_when_unknown() -> None:
    a, b = (30.0, 120.0), (30.1, 120.1)
    assert round_trip_m(a, b) == 2 * distance_m(a, b)
    assert round_trip_m(None, b) == 0


def test_per_km_with_road_factor() -> None:
    policy = PolicyParams(
        subsidy_mode=SubsidyMode.PER_KM, fen_per_km=80, road_factor=Decimal("1.3")
    )
    # 50 km round trip x 1.3 = 65 km x 80 fen = 5200 fen
    assert visit_subsidy_fen(50_000, policy, "t1") == 5200


def test_the_terms_tell_the_rule_that_made_the_amount() -> None:
    policy = PolicyParams(
        subsidy_mode=SubsidyMode.PER_KM,
        fen_per_km=80,
        road_factor=Decimal("1.3"),
        monthly_cap_fen=30_000,
    )
    terms = subsidy_terms(19_920, policy, "t1")  # 19.92 km x 1.3 x 0.80 = 20.7168 yuan
    assert (terms.trip_fen, terms.amount_fen, terms.party) == (2072, 2072, 1)
    assert terms.road_factor == Decimal("1.3") and terms.monthly_cap_fen == 30_000
    shared = subsidy_terms(19_920, policy, "t1", ["t2", "t3"])
    assert (shared.trip_fen, shared.party, shared.amount_fen) == (2072, 3, 692)  # odd fen: t1
    assert subsidy_terms(19_920, policy, "t2", ["t1", "t3"]).amount_fen == 690


def test_flat_per_visit() -> None:
    assert visit_subsidy_fen(123_456, PolicyParams(), "t1") == 12_000


@given(
    amount=st.integers(0, 1_000_000),
    party=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=5, unique=True),
)
def test_shared_trip_paid_once_in_total(amount: int, party: list[str]) -> None:
    policy = PolicyParams(flat_fen_per_visit=amount)
    shares = [visit_subsidy_fen(0, policy, t, [p for p in party if p != t]) for t in party]
    assert sum(shares) == amount
    paid_each = PolicyParams(flat_fen_per_visit=amount, shared_trip_paid_each=True)
    assert all(visit_subsidy_fen(0, paid_each, t, party) == amount for t in party)


@given(a=st.tuples(lat, lon), b=st.tuples(lat, lon))
def test_distance_symmetric_and_non_negative(a, b) -> None:
    assert distance_m(a, b) == distance_m(b, a) >= 0


@given(
    a=st.tuples(lat, lon),
    bearing=st.floats(0, 360),
    share=st.floats(0.97, 1.03),
    radius=st.sampled_from([50, 100, 500, 1000, 2000]),
)
def test_within_agrees_with_the_exact_distance_at_the_edge(a, bearing, share, radius) -> None:
    # Points placed by geopy at a geodesic distance close to the radius: the spherical bound
    # cannot decide these, so this checks the band around the edge is wide enough.
    destination = geodesic(meters=radius * share).destination(a, bearing)
    b = (destination.latitude, destination.longitude)
    assert within_m(a, b, radius) == (distance_m(a, b) <= radius)


@given(a=st.tuples(lat, lon), b=st.tuples(lat, lon), radius=st.floats(0, 2e7))
def test_within_agrees_with_the_exact_distance_anywhere(a, b, radius) -> None:
    assert within_m(a, b, radius) == (distance_m(a, b) <= radius)
