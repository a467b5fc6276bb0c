"""The local visit repository: drafts and saves that survive a kill, deletes, conflicts
resolved, and what a pull may and may not change."""

import sqlite3
from pathlib import Path

import pytest

from mobile.core.models import VisitState
from mobile.core.store import Store
from tests.mobile.helpers import change, home_record, result, seeded


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return seeded(tmp_path)


def test_draft_survives_the_process_being_killed(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.visit_repo.save_draft("v1", "home_teaching", "ST1", {"content": "认识颜"})
    # No close(): a killed process never closes. A new Store is a new launch.
    again = Store(tmp_path)
    (draft,) = again.drafts()
    assert draft.id == "v1" and draft.state == VisitState.DRAFT
    assert draft.draft == {"content": "认识颜"}
    assert again.outbox.ops() == []  # a draft is not queued


def test_saved_visit_and_its_op_survive_restart(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    record = home_record()
    store.visit_repo.save_draft(str(record.id), "home_teaching", "ST1", {"content": "x"})
    store.visit_repo.save_visit(record)
    again = Store(tmp_path)
    visit = again.visit(str(record.id))
    assert visit is not None and visit.state == VisitState.PENDING
    assert visit.draft is None and visit.record["content"] == record.content
    (op,) = again.outbox.ops()
    assert op.visit_id == str(record.id) and op.type == "visit.upsert" and not op.sent


def test_visit_and_op_are_written_in_one_transaction(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    # Make the outbox insert fail inside save_visit: the visit row must not remain either.
    store._db.execute(
        "CREATE TEMP TRIGGER no_ops BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'x'); END"
    )
    record = home_record()
    with pytest.raises(sqlite3.IntegrityError):
        store.visit_repo.save_visit(record)
    assert store.visit(str(record.id)) is None
    assert store.outbox.ops() == []


def test_taking_the_server_copy_ends_the_conflict(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    theirs = {
        **record.model_dump(mode="json"),
        "content": "服务器版",
        "version": 3,
        "flags": ["no_photo"],
        "review_status": "pending",
        "flag_notes": {},
    }
    store.outbox.apply_results([result(op.op_id, "conflict", version=3, server_record=theirs)])
    visit = store.visit_repo.resolve_conflict(str(record.id), "server")
    assert visit.state == VisitState.SYNCED and visit.record["content"] == "服务器版"
    assert visit.server_version == 3 and visit.flags == ["no_photo"]
    assert "flag_notes" not in visit.record  # only VisitRecord fields are kept


def test_keeping_mine_over_a_server_deletion_sends_a_new_visit(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    gone = {"id": str(record.id), "deleted": True, "version": 2}
    store.outbox.apply_results([result(op.op_id, "conflict", version=2, server_record=gone)])
    copy = store.visit_repo.resolve_conflict(str(record.id), "mine")
    assert copy.id != str(record.id) and copy.state == VisitState.PENDING
    assert store.visit(str(record.id)).deleted
    (new_op,) = store.outbox.next_batch()
    assert new_op.body["id"] == copy.id and new_op.base_version is None


def test_delete_of_an_unsent_visit_removes_it(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    store.visit_repo.delete_visit(str(record.id))
    assert store.visit(str(record.id)) is None and store.outbox.ops() == []


def test_delete_of_a_synced_visit_queues_a_delete(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    store.visit_repo.delete_visit(str(record.id))
    assert store.visits() == []  # hidden at once
    (delete,) = store.outbox.next_batch()
    assert delete.type == "visit.delete" and delete.base_version == 1
    store.outbox.mark_sent([delete])
    store.outbox.apply_results([result(delete.op_id, "applied", version=2)])
    gone = store.visit(str(record.id))
    assert gone.deleted and gone.state == VisitState.SYNCED


def test_pulled_review_result_reaches_a_synced_visit(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    reviewed = {
        **record.model_dump(mode="json"),
        "version": 1,
        "flags": [],
        "review_status": "rejected",
        "review_reason": "照片不清楚",
        "subsidy_fen": 12000,
        "distance_m": 20000,
    }
    store.apply_pull([change("visit", reviewed, id=str(record.id))], "c1.20", complete=True)
    visit = store.visit(str(record.id))
    assert visit.review_status == "rejected" and visit.review_reason == "照片不清楚"
    assert visit.subsidy_fen == 12000 and not visit.counted
    assert visit.status_text == "已退回" and visit.flag_labels == []


def test_pull_never_overwrites_a_local_edit_on_its_way(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    store.visit_repo.save_visit(record.model_copy(update={"content": "本机新改"}))
    theirs = {**record.model_dump(mode="json"), "content": "旧", "version": 1}
    store.apply_pull([change("visit", theirs, id=str(record.id))], "c", complete=True)
    assert store.visit(str(record.id)).record["content"] == "本机新改"


def test_pull_brings_visits_from_another_device_and_deletions(store: Store) -> None:
    record = home_record()
    theirs = {**record.model_dump(mode="json"), "version": 1, "review_status": "pending"}
    store.apply_pull([change("visit", theirs, id=str(record.id))], "c", complete=True)
    visit = store.visit(str(record.id))
    assert visit.state == VisitState.SYNCED and visit.counted
    store.apply_pull([change("visit", None, id=str(record.id), version=2)], "c", complete=True)
    assert store.visit(str(record.id)).deleted
