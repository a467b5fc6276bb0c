"""Trip distance and subsidy on the phone: the server's rule, the server's numbers."""

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mobile.core.store import Store
from mobile.core.sync import SyncClient
from mobile.core.trip import month_subsidy, preview_form, preview_record, trip_preview
from mobile.core.visit_form import VisitForm
from server.services.policies import set_policy
from shared.policy import PolicyParams
from shared.travel import round_trip_m
from tests.conftest import World
from tests.factories import PASSWORD, Factory
from tests.live import LiveServer
from tests.mobile.helpers import (
    ITINERANT,
    change,
    home_record,
    itinerant_record,
    result,
    seeded,
)

PER_KM = PolicyParams(subsidy_mode="per_km", fen_per_km=150, road_factor="1.3")


def test_origin_defaults_to_the_base_school_and_destination_to_the_home() -> None:
    trip = trip_preview(
        teacher="t1",
        kind="home_teaching",
        travel={"origin": None, "mode": "car", "shared_with": []},
        base_school={"lat": 29.60, "lon": 119.00},
        subject={"home_lat": 29.70, "home_lon": 119.10},
        check_in={"lat": 0.0, "lon": 0.0, "accuracy_m": 5},
        policy=PER_KM,
    )
    assert (trip.origin_source, trip.destination_source) == ("base_school", "home")
    assert trip.distance_m == round_trip_m((29.60, 119.00), (29.70, 119.10))
    assert trip.subsidy_fen == round(trip.distance_m * 1.3 / 1000 * 150)


def test_without_registered_place_the_check_in_is_the_destination() -> None:
    trip = trip_preview(
        teacher="i1",
        kind="itinerant",
        travel={"origin": {"lat": 29.5, "lon": 119.0}, "shared_with": []},
        base_school=None,
        subject={"lat": None, "lon": None},
        check_in={"lat": 29.6, "lon": 119.0, "accuracy_m": 5},
        policy=PolicyParams(),
    )
    assert (trip.origin_source, trip.destination_source) == ("custom", "check_in")
    assert trip.distance_m > 20_000 and trip.subsidy_fen == 12_000


def test_no_claim_or_unknown_end_earns_nothing_and_shared_trips_split() -> None:
    common = dict(kind="home_teaching", base_school=None, check_in=None, policy=PolicyParams())
    subject = {"home_lat": 29.7, "home_lon": 119.1}
    assert trip_preview(teacher="t1", travel=None, subject=subject, **common).subsidy_fen == 0
    nowhere = trip_preview(teacher="t1", travel={"origin": None}, subject=subject, **common)
    assert (nowhere.distance_m, nowhere.subsidy_fen) == (0, 0)
    party = {"t1", "t2", "t3"}
    split = [
        trip_preview(
            teacher=who,
            travel={"origin": {"lat": 29.6, "lon": 119.0}, "shared_with": sorted(party - {who})},
            subject=subject,
            **common,
        ).subsidy_fen
        for who in sorted(party)
    ]
    assert split == [4000, 4000, 4000]  # one trip, paid once


def test_preview_of_a_form_uses_the_store(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    form = VisitForm.new("home_teaching", "ST1")
    trip = preview_form(store, form)
    assert trip.origin == (29.60, 119.00) and trip.destination == (29.70, 119.10)
    assert trip.subsidy_fen == 12_000
    form.claim_travel = False
    assert preview_form(store, form).subsidy_fen == 0
    itinerant = seeded(tmp_path / "i", ITINERANT)
    assert preview_record(itinerant, itinerant_record("SC1").model_dump(mode="json")).distance_m


def test_month_total_applies_the_monthly_cap(tmp_path: Path) -> None:
    store = seeded(tmp_path, monthly_cap_fen=30_000)
    start = datetime(2025, 11, 3, 2, tzinfo=UTC)
    for day in range(3):
        store.visit_repo.save_visit(home_record(start=start + timedelta(days=day)))
    total = month_subsidy(store, 202511, today=date(2025, 11, 20))
    assert (total.uncapped_fen, total.claimed_fen, total.cap_fen) == (36_000, 30_000, 30_000)
    assert total.approved_fen == 0 and total.visits == 3
    assert month_subsidy(store, 202510, today=date(2025, 11, 20)).claimed_fen == 0


def test_synced_visit_counts_the_servers_figure(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    record = home_record(start=datetime(2025, 11, 3, 2, tzinfo=UTC))
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    theirs = {**record.model_dump(mode="json"), "version": 1, "subsidy_fen": 8_000}
    theirs |= {"review_status": "approved", "flags": []}
    store.apply_pull([change("visit", theirs, id=str(record.id))], "c", complete=True)
    total = month_subsidy(store, 202511, today=date(2025, 11, 20))
    assert (total.claimed_fen, total.approved_fen) == (8_000, 8_000)


def test_preview_matches_what_the_server_computes(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    with factory.session() as s:
        set_policy(
            s,
            district_code=world.district,
            effective_from=date.today() - timedelta(days=400),
            params=PER_KM,
        )
        s.commit()
    store = Store(tmp_path)
    client = SyncClient(store, server.url)
    client.login(world.teacher, PASSWORD)
    client.pull()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    records = [
        home_record(world.student, start=start),
        home_record(
            world.student,
            start=start - timedelta(days=1),
            id=str(uuid.uuid4()),
            check_in=None,
            travel={"origin": {"lat": 30.0, "lon": 120.0}, "mode": "car", "shared_with": ["x"]},
        ),
    ]
    previews = {}
    for record in records:
        store.visit_repo.save_visit(record)
        previews[str(record.id)] = preview_record(store, record.model_dump(mode="json"))
    report = client.sync()
    assert report.ok and report.synced == 2, report
    for rid, trip in previews.items():
        visit = store.visit(rid)
        assert (visit.distance_m, visit.subsidy_fen) == (trip.distance_m, trip.subsidy_fen)
        assert trip.subsidy_fen > 0
