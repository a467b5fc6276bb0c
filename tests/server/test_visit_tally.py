"""visit_tally, kept by triggers, always equals the counted visits summed afresh (both
databases), through pushes, edits, deletes, flag changes of neighbours and reviews."""

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import select

from server.models import User, Visit, VisitTally
from server.scope import Scope
from server.services import compliance, review
from shared.terms import TermDates, parse_term
from tests.conftest import World
from tests.factories import Factory, delete, home_visit, itinerant_visit, upsert

SHANGHAI = timezone(timedelta(hours=8))


def _recount(factory: Factory, district: str) -> dict[tuple, tuple]:
    """The tally recomputed from the visits, in Python: what the triggers must have kept."""
    sums: dict[tuple, Counter] = {}
    with factory.session() as s:
        for v in s.exec(select(Visit).where(Visit.district_code == district)):
            if not v.counted:
                continue
            key = (v.kind, v.local_month, v.district_code, v.student_id or v.school_id, v.teacher)
            c = sums.setdefault(key, Counter())
            c["visits"] += 1
            c["flagged"] += int(v.flagged)
            # The judge's two verdicts on a session agree: it counts unless flagged short.
            long_enough = v.kind == "home_teaching" and "short_duration" not in v.flags
            assert v.service_session == long_enough, v
            c["sessions"] += int(v.service_session)
            c["fen"] += v.subsidy_fen
            c["approved_fen"] += v.subsidy_fen if v.review_status == "approved" else 0
    names = ("visits", "flagged", "sessions", "fen", "approved_fen")
    return {key: tuple(c[n] for n in names) for key, c in sums.items()}


def _tally(factory: Factory, district: str) -> dict[tuple, tuple]:
    with factory.session() as s:
        rows = s.exec(select(VisitTally).where(VisitTally.district_code == district)).all()
    out = {}
    for r in rows:
        sums = (r.visits, r.flagged, r.sessions, r.fen, r.approved_fen)
        assert min(sums) >= 0, r
        if r.visits:
            out[(r.kind, r.local_month, r.district_code, r.subject_id, r.teacher)] = sums
        else:
            assert sums == (0, 0, 0, 0, 0), r  # a row emptied by deletes holds zeros only
    return out


def _at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026 if month == 1 else 2025, month, day, hour, tzinfo=SHANGHAI)


def _review(factory: Factory, coordinator: str, visit_id: str, decision: str) -> None:
    with factory.session() as s:
        user = s.exec(select(User).where(User.username == coordinator)).one()
        review.review_visit(
            s, scope=Scope.of(user), visit_id=visit_id, decision=decision, reason="核实不符"
        )
        s.commit()


def test_tally_follows_pushes_edits_deletes_flags_and_reviews(
    world: World, factory: Factory
) -> None:
    kept = home_visit(world.student, start=_at(10, 9, 9), minutes=70)
    short = home_visit(world.student, start=_at(10, 10, 9), minutes=40)
    moved = home_visit(world.student, start=_at(10, 11, 9), minutes=70)
    gone = home_visit(world.student, start=_at(11, 3, 9), minutes=70)
    school = itinerant_visit(world.school, start=_at(10, 9, 14))
    results = world.t.push(*(upsert(r) for r in (kept, short, moved, gone)))
    results += world.i.push(upsert(school))
    assert all(r["status"] == "applied" for r in results), results
    assert _tally(factory, world.district) == _recount(factory, world.district)

    # An overlapping visit flags its neighbour too; an edit moves a visit to another month
    # and makes it short; a delete takes one out.
    overlap = home_visit(world.student, start=_at(10, 9, 9) + timedelta(minutes=30))
    moved_later = {**moved, "started_at": _at(12, 1, 9).isoformat()}
    moved_later["ended_at"] = (_at(12, 1, 9) + timedelta(minutes=30)).isoformat()
    results = world.t.push(
        upsert(overlap), upsert(moved_later, base_version=1), delete(gone["id"], base_version=1)
    )
    assert all(r["status"] == "applied" for r in results), results
    with factory.session() as s:
        assert "overlapping" in s.get(Visit, kept["id"]).flags  # the neighbour was re-flagged
    assert _tally(factory, world.district) == _recount(factory, world.district)

    _review(factory, world.coordinator, kept["id"], "approved")
    _review(factory, world.coordinator, short["id"], "rejected")
    _review(factory, world.coordinator, school["id"], "approved")
    tally = _tally(factory, world.district)
    assert tally == _recount(factory, world.district)
    october = ("home_teaching", 202510, world.district, world.student, world.teacher)
    # kept (approved) and the overlap count; short was rejected, moved went to December.
    assert tally[october][0] == 2
    with factory.session() as s:
        approved_fen = s.get(Visit, kept["id"]).subsidy_fen
    assert approved_fen > 0 and tally[october][4] == approved_fen  # only the approved visit's


def test_partial_months_are_summed_like_the_tally(world: World, factory: Factory) -> None:
    """The report reads months a term only partly covers from the visits: same rows."""
    records = [
        home_visit(world.student, start=_at(m, d, 9), minutes=minutes)
        for m, d, minutes in ((9, 8, 70), (9, 20, 45), (10, 2, 90), (1, 15, 30))
    ]
    assert all(r["status"] == "applied" for r in world.t.push(*(upsert(r) for r in records)))
    visit = itinerant_visit(world.school, start=_at(9, 9, 14))
    assert world.i.push(upsert(visit))[0]["status"] == "applied"
    term = parse_term("2025-1")
    months = term.months()
    lo, hi = term.utc_bounds()
    with factory.session() as s:
        from_tally = s.execute(compliance._tally_rows([world.district], months)).all()
        from_visits = s.execute(
            compliance._partial_month_rows([world.district], months, lo, hi)
        ).all()
    assert len(from_tally) == 4  # Sep, Oct and Jan home teaching; Sep itinerant
    assert sorted(map(_ints, from_tally)) == sorted(map(_ints, from_visits))


def _ints(row: sa.Row) -> tuple:
    return tuple(int(x) if isinstance(x, int | float) else x for x in row)


def test_a_city_term_counts_only_its_own_days(world: World, factory: Factory) -> None:
    """A term of 8 Sep - 20 Jan: whole months from the tally, the two edge months from the
    visits between the exact bounds (Asia/Shanghai)."""
    inside = [_at(9, 8, 0), _at(10, 15, 9), _at(1, 20, 23)]
    outside = [_at(9, 7, 23), _at(1, 21, 0)]
    records = [home_visit(world.student, start=at, minutes=70) for at in inside + outside]
    records.append(home_visit(world.student, start=_at(11, 5, 9), minutes=40))  # short
    assert all(r["status"] == "applied" for r in world.t.push(*(upsert(r) for r in records)))
    dates = TermDates(date(2025, 9, 8), date(2026, 1, 20), date(2025, 9, 8), date(2026, 1, 16))
    term = parse_term("2025-1", {"2025-1": dates})
    with factory.session() as s:
        sums = compliance._visit_sums(s, [world.district], term, compliance._MonthlyPolicy([]))
    assert sums.totals[world.district][0] == len(inside) + 1
    assert sums.sessions == {
        (world.student, 202509): 1,
        (world.student, 202510): 1,
        (world.student, 202511): 0,  # the short session does not count
        (world.student, 202601): 1,
    }
