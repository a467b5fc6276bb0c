"""One visit being recorded (``VisitEditor``, no flet): one open draft per child or school,
blank drafts leave nothing, and what a sign-out would lose."""

import asyncio
from datetime import date, datetime
from pathlib import Path

from mobile.core.devices import FakeLocation
from mobile.core.editor import VisitEditor, discard_blank_drafts
from mobile.core.session import sign_out_loss
from mobile.core.store import Store
from shared.terms import SHANGHAI
from tests.mobile.helpers import ITINERANT, home_record, seeded

NOW = datetime(2025, 11, 12, 9, 30, tzinfo=SHANGHAI)


def clock() -> datetime:
    return NOW


def start(store: Store, kind: str, subject: str) -> VisitEditor:
    return asyncio.run(VisitEditor.start_for(store, kind, subject, clock=clock))


def test_starting_a_child_with_an_open_draft_continues_it(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    first = start(store, "home_teaching", "ST1")
    asyncio.run(first.set_value("content", "认识颜色"))
    again = start(store, "home_teaching", "ST1")
    assert again.form.id == first.form.id and again.form.content == "认识颜色"
    other = start(store, "home_teaching", "ST2")  # another child: a visit of its own
    assert other.form.id != first.form.id
    assert len(store.drafts()) == 2


def test_a_saved_visit_is_no_open_draft(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    editor = start(store, "home_teaching", "ST1")
    here = asyncio.run(FakeLocation.at(29.70, 119.10, 12.0).locate())
    asyncio.run(editor.start(here))
    asyncio.run(editor.set_value("content", "认识颜色"))
    asyncio.run(editor.finish(here))
    result = editor.check()
    assert result.record is not None
    asyncio.run(editor.save(result.record))
    assert start(store, "home_teaching", "ST1").form.id != editor.form.id


def test_one_open_draft_per_school_too(tmp_path: Path) -> None:
    store = seeded(tmp_path, ITINERANT)
    first = start(store, "itinerant", "SC1")
    asyncio.run(first.toggle("purposes", "classroom_observation", True))
    assert start(store, "itinerant", "SC1").form.id == first.form.id


def test_blank_drafts_left_by_a_killed_app_are_swept(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    blank = start(store, "home_teaching", "ST1")
    begun = start(store, "home_teaching", "ST2")
    asyncio.run(begun.set_value("content", "认识"))
    assert discard_blank_drafts(Store(tmp_path)) == 1  # the next launch
    assert [v.id for v in store.drafts()] == [begun.form.id]
    assert store.visit(blank.form.id) is None


def test_sign_out_loss_names_unsynced_visits_and_drafts_but_not_blank_forms(
    tmp_path: Path,
) -> None:
    store = seeded(tmp_path)
    assert sign_out_loss(store).nothing
    start(store, "home_teaching", "ST1")  # opened, nothing entered: nothing to lose
    assert sign_out_loss(store).nothing
    begun = start(store, "home_teaching", "ST2")
    asyncio.run(begun.set_value("content", "认识"))
    store.visit_repo.save_visit(home_record())
    loss = sign_out_loss(store)
    assert [v.id for v in loss.drafts] == [begun.form.id]
    assert len(loss.unsynced) == 1 and loss.photos == 0 and not loss.nothing


def test_a_picked_due_date_is_kept_through_a_killed_app_and_the_save(tmp_path: Path) -> None:
    store = seeded(tmp_path, ITINERANT)
    editor = start(store, "itinerant", "SC1")
    asyncio.run(editor.add_recommendation())
    choice = editor.due_date_choice(0)
    assert choice.shown == date(2025, 11, 26) and choice.first == NOW.date()  # two weeks on
    asyncio.run(editor.set_recommendation(0, "text", "增加视觉提示"))
    asyncio.run(editor.set_due_date(0, date(2025, 12, 5)))
    # The app is killed: the draft opened again holds the day, and the picker opens on it.
    again = VisitEditor.load(Store(tmp_path), editor.form.id, clock=clock)
    assert again is not None and again.due_date(0) == date(2025, 12, 5)
    assert again.due_date_choice(0).shown == date(2025, 12, 5)
    here = asyncio.run(FakeLocation.at(29.61, 119.04, 12.0).locate())
    asyncio.run(again.start(here))
    asyncio.run(again.toggle("purposes", "classroom_observation", True))
    asyncio.run(again.set_value("findings", "课堂参与度较好"))
    asyncio.run(again.finish(here))
    record = again.check().record
    assert record is not None and record.recommendations[0].due_date == date(2025, 12, 5)
    asyncio.run(again.set_due_date(0, None))  # cleared: the date is optional
    cleared = again.check().record
    assert cleared is not None and cleared.recommendations[0].due_date is None
    asyncio.run(again.save(cleared))
    saved = Store(tmp_path).visit(editor.form.id)
    assert saved.record["recommendations"] == [{"text": "增加视觉提示", "due_date": None}]
