"""One visit being recorded (``VisitEditor``, no flet): one open draft per child or school,
blank drafts leave nothing, and what a sign-out would lose."""

import asyncio
from datetime import datetime
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
