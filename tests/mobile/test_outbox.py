"""The outbox rules that make each save reach the server exactly once."""

from pathlib import Path

import pytest

from mobile.core.models import StoreError, VisitState
from mobile.core.store import Store
from shared.protocol import MAX_OPS
from tests.mobile.helpers import change, home_record, result, seeded


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return seeded(tmp_path)


def test_edit_before_sending_rewrites_the_one_op(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (first,) = store.outbox.ops()
    store.outbox.save_visit(record.model_copy(update={"content": "第二稿"}))
    (op,) = store.outbox.ops()
    assert op.op_id == first.op_id and op.body["content"] == "第二稿"
    assert op.base_version is None


def test_op_that_may_have_been_sent_never_changes(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (sent,) = store.outbox.next_batch()
    store.outbox.mark_sent([sent])  # ... and the answer never came
    store.outbox.save_visit(record.model_copy(update={"content": "改过"}))
    first, second = store.outbox.ops()
    assert first.op_id == sent.op_id and first.body == sent.body and first.sent
    assert second.base_pending and second.body["content"] == "改过"
    # The edit waits: only the sent op goes out again, unchanged.
    assert [op.op_id for op in store.outbox.next_batch()] == [sent.op_id]


def test_result_of_the_sent_op_releases_the_next_with_its_version(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (sent,) = store.outbox.next_batch()
    store.outbox.mark_sent([sent])
    store.outbox.save_visit(record.model_copy(update={"content": "改过"}))
    tally = store.outbox.apply_results([result(sent.op_id, "duplicate", version=1)])
    assert tally.synced == 1
    (queued,) = store.outbox.next_batch()
    assert queued.base_version == 1 and not queued.base_pending
    assert store.visit(str(record.id)).state == VisitState.PENDING  # the edit is still on its way
    store.outbox.mark_sent([queued])
    store.outbox.apply_results([result(queued.op_id, "applied", version=2)])
    visit = store.visit(str(record.id))
    assert visit.state == VisitState.SYNCED and visit.server_version == 2
    assert store.outbox.ops() == []


def test_edit_of_a_synced_visit_is_based_on_its_version(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    store.outbox.save_visit(record.model_copy(update={"content": "补充"}))
    (edit,) = store.outbox.next_batch()
    assert edit.base_version == 1 and edit.op_id != op.op_id


def test_conflict_keeps_both_versions_until_the_teacher_chooses(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    theirs = {**record.model_dump(mode="json"), "content": "另一台手机", "version": 2}
    store.outbox.apply_results([result(op.op_id, "conflict", version=2, server_record=theirs)])
    visit = store.visit(str(record.id))
    assert visit.state == VisitState.CONFLICT
    assert visit.record["content"] == record.content
    assert visit.server_record["content"] == "另一台手机"
    assert store.outbox.ops() == []
    with pytest.raises(StoreError):
        store.outbox.save_visit(record)  # choose first
    kept = store.outbox.resolve_conflict(str(record.id), "mine")
    assert kept.state == VisitState.PENDING
    (again,) = store.outbox.next_batch()
    assert again.base_version == 2 and again.body["content"] == record.content


def test_taking_the_server_copy_ends_the_conflict(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
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
    visit = store.outbox.resolve_conflict(str(record.id), "server")
    assert visit.state == VisitState.SYNCED and visit.record["content"] == "服务器版"
    assert visit.server_version == 3 and visit.flags == ["no_photo"]
    assert "flag_notes" not in visit.record  # only VisitRecord fields are kept


def test_keeping_mine_over_a_server_deletion_sends_a_new_visit(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    gone = {"id": str(record.id), "deleted": True, "version": 2}
    store.outbox.apply_results([result(op.op_id, "conflict", version=2, server_record=gone)])
    copy = store.outbox.resolve_conflict(str(record.id), "mine")
    assert copy.id != str(record.id) and copy.state == VisitState.PENDING
    assert store.visit(str(record.id)).deleted
    (new_op,) = store.outbox.next_batch()
    assert new_op.body["id"] == copy.id and new_op.base_version is None


def test_rejected_op_leaves_the_queue_with_the_reason(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    tally = store.outbox.apply_results([result(op.op_id, "rejected")])
    visit = store.visit(str(record.id))
    assert tally.rejected == 1 and visit.state == VisitState.REJECTED
    assert visit.error == "该学生或学校不存在，或未分配给您"
    assert not visit.counted
    # The server stored nothing: the next save is a fresh op for a new record.
    store.outbox.save_visit(record)
    (fixed,) = store.outbox.ops()
    assert fixed.op_id != op.op_id and fixed.base_version is None


def test_photo_not_uploaded_stays_queued_and_may_be_rewritten(store: Store) -> None:
    record = home_record(photos=["a" * 64])
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    error = {"code": "photo_not_uploaded", "message": "照片尚未上传：aaa"}
    tally = store.outbox.apply_results([result(op.op_id, "rejected", error=error)])
    assert tally.waiting_for_photos == 1
    (still,) = store.outbox.ops()
    assert still.op_id == op.op_id and not still.sent and still.last_error
    assert store.visit(str(record.id)).state == VisitState.PENDING
    store.outbox.save_visit(record.model_copy(update={"photos": []}))
    (rewritten,) = store.outbox.ops()
    assert rewritten.op_id != op.op_id and rewritten.body["photos"] == []


def test_ops_with_photos_not_yet_uploaded_are_held_back(store: Store) -> None:
    store.outbox.save_visit(home_record(photos=["a" * 64]))
    plain = home_record()
    store.outbox.save_visit(plain)
    (op,) = store.outbox.next_batch(hold_photos={"a" * 64})
    assert op.visit_id == str(plain.id)


def test_delete_of_an_unsent_visit_removes_it(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    store.outbox.delete_visit(str(record.id))
    assert store.visit(str(record.id)) is None and store.outbox.ops() == []


def test_delete_of_a_synced_visit_queues_a_delete(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    store.outbox.delete_visit(str(record.id))
    assert store.visits() == []  # hidden at once
    (delete,) = store.outbox.next_batch()
    assert delete.type == "visit.delete" and delete.base_version == 1
    store.outbox.mark_sent([delete])
    store.outbox.apply_results([result(delete.op_id, "applied", version=2)])
    gone = store.visit(str(record.id))
    assert gone.deleted and gone.state == VisitState.SYNCED


def test_batches_hold_at_most_max_ops_and_one_op_per_visit(store: Store) -> None:
    for _ in range(MAX_OPS + 3):
        store.outbox.save_visit(home_record())
    batch = store.outbox.next_batch()
    assert len(batch) == MAX_OPS
    assert len({op.visit_id for op in batch}) == MAX_OPS
    small = store.outbox.next_batch(max_bytes=2000)
    assert 1 <= len(small) < 5


def test_pulled_review_result_reaches_a_synced_visit(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
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
    store.outbox.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    store.outbox.save_visit(record.model_copy(update={"content": "本机新改"}))
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


def test_take_batch_marks_what_it_hands_out_as_sent(store: Store) -> None:
    record = home_record()
    store.outbox.save_visit(record)
    (taken,) = store.outbox.take_batch()
    (op,) = store.outbox.ops()
    assert op.op_id == taken.op_id and op.sent and op.attempts == 1
    assert op.body == taken.body
    store.outbox.save_visit(record.model_copy(update={"content": "取走之后的改动"}))
    first, edit = store.outbox.ops()
    assert first.body == taken.body and edit.base_pending  # what went out is what stays
    assert [op.op_id for op in store.outbox.take_batch()] == [taken.op_id]  # resent as it was
