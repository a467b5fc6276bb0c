"""The local store: where it lives, what survives a restart, what sign-out leaves behind."""

from datetime import date
from pathlib import Path

from mobile.core.store import DB_NAME, Store, data_dir
from tests.mobile.helpers import ITINERANT, TEACHER, change, home_record, seeded, student


def test_data_dir_prefers_songjiao_then_flet_then_var(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SONGJIAO_APP_DATA", raising=False)
    monkeypatch.delenv("FLET_APP_STORAGE_DATA", raising=False)
    assert data_dir() == Path("var/app")
    monkeypatch.setenv("FLET_APP_STORAGE_DATA", str(tmp_path / "flet"))
    assert data_dir() == tmp_path / "flet"
    monkeypatch.setenv("SONGJIAO_APP_DATA", str(tmp_path / "sj"))
    assert data_dir() == tmp_path / "sj"
    with Store() as store:
        assert store.path == tmp_path / "sj" / DB_NAME


def test_pull_page_and_cursor_apply_together(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    assert store.cursor() == "c1.10"
    assert {s["id"] for s in store.my_students()} == {"ST1", "ST2"}
    store.apply_pull([change("student", None, id="ST2", version=2)], "c1.11", complete=True)
    assert store.student("ST2") is None and store.cursor() == "c1.11"


def test_unassigned_child_leaves_the_phone_after_a_complete_pull(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.apply_pull([change("assignment", None, id="a1", version=2)], "c1.12", complete=False)
    assert store.student("ST2") is not None  # more pages may still come
    store.apply_pull([], "c1.12", complete=True)
    assert store.student("ST2") is None
    assert store.student("ST1") is not None


def test_itinerant_keeps_children_of_assigned_schools_only(tmp_path: Path) -> None:
    store = seeded(tmp_path, ITINERANT)
    assert [s["id"] for s in store.students()] == ["ST3", "ST4"]
    assert [s["id"] for s in store.my_schools()] == ["SC1", "SC2"]
    assert [s["id"] for s in store.students_at("SC1")] == ["ST3", "ST4"]


def test_policy_in_force_comes_from_pulled_versions(tmp_path: Path) -> None:
    store = seeded(tmp_path, service_sessions_per_month=8, a_param_from_the_future=1)
    assert store.policy(None, date(2025, 11, 3)).service_sessions_per_month == 8
    assert store.policy("999999", date(2025, 11, 3)).service_sessions_per_month == 4


def test_same_photo_is_stored_once(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    first = store.add_photo("a" * 64, b"jpeg bytes")
    second = store.add_photo("a" * 64, b"jpeg bytes")
    assert first == second
    assert [p.name for p in store.photo_dir.iterdir()] == ["a" * 64 + ".jpg"]
    assert store.query("SELECT COUNT(*) AS n FROM photo")[0]["n"] == 1


def test_leftover_photo_files_are_swept_on_open(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.add_photo("b" * 64, b"kept")
    (store.photo_dir / ".half-written.tmp").write_bytes(b"x")
    (store.photo_dir / ("c" * 64 + ".jpg")).write_bytes(b"no row")
    Store(tmp_path)
    assert [p.name for p in store.photo_dir.iterdir()] == ["b" * 64 + ".jpg"]


def test_pending_counts_visits_and_their_photos(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.add_photo("d" * 64, b"1")
    store.add_photo("e" * 64, b"2")  # in no visit: not waiting
    store.visit_repo.save_visit(home_record(photos=["d" * 64]))
    store.visit_repo.save_visit(home_record())
    counts = store.pending_counts()
    assert (counts.records, counts.photos, counts.total) == (2, 1, 3)
    store.mark_photo_uploaded("d" * 64)
    assert store.pending_counts().photos == 0


def test_sign_out_wipes_rows_and_photo_files_but_keeps_server_address(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.set_server_url("http://127.0.0.1:8000")
    store.add_photo("f" * 64, b"child photo")
    store.visit_repo.save_visit(home_record(photos=["f" * 64]))
    store.sign_out()
    assert store.user() is None and store.cursor() is None
    assert store.students() == [] and store.visits() == [] and store.outbox.ops() == []
    assert list(store.photo_dir.iterdir()) == []
    assert store.server_url() == "http://127.0.0.1:8000"
    raw = (tmp_path / DB_NAME).read_bytes()
    assert "张小明".encode() not in raw  # secure_delete + checkpoint: no trace in the file


def test_signing_in_as_someone_else_wipes_the_previous_user(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.set_user(TEACHER)  # the same user again keeps everything
    assert store.student("ST1") is not None
    store.set_user(ITINERANT)
    assert store.students() == [] and store.user() == ITINERANT


def test_needs_sign_in_flag_is_cleared_by_signing_in(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.set_needs_sign_in(True)
    assert Store(tmp_path).needs_sign_in()
    store.set_user(TEACHER)
    assert not store.needs_sign_in()


def test_unknown_student_fields_pass_through(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    store.apply_pull([change("student", student("ST1", new_field=1), id="ST1")], "c", complete=True)
    assert store.student("ST1")["new_field"] == 1
