"""Evidence flags: what each one catches, and independence from batch order."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.evidence import VisitFacts, check_in_flags, own_flags, visit_flags
from shared.policy import PolicyParams

NOW = datetime(2025, 10, 20, 12, tzinfo=UTC)
HOME = (30.30, 120.10)


def visit(
    vid="v1",
    teacher="t1",
    start=NOW - timedelta(hours=5),
    minutes=70,
    check_in=(30.30, 120.10, 10.0),
    photos=1,
    subject="S1",
    kind="home_teaching",
):
    return VisitFacts(
        vid, teacher, kind, subject, start, start + timedelta(minutes=minutes), check_in, photos
    )


def flags(v, others=(), place=HOME):
    return visit_flags(v, others, place, PolicyParams(), NOW)


def test_clean_visit_has_no_flags() -> None:
    assert flags(visit()) == []


def test_each_flag() -> None:
    assert flags(visit(check_in=None)) == ["no_gps"]
    assert flags(visit(check_in=(30.32, 120.10, 10.0))) == ["outside_geofence"]
    assert flags(visit(check_in=(30.30, 120.10, 5000.0))) == ["low_accuracy"]
    assert flags(visit(minutes=30)) == ["short_duration"]
    assert flags(visit(photos=0)) == ["no_photo"]
    assert flags(visit(start=NOW + timedelta(days=365))) == ["future_time"]
    assert flags(visit(start=NOW - timedelta(days=400))) == ["stale_time"]


def test_check_in_flags_judge_the_position_alone() -> None:
    policy = PolicyParams(geofence_m=500, max_accuracy_m=100)
    assert check_in_flags((30.30, 120.10, 10.0), HOME, policy) == set()
    assert check_in_flags(None, HOME, policy) == {"no_gps"}
    far_and_vague = (30.63, 120.10, 150.0)  # some 37 km north, 150 m accuracy
    assert check_in_flags(far_and_vague, HOME, policy) == {"outside_geofence", "low_accuracy"}
    assert check_in_flags(far_and_vague, None, policy) == {"low_accuracy"}  # nothing to compare
    assert check_in_flags((30.32, 120.10, 10.0), HOME, PolicyParams(geofence_m=5000)) == set()


def test_own_flags_include_the_check_in_flags() -> None:
    far = visit(check_in=(30.63, 120.10, 150.0), photos=0)
    assert own_flags(far, HOME, PolicyParams(), NOW) == {
        "outside_geofence",
        "low_accuracy",
        "no_photo",
    }


def test_overlap_and_same_day_are_mutual() -> None:
    a = visit("a")
    b = visit("b", start=a.started_at + timedelta(minutes=20))
    assert flags(a, [b]) == ["overlapping", "same_day_duplicate"]
    assert flags(b, [a]) == ["overlapping", "same_day_duplicate"]
    other_teacher = visit("c", teacher="t2", subject="S2", start=a.started_at)
    assert flags(a, [other_teacher]) == []


starts = st.integers(0, 48 * 60).map(lambda m: NOW - timedelta(days=3) + timedelta(minutes=m))


@settings(max_examples=60)
@given(
    specs=st.lists(
        st.tuples(
            starts,
            st.integers(10, 180),
            st.sampled_from(["t1", "t2"]),
            st.sampled_from(["S1", "S2"]),
        ),
        min_size=1,
        max_size=8,
    ),
    order=st.randoms(),
)
def test_flags_independent_of_batch_order(specs, order) -> None:
    visits = [
        visit(f"v{i}", teacher=t, start=s, minutes=m, subject=sub)
        for i, (s, m, t, sub) in enumerate(specs)
    ]
    shuffled = visits[:]
    order.shuffle(shuffled)

    def all_flags(vs):
        return {v.id: flags(v, [o for o in vs if o.id != v.id]) for v in vs}

    assert all_flags(visits) == all_flags(shuffled)
