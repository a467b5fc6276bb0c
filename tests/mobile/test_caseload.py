"""Caseload: sessions delivered vs required per child, visits per school, next session due."""

from datetime import UTC, date, datetime
from pathlib import Path

from mobile.core.caseload import (
    NextDue,
    itinerant_caseload,
    next_session_due,
    teacher_caseload,
)
from mobile.core.store import Store
from shared.compliance import required_sessions
from shared.policy import DEFAULT_POLICY
from shared.terms import parse_term
from tests.mobile.helpers import ITINERANT, home_record, itinerant_record, result, seeded

TODAY = date(2025, 11, 12)


def at(day: int, month: int = 11, year: int = 2025) -> datetime:
    return datetime(year, month, day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def synced(store: Store, record, status: str = "applied") -> None:
    store.visit_repo.save_visit(record)
    (op,) = [o for o in store.outbox.next_batch() if o.visit_id == str(record.id)]
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, status, version=1)])


def test_sessions_count_local_and_synced_visits_of_the_minimum_length(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.visit_repo.save_visit(home_record(start=at(3)))  # local, pending
    synced(store, home_record(start=at(5)))  # synced
    store.visit_repo.save_visit(home_record(start=at(6), minutes=40))  # too short
    synced(store, home_record(start=at(7)), status="rejected")  # refused by the server
    gone = home_record(start=at(8))
    synced(store, gone)
    store.visit_repo.delete_visit(str(gone.id))  # deleted
    store.visit_repo.save_visit(home_record(start=at(20, month=10)))  # last month
    store.visit_repo.save_draft("draft", "home_teaching", "ST1", {})  # never saved
    rows = {row.student["id"]: row for row in teacher_caseload(store, TODAY)}
    assert set(rows) == {"ST1", "ST2"}
    st1 = rows["ST1"]
    assert (st1.delivered, st1.required, st1.owed_so_far, st1.min_minutes) == (2, 4, 2, 60)
    assert st1.next_due == NextDue(date(2025, 11, 23), overdue=False)
    assert not st1.met
    st2 = rows["ST2"]
    assert st2.delivered == 0 and st2.next_due == NextDue(date(2025, 11, 8), overdue=True)
    assert "id_number" not in st1.student and st1.student["guardian_phone"]


def test_required_numbers_are_the_shared_rule_and_follow_the_policy(tmp_path: Path) -> None:
    store = seeded(tmp_path, service_sessions_per_month=8, service_min_minutes=30)
    store.visit_repo.save_visit(home_record(start=at(3), minutes=40))
    (row, _) = teacher_caseload(store, TODAY)
    term = parse_term("2025-1")
    assert row.required == 8 and row.delivered == 1 and row.min_minutes == 30
    assert row.owed_so_far == required_sessions(term, 202511, store.policy(None, TODAY), TODAY)


def test_vacation_months_owe_nothing_and_have_no_due_date(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    (row, _) = teacher_caseload(store, date(2026, 7, 20))
    assert row.required == 0 and row.next_due is None and row.met
    (jan, _) = teacher_caseload(store, date(2026, 1, 5))
    assert jan.required == 3  # teaching stops on 23 January: round(4 x 23 / 31)


def test_next_due_spreads_sessions_over_the_teaching_days() -> None:
    term = parse_term("2025-1")
    dues = [next_session_due(term, TODAY, 4, k) for k in range(5)]
    assert [d.day.day for d in dues[:4]] == [8, 15, 23, 30]
    assert dues[4] is None
    assert next_session_due(term, TODAY, 0, 0) is None


def test_itinerant_sees_visits_this_term_against_the_required_number(tmp_path: Path) -> None:
    store = seeded(tmp_path, ITINERANT, itinerant_visits_per_term=3)
    store.visit_repo.save_visit(itinerant_record("SC1", started_at=at(3), ended_at=at(3)))
    synced(store, itinerant_record("SC1", started_at=at(10, 9), ended_at=at(10, 9)))
    gone = itinerant_record("SC1", started_at=at(4), ended_at=at(4))
    store.visit_repo.save_visit(gone)
    store.visit_repo.delete_visit(str(gone.id))
    store.visit_repo.save_visit(itinerant_record("SC1", started_at=at(3, 3), ended_at=at(3, 3)))
    rows = {row.school["id"]: row for row in itinerant_caseload(store, TODAY)}
    assert (rows["SC1"].visits, rows["SC1"].required, rows["SC1"].term) == (2, 3, "2025-1")
    assert not rows["SC1"].covered and rows["SC2"].visits == 0
    assert DEFAULT_POLICY.itinerant_visits_per_term == 2  # the pulled policy was used
