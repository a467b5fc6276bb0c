"""The verdict on a check-in position, as the phone shows it at the tap: the shared judge's
flags and the distance from the registered home or school."""

from datetime import UTC, datetime

from mobile.core.check_in import distance_text, judge_check_in, registered_place
from shared.evidence import VisitFacts, own_flags
from shared.policy import PolicyParams
from tests.mobile.helpers import school, student

HOME = student("ST1")  # registered at 29.70, 119.10
POLICY = PolicyParams(geofence_m=500, max_accuracy_m=100)
FAR = {"lat": 29.70 + 0.334, "lon": 119.10, "accuracy_m": 15.0}  # 37.0 km north


def test_a_check_in_at_home_is_clean_and_says_how_far() -> None:
    here = {"lat": 29.7005, "lon": 119.10, "accuracy_m": 15.0}
    verdict = judge_check_in("home_teaching", here, HOME, POLICY)
    assert verdict.flags == frozenset() and not verdict.flagged
    assert verdict.distance_m == 55 and verdict.place_name == "登记住址"


def test_a_check_in_37_km_away_is_outside_the_geofence() -> None:
    verdict = judge_check_in("home_teaching", FAR, HOME, POLICY)
    assert verdict.flags == {"outside_geofence"} and verdict.outside_geofence
    assert distance_text(verdict.distance_m or 0) == "37.0 公里"


def test_poor_accuracy_and_no_fix_are_flagged_as_the_server_will() -> None:
    vague = {"lat": 29.70, "lon": 119.10, "accuracy_m": 150.0}
    assert judge_check_in("home_teaching", vague, HOME, POLICY).flags == {"low_accuracy"}
    none = judge_check_in("home_teaching", None, HOME, POLICY)
    assert none.flags == {"no_gps"} and none.distance_m is None


def test_an_itinerant_check_in_is_measured_from_the_school() -> None:
    sc1 = school("SC1")  # 29.61, 119.04
    at_school = {"lat": 29.61, "lon": 119.04, "accuracy_m": 10.0}
    verdict = judge_check_in("itinerant", at_school, sc1, POLICY)
    assert verdict.distance_m == 0 and verdict.place_name == "学校" and not verdict.flagged
    assert registered_place("itinerant", {**sc1, "lat": None}) is None


def test_the_verdict_is_the_servers_own_flags_for_the_position() -> None:
    """One rule: what the phone shows at the tap is what ``own_flags`` will set."""
    for position in (FAR, None, {"lat": 29.70, "lon": 119.10, "accuracy_m": 5000.0}):
        verdict = judge_check_in("home_teaching", position, HOME, POLICY)
        fix = (position["lat"], position["lon"], position["accuracy_m"]) if position else None
        facts = VisitFacts(
            id="v",
            teacher="t",
            kind="home_teaching",
            subject_id="ST1",
            started_at=datetime(2025, 11, 12, 9, tzinfo=UTC),
            ended_at=datetime(2025, 11, 12, 11, tzinfo=UTC),
            check_in=fix,
            photo_count=1,
        )
        judged = own_flags(facts, registered_place("home_teaching", HOME), POLICY, facts.ended_at)
        assert verdict.flags == judged
