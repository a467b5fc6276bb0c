"""The push queue's rules that make each save reach the server exactly once."""

from pathlib import Path

import pytest

from mobile.core.models import StoreError, VisitState
from mobile.core.store import Store
from shared.protocol import MAX_OPS
from tests.mobile.helpers import home_record, result, seeded


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return seeded(tmp_path)


def test_edit_before_sending_rewrites_the_one_op(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (first,) = store.outbox.ops()
    store.visit_repo.save_visit(record.model_copy(update={"content": "第二稿"}))
    (op,) = store.outbox.ops()
    assert op.op_id == first.op_id and op.body["content"] == "第二稿"
    assert op.base_version is None


def test_op_that_may_have_been_sent_never_changes(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (sent,) = store.outbox.next_batch()
    store.outbox.mark_sent([sent])  # ... and the answer never came
    store.visit_repo.save_visit(record.model_copy(update={"content": "改过"}))
    first, second = store.outbox.ops()
    assert first.op_id == sent.op_id and first.body == sent.body and first.sent
    assert second.base_pending and second.body["content"] == "改过"
    # The edit waits: only the sent op goes out again, unchanged.
    assert [op.op_id for op in store.outbox.next_batch()] == [sent.op_id]


def test_result_of_the_sent_op_releases_the_next_with_its_version(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (sent,) = store.outbox.next_batch()
    store.outbox.mark_sent([sent])
    store.visit_repo.save_visit(record.model_copy(update={"content": "改过"}))
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
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    store.outbox.apply_results([result(op.op_id, "applied", version=1)])
    store.visit_repo.save_visit(record.model_copy(update={"content": "补充"}))
    (edit,) = store.outbox.next_batch()
    assert edit.base_version == 1 and edit.op_id != op.op_id


def test_conflict_keeps_both_versions_until_the_teacher_chooses(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
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
        store.visit_repo.save_visit(record)  # choose first
    kept = store.visit_repo.resolve_conflict(str(record.id), "mine")
    assert kept.state == VisitState.PENDING
    (again,) = store.outbox.next_batch()
    assert again.base_version == 2 and again.body["content"] == record.content


def test_rejected_op_leaves_the_queue_with_the_reason(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    tally = store.outbox.apply_results([result(op.op_id, "rejected")])
    visit = store.visit(str(record.id))
    assert tally.rejected == 1 and visit.state == VisitState.REJECTED
    assert visit.error == "该学生或学校不存在，或未分配给您"
    assert not visit.counted
    # The server stored nothing: the next save is a fresh op for a new record.
    store.visit_repo.save_visit(record)
    (fixed,) = store.outbox.ops()
    assert fixed.op_id != op.op_id and fixed.base_version is None


def test_photo_not_uploaded_stays_queued_and_may_be_rewritten(store: Store) -> None:
    record = home_record(photos=["a" * 64])
    store.visit_repo.save_visit(record)
    (op,) = store.outbox.next_batch()
    store.outbox.mark_sent([op])
    error = {"code": "photo_not_uploaded", "message": "照片尚未上传：aaa"}
    tally = store.outbox.apply_results([result(op.op_id, "rejected", error=error)])
    assert tally.waiting_for_photos == 1
    (still,) = store.outbox.ops()
    assert still.op_id == op.op_id and not still.sent and still.last_error
    assert store.visit(str(record.id)).state == VisitState.PENDING
    store.visit_repo.save_visit(record.model_copy(update={"photos": []}))
    (rewritten,) = store.outbox.ops()
    assert rewritten.op_id != op.op_id and rewritten.body["photos"] == []


def test_ops_with_photos_not_yet_uploaded_are_held_back(store: Store) -> None:
    store.visit_repo.save_visit(home_record(photos=["a" * 64]))
    plain = home_record()
    store.visit_repo.save_visit(plain)
    (op,) = store.outbox.next_batch(hold_photos={"a" * 64})
    assert op.visit_id == str(plain.id)


def test_batches_hold_at_most_max_ops_and_one_op_per_visit(store: Store) -> None:
    for _ in range(MAX_OPS + 3):
        store.visit_repo.save_visit(home_record())
    batch = store.outbox.next_batch()
    assert len(batch) == MAX_OPS
    assert len({op.visit_id for op in batch}) == MAX_OPS
    small = store.outbox.next_batch(max_bytes=2000)
    assert 1 <= len(small) < 5


def test_take_batch_marks_what_it_hands_out_as_sent(store: Store) -> None:
    record = home_record()
    store.visit_repo.save_visit(record)
    (taken,) = store.outbox.take_batch()
    (op,) = store.outbox.ops()
    assert op.op_id == taken.op_id and op.sent and op.attempts == 1
    assert op.body == taken.body
    store.visit_repo.save_visit(record.model_copy(update={"content": "取走之后的改动"}))
    first, edit = store.outbox.ops()
    assert first.body == taken.body and edit.base_pending  # what went out is what stays
    assert [op.op_id for op in store.outbox.take_batch()] == [taken.op_id]  # resent as it was
