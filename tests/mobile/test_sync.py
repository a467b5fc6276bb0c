"""The sync client against the real server (SQLite and PostgreSQL), through real network faults."""

import asyncio
import io
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

import mobile.core.sync as sync_module
from mobile.core.caseload import itinerant_caseload, teacher_caseload
from mobile.core.devices import FakeLocation, FakePhotoSource, LocationResult, LocationStatus
from mobile.core.models import VisitState
from mobile.core.photos import save_photo
from mobile.core.store import Store
from mobile.core.sync import SyncClient, SyncError, SyncReport, SyncScheduler
from mobile.core.visit_form import VisitForm, check
from server.models import Photo, User, Visit, VisitPhoto
from server.scope import Scope
from server.services.review import review_visit
from shared.messages import t
from shared.protocol import tap_instant
from tests.conftest import World
from tests.factories import PASSWORD, Factory, delete, upsert
from tests.live import LiveServer, free_port
from tests.mobile.helpers import home_record
from tests.mobile.netfaults import CountingSession, FaultyProxy, failing_server


@pytest.fixture(scope="module")
def field_server(
    server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A second server process on the shared database, which a test may stop and start."""
    live = LiveServer(
        backend=server.backend,
        database_url=server.database_url,
        media_dir=server.media_dir,
        port=free_port(),
        log_path=tmp_path_factory.mktemp("field-server") / "server.log",
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def field(field_server: LiveServer) -> LiveServer:
    if field_server.process is None:  # a failed test may have left it stopped
        field_server.start()
    return field_server


def phone(path: Path, url: str, token: str | None = None) -> SyncClient:
    """A phone: a store on ``path`` and a client that counts what it sends."""
    return SyncClient(Store(path), url, token, http=CountingSession(), device_name=_device())


def _device() -> str:
    return f"测试手机-{uuid.uuid4().hex[:8]}"


def signed_in(path: Path, url: str, username: str) -> SyncClient:
    """Signed in and pulled, as the app is right after 登录."""
    client = phone(path, url)
    client.login(username, PASSWORD)
    client.pull()
    return client


def photo_bytes() -> bytes:
    image = Image.merge("RGB", [Image.effect_noise((800, 600), 40) for _ in range(3)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def server_visits(factory: Factory, teacher: str) -> list[Visit]:
    with factory.session() as s:
        return list(s.exec(select(Visit).where(Visit.teacher == teacher)))


def server_photos(factory: Factory, visit_id: str) -> list[str]:
    with factory.session() as s:
        return list(s.exec(select(VisitPhoto.sha256).where(VisitPhoto.visit_id == visit_id)))


def record_visit(client: SyncClient, kind: str, subject: str, with_photo: bool = True) -> str:
    """What the visit screen does: 开始, content, a photo, 结束, check, save."""
    store = client.store
    form = VisitForm.new(kind, subject)
    now = datetime.now(UTC).replace(microsecond=0)
    here = asyncio.run(FakeLocation.at(30.30, 120.10, 15).locate())
    form.start(now - timedelta(minutes=75), here)
    store.visit_repo.save_draft(form.id, kind, subject, form.to_dict())
    if kind == "home_teaching":
        form.content = "认识颜色：红、黄、蓝"
    else:
        form.purposes, form.findings = ["classroom_observation"], "课堂参与度较好"
    if with_photo:
        picture = asyncio.run(FakePhotoSource([photo_bytes()]).take())
        assert picture is not None
        form.photos.append(save_photo(store, picture).sha256)
    form.finish(now, here)
    store.visit_repo.save_draft(form.id, kind, subject, form.to_dict())
    subject_row = store.student(subject) if kind == "home_teaching" else store.school(subject)
    result = check(form, now=now, subject=subject_row)
    assert result.ok, result.errors
    assert result.record is not None
    store.visit_repo.save_visit(result.record)
    return form.id


@pytest.mark.parametrize("kind", ["home_teaching", "itinerant"])
def test_offline_day_reaches_the_server_exactly_once(
    kind: str, world: World, factory: Factory, field: LiveServer, tmp_path: Path
) -> None:
    username = world.teacher if kind == "home_teaching" else world.itinerant
    subject = world.student if kind == "home_teaching" else world.school
    client = phone(tmp_path, field.url)
    client.login(username, PASSWORD)
    first = client.sync()
    assert first.ok and first.pulled > 0, first
    if kind == "home_teaching":
        assert [row.student["id"] for row in teacher_caseload(client.store)] == [subject]
    else:
        assert [row.school["id"] for row in itinerant_caseload(client.store)] == [subject]

    field.stop()  # into the hills: no signal
    visit_id = record_visit(client, kind, subject)
    offline = client.sync()
    assert not offline.ok and offline.error == t("mobile.offline")
    assert client.store.pending_counts().total == 2  # one record, one photo

    # The app is killed; a new process opens the same store.
    token = client.token
    again = phone(tmp_path, field.url, token)
    visit = again.store.visit(visit_id)
    assert visit is not None and visit.state == VisitState.PENDING and visit.draft is None
    (sha,) = visit.record["photos"]
    assert again.store.photo_file(sha).exists()

    field.start()  # back in signal
    report = again.sync()
    assert report.ok and (report.synced, report.photos_uploaded) == (1, 1), report
    (stored,) = server_visits(factory, username)
    assert stored.id == visit_id and server_photos(factory, visit_id) == [sha]
    assert world.c.get(f"/photos/{sha}").status_code == 200
    synced = again.store.visit(visit_id)
    assert synced.state == VisitState.SYNCED and synced.server_version == 1
    assert synced.review_status == "pending" and synced.subsidy_fen == stored.subsidy_fen
    assert synced.flags == stored.flags and synced.status_text == "待审核"
    assert again.store.pending_counts().total == 0

    http = again.http
    assert isinstance(http, CountingSession)
    http.sent.clear()
    quiet = again.sync()
    assert quiet.ok and quiet.synced == 0 and quiet.photos_uploaded == 0
    assert http.methods() == ["GET", "GET"] and http.body_bytes() == 0  # two pulls, nothing sent
    assert len(server_visits(factory, username)) == 1


def test_tap_instants_and_a_corrected_time_reach_the_server_and_come_back(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path / "phone", server.url, world.teacher)
    store = client.store
    tapped = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=4)
    here = asyncio.run(FakeLocation.at(30.30, 120.10, 15).locate())
    form = VisitForm.new("home_teaching", world.student)
    form.start(tapped, here)
    form.finish(tapped + timedelta(minutes=70), here)
    form.started_at = (tapped - timedelta(minutes=90)).isoformat()  # the teacher corrects it
    form.content = "认识颜色"
    result = check(form, now=tapped + timedelta(hours=1), subject=store.student(world.student))
    assert result.record is not None
    store.visit_repo.save_visit(result.record)
    (op,) = store.outbox.ops()
    assert datetime.fromisoformat(op.body["check_in"]["at"]) == tapped  # what the outbox sends
    assert client.sync().ok
    (stored,) = server_visits(factory, world.teacher)
    assert datetime.fromisoformat(stored.record["check_in"]["at"]) == tapped
    assert datetime.fromisoformat(stored.record["started_at"]) == tapped - timedelta(minutes=90)
    # Another phone of the same teacher pulls the visit: the correction is still visible.
    other = signed_in(tmp_path / "other", server.url, world.teacher)
    pulled = other.store.visit(str(result.record.id))
    assert pulled is not None
    again = VisitForm.from_visit(pulled)
    assert datetime.fromisoformat(again.corrected("started_at") or "") == tapped
    assert again.corrected("ended_at") is None


def test_tap_instants_without_a_position_reach_the_server_and_come_back(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    """GPS denied at 开始 and 结束: the taps' instants still travel (``check_in_at`` /
    ``check_out_at``), are stored, and a second phone sees the corrected start time."""
    client = signed_in(tmp_path / "phone", server.url, world.teacher)
    store = client.store
    tapped = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=4)
    nowhere = LocationResult(LocationStatus.DENIED)
    form = VisitForm.new("home_teaching", world.student)
    form.start(tapped, nowhere)
    form.finish(tapped + timedelta(minutes=70), nowhere)
    form.started_at = (tapped - timedelta(minutes=30)).isoformat()  # the teacher corrects it
    form.content = "认识颜色"
    result = check(form, now=tapped + timedelta(hours=1), subject=store.student(world.student))
    assert result.record is not None
    store.visit_repo.save_visit(result.record)
    (op,) = store.outbox.ops()
    assert op.body["check_in"] is None
    assert datetime.fromisoformat(op.body["check_in_at"]) == tapped
    assert client.sync().ok
    (stored,) = server_visits(factory, world.teacher)
    assert datetime.fromisoformat(tap_instant(stored.record, "check_in") or "") == tapped
    assert datetime.fromisoformat(tap_instant(stored.record, "check_out") or "") == (
        tapped + timedelta(minutes=70)
    )
    other = signed_in(tmp_path / "other", server.url, world.teacher)
    pulled = other.store.visit(str(result.record.id))
    assert pulled is not None
    again = VisitForm.from_visit(pulled)
    assert again.check_in is None
    assert datetime.fromisoformat(again.corrected("started_at") or "") == tapped
    assert again.corrected("ended_at") is None


def test_lost_push_response_still_gives_one_visit(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    with FaultyProxy(server.url) as proxy:
        client = signed_in(tmp_path, proxy.url, world.teacher)
        record = home_record(world.student)
        client.store.visit_repo.save_visit(record)
        proxy.arm("drop_response", "POST", "/api/v1/sync/push")
        lost = client.sync()
        assert not lost.ok and lost.error == t("mobile.offline")
        assert len(server_visits(factory, world.teacher)) == 1  # it did land
        (op,) = client.store.outbox.ops()
        assert op.sent and op.attempts == 1
        # The teacher edits while the answer is lost: the edit queues behind the sent op.
        client.store.visit_repo.save_visit(
            record.model_copy(update={"content": "补充：会指认黄色"})
        )
        report = client.sync()
    assert report.ok and report.synced == 2, report
    (stored,) = server_visits(factory, world.teacher)
    assert stored.version == 2 and stored.record["content"] == "补充：会指认黄色"
    visit = client.store.visit(str(record.id))
    assert visit.state == VisitState.SYNCED and visit.server_version == 2


def test_connection_closed_mid_upload_loses_nothing(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    with FaultyProxy(server.url) as proxy:
        client = signed_in(tmp_path, proxy.url, world.teacher)
        visit_id = record_visit(client, "home_teaching", world.student)
        proxy.arm("cut_upload", "PUT", "/api/v1/photos/")
        cut = client.sync()
        assert not cut.ok and cut.error == t("mobile.offline")
        assert server_visits(factory, world.teacher) == []
        assert client.store.pending_counts().total == 2
        (op,) = client.store.outbox.ops()
        assert not op.sent  # held back: its photo is not on the server
        report = client.sync()
    assert report.ok and (report.synced, report.photos_uploaded) == (1, 1), report
    (stored,) = server_visits(factory, world.teacher)
    assert stored.id == visit_id and len(server_photos(factory, visit_id)) == 1


def test_server_errors_and_garbage_lose_nothing(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    record = home_record(world.student)
    client.store.visit_repo.save_visit(record)
    with failing_server(500) as url:
        broken = SyncClient(client.store, url, client.token)
        report = broken.sync()
    assert not report.ok and report.error == t("mobile.server_error", status=500)
    with FaultyProxy(server.url) as proxy:
        via = SyncClient(client.store, proxy.url, client.token)
        proxy.arm("status_500", "POST", "/api/v1/sync/push")
        assert via.sync().error == t("mobile.server_error", status=500)
        proxy.arm("garbage", "GET", "/api/v1/sync/pull")
        assert via.sync().error == t("mobile.bad_response")
        assert server_visits(factory, world.teacher) == []
        assert client.store.visit(str(record.id)).state == VisitState.PENDING
        report = via.sync()
    assert report.ok and report.synced == 1
    assert len(server_visits(factory, world.teacher)) == 1


def test_revoked_token_asks_for_sign_in_and_loses_nothing(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    record = home_record(world.student)
    client.store.visit_repo.save_visit(record)
    devices = world.c.get("/devices").json()
    (mine,) = [d for d in devices if d["device_name"] == client.device_name]
    assert world.c.post(f"/devices/{mine['id']}/revoke").status_code == 200
    report = client.sync()
    assert report.needs_sign_in and report.error == t("mobile.signed_out")
    assert client.store.needs_sign_in() and Store(tmp_path).needs_sign_in()
    assert SyncScheduler(client.sync).delay_after(report) is None  # no retry loop
    assert client.sync().needs_sign_in  # and no request either until sign-in
    assert client.store.visit(str(record.id)).state == VisitState.PENDING
    client.login(world.teacher, PASSWORD)
    assert client.sync().ok
    assert len(server_visits(factory, world.teacher)) == 1


def test_conflict_keeps_both_versions_until_the_teacher_chooses(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    record = home_record(world.student)
    client.store.visit_repo.save_visit(record)
    assert client.sync().ok
    other = record.model_dump(mode="json") | {"content": "第二版（另一台手机）"}
    assert world.t.push(upsert(other, base_version=1))[0]["status"] == "applied"
    client.store.visit_repo.save_visit(record.model_copy(update={"content": "本机的改动"}))
    report = client.sync()
    assert report.ok and report.conflicts == 1
    visit = client.store.visit(str(record.id))
    assert visit.state == VisitState.CONFLICT
    assert visit.record["content"] == "本机的改动"
    assert visit.server_record["content"] == "第二版（另一台手机）"
    assert visit.status_text == "有冲突"
    client.store.visit_repo.resolve_conflict(str(record.id), "mine")
    assert client.sync().ok
    (stored,) = server_visits(factory, world.teacher)
    assert stored.version == 3 and stored.record["content"] == "本机的改动"


def test_review_results_and_deletions_come_back_to_the_phone(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    kept, dropped = home_record(world.student), home_record(world.student)
    for record in (kept, dropped):
        client.store.visit_repo.save_visit(record)
    assert client.sync().ok
    with factory.session() as s:
        coordinator = s.exec(select(User).where(User.username == world.coordinator)).one()
        review_visit(
            s,
            scope=Scope.of(coordinator),
            visit_id=str(kept.id),
            decision="rejected",
            reason="照片不清楚，请补充",
        )
        s.commit()
    assert world.t.push(delete(str(dropped.id), base_version=1))[0]["status"] == "applied"
    assert client.sync().ok
    visit = client.store.visit(str(kept.id))
    assert visit.review_status == "rejected" and visit.review_reason == "照片不清楚，请补充"
    assert visit.status_text == "已退回" and not visit.counted
    assert client.store.visit(str(dropped.id)).deleted
    assert [v.id for v in client.store.visits()] == [str(kept.id)]


def test_refused_record_shows_the_servers_reason(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    stranger = home_record("ST-not-mine")
    client.store.visit_repo.save_visit(stranger)
    report = client.sync()
    assert report.ok and report.rejected == 1
    visit = client.store.visit(str(stranger.id))
    assert visit.state == VisitState.REJECTED and visit.error == t("not_assigned")
    assert client.store.outbox.ops() == []


def test_pull_follows_the_cursor_over_many_pages(
    world: World, server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        assert world.t.push(upsert(home_record(world.student).model_dump(mode="json")))
    monkeypatch.setattr(sync_module, "PULL_LIMIT", 2)
    client = phone(tmp_path, server.url)
    client.login(world.teacher, PASSWORD)
    pages: list[int] = []
    assert client.pull(lambda p: pages.append(p.done)) >= 7
    assert len(client.store.visits()) == 5 and len(pages) >= 4
    assert client.store.student(world.student) is not None
    assert client.pull() == 0  # the cursor remembers


def test_sign_in_failures_are_explained(world: World, server: LiveServer, tmp_path: Path) -> None:
    client = phone(tmp_path, server.url)
    with pytest.raises(SyncError, match=t("bad_credentials")):
        client.login(world.teacher, "wrong password")
    with pytest.raises(SyncError, match=t("mobile.offline")):
        phone(tmp_path / "x", f"http://127.0.0.1:{free_port()}").login(world.teacher, PASSWORD)
    with pytest.raises(SyncError, match=t("mobile.bad_server_url")):
        phone(tmp_path / "y", "ftp://example")
    client.login(world.teacher, PASSWORD)
    assert client.store.user().base_school_id == world.special_school
    assert client.store.server_url() == server.url
    client.store.visit_repo.save_visit(home_record(world.student))
    with pytest.raises(SyncError, match="未同步"):
        client.login(world.itinerant, PASSWORD)  # would wipe the teacher's unsent record
    assert client.store.user().username == world.teacher


def test_photo_is_never_sent_twice(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    record_visit(client, "home_teaching", world.student)
    assert client.sync().ok
    sha = client.store.visits()[0].record["photos"][0]
    # A second visit with the same photo: the record goes, the photo does not.
    client.store.visit_repo.save_visit(
        home_record(world.student, photos=[sha], start=datetime.now(UTC) - timedelta(days=1))
    )
    http = client.http
    assert isinstance(http, CountingSession)
    http.sent.clear()
    report = client.sync()
    assert report.ok and report.synced == 1 and report.photos_uploaded == 0
    assert "PUT" not in http.methods()
    with factory.session() as s:
        assert s.get(Photo, sha) is not None
    assert abs(client.store.clock_skew_s() or 0) < 5  # the server's Date header was read


def test_a_broken_local_photo_holds_only_its_own_visit(
    world: World, factory: Factory, server: LiveServer, tmp_path: Path
) -> None:
    client = signed_in(tmp_path, server.url, world.teacher)
    broken = record_visit(client, "home_teaching", world.student)
    sha = client.store.visit(broken).record["photos"][0]
    client.store.photo_file(sha).write_bytes(b"flipped bits on a failing SD card")
    fine = home_record(world.student, start=datetime.now(UTC) - timedelta(days=1))
    client.store.visit_repo.save_visit(fine)
    report = client.sync()
    assert report.ok and report.synced == 1 and report.photos_uploaded == 0
    assert report.photo_errors == [t("mobile.photo_upload_failed", message=t("hash_mismatch"))]
    assert client.store.photo(sha).last_error == report.photo_errors[0]
    assert [v.id for v in server_visits(factory, world.teacher)] == [str(fine.id)]
    assert client.store.visit(broken).state == VisitState.PENDING
    client.store.photo_file(sha).unlink()
    missing = client.sync()
    assert missing.photo_errors == [t("mobile.photo_missing", sha256=sha[:12])]
    assert missing.summary().endswith(missing.photo_errors[0])


# -- the scheduler: pure logic, no waiting ---------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_ten_minutes_and_resets() -> None:
    scheduler = SyncScheduler(lambda: SyncReport(), rng=random.Random(7))
    failed = SyncReport(error="x")
    delays = [scheduler.delay_after(failed) for _ in range(10)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(600.0, 5.0 * 2 ** (n - 1))
        assert delay is not None and ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered
    assert scheduler.delay_after(SyncReport(ok=True)) == 300.0
    assert scheduler.failures == 0
    assert scheduler.delay_after(failed) <= 5.0


def test_run_sleeps_between_rounds_and_stops_for_sign_in() -> None:
    reports = iter(
        [SyncReport(error="离线"), SyncReport(error="离线"), SyncReport(ok=True)]
        + [SyncReport(needs_sign_in=True)]
    )
    slept: list[float] = []
    seen: list[SyncReport] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    scheduler = SyncScheduler(
        lambda: next(reports), sleep=sleep, on_report=seen.append, rng=random.Random(1)
    )
    last = asyncio.run(scheduler.run(max_rounds=10))
    assert last is not None and last.needs_sign_in and len(seen) == 4
    assert len(slept) == 3 and slept[2] == 300.0 and all(s >= 1 for s in slept)
    bounded = SyncScheduler(lambda: SyncReport(error="x"), sleep=sleep)
    slept.clear()
    asyncio.run(bounded.run(max_rounds=3))
    assert len(slept) == 2


def test_trigger_wakes_the_scheduler_at_once() -> None:
    rounds: list[SyncReport] = []

    async def scenario() -> None:
        scheduler = SyncScheduler(lambda: SyncReport(ok=True), idle_s=3600, on_report=rounds.append)
        task = asyncio.create_task(scheduler.run(max_rounds=2))
        for _ in range(200):
            if rounds:
                break
            await asyncio.sleep(0.01)
        scheduler.trigger()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert len(rounds) == 2
