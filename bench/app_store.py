"""The field app's local store and sync client: save latency, and a sync of 200 visits with photos.

Run: ``.venv/bin/python bench/app_store.py [--only save|sync]``  (~3 min; ``sync`` is most of it)

(a) A teacher's phone store holding 5,000 synced visits (``Store.apply_pull`` in pages of 1,000,
as a pull writes them). 200 more visits are recorded with ``mobile.core.editor.VisitEditor``
as the visit screen does (a draft saved on every change) and timed at 保存: ``editor.check()`` then
``editor.save(record)``, one transaction each. Baseline, interleaved: ``BEGIN IMMEDIATE``, INSERT of
the same visit row into the app's schema in a fresh file with the same pragmas, ``COMMIT``.
Target (issue 3): p95 save < 30 ms.

(b) ``songjiao serve`` on 127.0.0.1 with ``bench/sync_push.py``'s roster. A fresh phone signs in
and pulls, then records 200 visits with 3 photos each (distinct 2000x1500 camera JPEGs with GPS
EXIF, through ``editor.add_photo``: the photo pipeline). Timed: one ``SyncClient.sync()``. Every
byte the client writes to its sockets is counted. Checked: the server holds the 200 visits with 3
photos each, no photo was sent twice, a second sync sends no photo and no op. Baseline, against a
second fresh server: plain ``requests`` PUTs of the same 600 files and one push of the same ops.
"""

import argparse
import asyncio
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Server, WireCount, camera_jpegs, counting_session, machine, percentile, verdict
from sync_push import DISTRICT, PASSWORD, home_record, setup

from mobile.core.db import MIGRATIONS
from mobile.core.editor import VisitEditor
from mobile.core.models import User
from mobile.core.store import Store
from mobile.core.sync import SyncClient
from shared.protocol import Change
from shared.terms import SHANGHAI, local_month

STORED, SAVES = 5_000, 200
VISITS, PHOTOS_PER_VISIT = 200, 3
TEACHER = "teacher00"  # sync_push.setup: 12 children ST00000..ST00011, photo consent given
STUDENTS = [f"ST00{k:03d}" for k in range(12)]
FORM_FIELDS = ("started_at", "ended_at", "check_in", "check_out", "content", "iep_goals",
               "student_response", "guardian_guidance")  # fmt: skip


def now() -> datetime:
    return datetime.now(SHANGHAI)


def starts(count: int, days_ago: int) -> list[datetime]:
    """Four sessions a day (09:00, 11:00, 14:00, 16:00 Shanghai), the last ``days_ago`` days ago."""
    day0 = (now() - timedelta(days=days_ago + count // 4)).replace(hour=9, minute=0, second=0)
    return [day0 + timedelta(days=i // 4, hours=(0, 2, 5, 7)[i % 4]) for i in range(count)]


def visit(i: int, start: datetime) -> dict:
    k = i % len(STUDENTS)
    return home_record(STUDENTS[k], start, 29.55 + k * 0.003, 119.00)


async def record_visit(store: Store, i: int, start: datetime, photos: list[bytes]) -> VisitEditor:
    """A visit recorded as the screen does it, up to (not including) 保存."""
    fields = visit(i, start)
    editor = await VisitEditor.create(store, "home_teaching", fields["student_id"], clock=now)
    for data in photos:
        await editor.add_photo(data)
    editor.form.check_in_status = editor.form.check_out_status = "ok"
    for name in FORM_FIELDS:  # each change saves the draft, as on the screen
        await editor.set_value(name, fields[name])
    return editor


async def save(editor: VisitEditor) -> None:
    """保存, as mobile/ui/visit/screen.py ``_save`` and ``_store`` do it."""
    result = editor.check()
    assert result.record is not None, result.errors
    await editor.save(result.record)


def change(entity: str, id: str, record: dict) -> Change:
    return Change(entity=entity, id=id, version=1, deleted=False, record=record)


def seeded_store(directory: Path) -> Store:
    """The teacher's phone: children, assignments, and STORED synced visits, pulled."""
    store = Store(directory)
    store.set_user(User(TEACHER, "送教教师0", "teacher", DISTRICT, "SCH000"))
    child = {"school_id": "SCH000", "district_code": DISTRICT, "photo_consent": True}
    changes = [change("student", s, {"id": s, "name": s, **child}) for s in STUDENTS]
    assigned = [{"username": TEACHER, "student_id": s, "school_id": None} for s in STUDENTS]
    changes += [change("assignment", f"a{n}", a) for n, a in enumerate(assigned)]
    store.apply_pull(changes, "c.0", complete=True)
    history = starts(STORED, days_ago=SAVES // 4 + 2)
    server = {"teacher": TEACHER, "version": 1, "flags": [], "review_status": "approved"}
    for page in range(0, STORED, 1000):
        visits = []
        for i in range(page, page + 1000):
            rec = visit(i, history[i]) | server | {"subsidy_fen": 3000, "distance_m": 12000}
            visits.append(change("visit", rec["id"], rec | {"received_at": rec["ended_at"]}))
        store.apply_pull(visits, f"c.{page + 1000}", complete=False)
    return store


def bare_insert(raw: sqlite3.Connection, i: int, start: datetime, photos: list[str]) -> float:
    """Seconds for one row like the app's visit row, in its own transaction."""
    rec = visit(i, start) | {"photos": photos}
    utc, body = start.astimezone(UTC).isoformat(), json.dumps(rec, ensure_ascii=False)
    month, stamp = local_month(start), now().isoformat()
    row = (rec["id"], rec["kind"], rec["student_id"], "pending", utc, month, body, stamp)
    t0 = time.perf_counter()
    raw.execute("BEGIN IMMEDIATE")
    raw.execute(
        "INSERT INTO visit (id, kind, subject_id, state, started_at, month, record, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    raw.execute("COMMIT")
    return time.perf_counter() - t0


async def bench_saves(tmp: Path) -> None:
    store = seeded_store(tmp / "phone-a")
    raw = sqlite3.connect(tmp / "raw-a.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):  # as Store's
        raw.execute(f"PRAGMA {pragma}")
    raw.executescript(MIGRATIONS[0])
    ours, bare = [], []
    for i, start in enumerate(starts(SAVES, days_ago=1)):
        editor = await record_visit(store, i, start, [])
        # Three photo names, as a visit lists them (the files do not matter to a save).
        photos = [hashlib.sha256(f"{editor.form.id}/{n}".encode()).hexdigest() for n in range(3)]
        await editor.set_value("photos", photos)
        t0 = time.perf_counter()
        await save(editor)
        ours.append(time.perf_counter() - t0)
        bare.append(bare_insert(raw, i, start, photos))  # interleaved: load hits both alike
    held, queued = len(store.visits()), len(store.outbox.ops())
    (raw_rows,) = raw.execute("SELECT count(*) FROM visit").fetchone()
    store.close()
    raw.close()
    p50, p95, b50, b95 = (percentile(v, p) * 1000 for v in (ours, bare) for p in (50, 95))
    print(f"(a) save: {SAVES} visits, one by one, over {STORED:,} stored (check + save_visit)")
    print(f"          p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(ours) * 1000:.1f} ms")
    print(f"baseline: INSERT + COMMIT, fresh file: p50 {b50:.1f} ms, p95 {b95:.1f} ms")
    print(f"ratio:    save / bare: p50 {p50 / b50:.2f}x, p95 {p95 / b95:.2f}x")
    print(f"check:    {held} visits and {queued} queued ops on the phone, {raw_rows} raw rows")
    print(f"targets:  p95 < 30 ms (issue 3) {verdict(p95 < 30)}; p95 < 50 ms {verdict(p95 < 50)}")
    if not (held == STORED + SAVES and queued == SAVES == raw_rows):
        raise SystemExit("FAILED: the phone does not hold the saved visits")


def on_server(url: str) -> tuple[dict[str, int], set[str]]:
    """(photo links per visit of TEACHER, photo names) in the server's database."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    sql = "SELECT v.id, count(p.sha256) FROM visit v LEFT JOIN visit_photo p ON p.visit_id = v.id"
    links = dict(conn.execute(f"{sql} WHERE v.teacher = ? GROUP BY v.id", (TEACHER,)))
    names = {sha for (sha,) in conn.execute("SELECT sha256 FROM photo")}
    conn.close()
    return links, names


async def app_sync(tmp: Path) -> dict:
    url = f"sqlite:///{tmp / 'server.db'}"
    setup(url)
    with Server(url, tmp) as server:
        store, count = Store(tmp / "phone"), WireCount()
        client = SyncClient(store, server.url, http=counting_session(count))
        client.login(TEACHER, PASSWORD)
        assert client.sync().ok  # the roster, as after the first sign-in
        t0 = time.perf_counter()
        inputs, ids = camera_jpegs((2000, 1500), VISITS * PHOTOS_PER_VISIT), set()
        for i, start in enumerate(starts(VISITS, days_ago=1)):
            mine = inputs[i * PHOTOS_PER_VISIT : (i + 1) * PHOTOS_PER_VISIT]
            editor = await record_visit(store, i, start, mine)
            await save(editor)
            ids.add(editor.form.id)
        made = time.perf_counter() - t0
        ops = [op.wire() for op in store.outbox.ops()]
        photos = {s: store.photo_file(s).read_bytes() for op in ops for s in op["record"]["photos"]}
        count.take()
        t0 = time.perf_counter()
        report = client.sync()
        seconds = time.perf_counter() - t0
        first = count.take()
        again = client.sync()
        links, names = on_server(url)
        store.close()
    return dict(
        made=made, ops=ops, photos=photos, ids=ids, report=report, seconds=seconds,
        first=first, again=again, second=count.take(), links=links, names=names,
    )  # fmt: skip


def raw_upload(
    tmp: Path, photos: dict[str, bytes], ops: list[dict]
) -> tuple[float, WireCount, int]:
    """(seconds, what was sent, photos and visits stored) with plain requests."""
    url = f"sqlite:///{tmp / 'server.db'}"
    setup(url)
    with Server(url, tmp) as server:
        count = WireCount()
        http, api = counting_session(count), f"{server.url}/api/v1"
        login = {"username": TEACHER, "password": PASSWORD, "device_name": "bench"}
        token = http.post(f"{api}/auth/login", json=login, timeout=60).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        count.take()
        jpeg, stored = {"Content-Type": "image/jpeg"}, 0
        t0 = time.perf_counter()
        for sha, data in photos.items():
            r = http.put(f"{api}/photos/{sha}", data=data, headers=jpeg, timeout=60)
            stored += r.status_code == 201
        r = http.post(f"{api}/sync/push", json={"ops": ops}, timeout=120)
        seconds = time.perf_counter() - t0
        stored += sum(res["status"] == "applied" for res in r.json()["results"])
    return seconds, count.take(), stored


def route(method: str, path: str) -> str:
    return f"{method} " + ("photos/{sha}" if "/photos/" in path else path.removeprefix("/api/v1/"))


async def bench_sync(tmp: Path) -> None:
    (tmp / "app").mkdir()
    (tmp / "raw").mkdir()
    run = await app_sync(tmp / "app")
    photos, first, second, report = run["photos"], run["first"], run["second"], run["report"]
    raw_s, raw, raw_stored = raw_upload(tmp / "raw", photos, run["ops"])
    seconds, links, sent = run["seconds"], run["links"], first.wire_bytes
    puts = first.bodies("PUT", "/api/v1/photos/")
    photo_bytes, distinct = sum(n for _, n in puts), sum(len(d) for d in photos.values())
    kinds = ", ".join(
        f"{n} {k}" for k, n in Counter(route(m, p) for m, p, _ in first.requests).items()
    )
    pushes = len(second.bodies("POST", "/api/v1/sync/push"))
    once = photo_bytes == distinct and len(puts) == len({p for p, _ in puts}) == len(photos)
    quiet = run["again"].ok and not second.bodies("PUT", "/") and not pushes
    lines = [
        f"(b) sync: {VISITS} visits with {len(photos)} photos "
        f"({distinct / len(photos) / 1024:.0f} KB avg), recorded in {run['made']:.0f} s (untimed)",
        f"          one SyncClient.sync(): {seconds:.2f} s, {VISITS / seconds:.1f} visits/s, "
        f"{len(first.requests)} requests ({kinds})",
        f"          {sent:,} bytes sent, {sent / VISITS:,.0f} per visit; photo bodies "
        f"{photo_bytes:,}, the rest {(sent - photo_bytes) / VISITS:,.0f} per visit",
        f"baseline: {len(photos)} plain PUTs + 1 push of {len(run['ops'])} ops: {raw_s:.2f} s, "
        f"{raw.wire_bytes:,} bytes, {raw.wire_bytes / VISITS:,.0f} per visit",
        f"ratio:    sync / baseline: time {seconds / raw_s:.2f}x, "
        f"bytes {sent / raw.wire_bytes:.3f}x",
        f"check:    synced {report.synced}, photos uploaded {report.photos_uploaded}; the server "
        f"holds {len(links)} visits, {sum(links.values())} photo links, {len(run['names'])} photos",
        f"          second sync: {len(second.requests)} requests, {second.wire_bytes:,} bytes, "
        f"{len(second.bodies('PUT', '/'))} PUTs, {pushes} pushes",
        f"targets:  no photo byte sent twice {verdict(once)}; "
        f"second sync sends no photo and no op {verdict(quiet)}",
    ]
    print("\n".join(lines))
    held = set(links) == run["ids"] and all(n == PHOTOS_PER_VISIT for n in links.values())
    if not (report.ok and held and set(photos) <= run["names"] and raw_stored == 800):
        raise SystemExit("FAILED: a server does not hold the 200 visits with their photos")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("save", "sync"), help="run one part")
    only = parser.parse_args().only
    print(machine())
    with tempfile.TemporaryDirectory(prefix="sj-bench-app-") as tmp:
        if only != "sync":
            asyncio.run(bench_saves(Path(tmp)))
        if only != "save":
            asyncio.run(bench_sync(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
