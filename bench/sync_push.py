"""Push throughput: 10,000 ``visit.upsert`` ops over HTTP against a raw sqlite3 baseline.

Run: ``.venv/bin/python bench/sync_push.py [--database postgresql]``

A fresh SQLite database in a temporary folder gets one district, its schools, teachers and
their students (written through the service layer before the server starts). Then
``songjiao serve`` runs on 127.0.0.1 and the teachers push 10,000 home-teaching visits in
batches of 500, one teacher per push, over keep-alive connections; the time from the first
request to the last response is the figure. The baseline, measured in the same run, is
``sqlite3.executemany`` inserting the same 10,000 rows into a fresh database with the same
schema. Targets: >= 10,000 ops/s and >= 5% of the raw rate.

With ``--database postgresql`` the server runs on a fresh database on 127.0.0.1:5432 (made
for the run, dropped afterwards) and the baseline is psycopg's ``executemany`` of the same rows
into another fresh database with the same schema.
"""

import argparse
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa
from _common import (
    INSERT_VISIT,
    VISIT_COLUMNS,
    Server,
    fresh_database,
    machine,
    verdict,
    visit_row,
)
from sqlmodel import Session

from server.db import make_engine, migrate
from server.models import User
from server.security import hash_password
from server.services import registry

DISTRICT = "330127"
TEACHERS = 10
STUDENTS_PER_TEACHER = 12
OPS = 10_000
BATCH = 500
VISITS_PER_DAY = 4
PASSWORD = "bench 送教 password"
TARGET_OPS_S = 10_000
TARGET_SHARE = 0.05
HTTP_TIMEOUT_S = 120  # per push; the whole run is bounded by OPS / BATCH pushes


def counts(url: str) -> tuple[int, int]:
    """(visits, sync ops) stored."""
    engine = make_engine(url)
    with engine.connect() as conn:
        visits = conn.execute(sa.text("SELECT count(*) FROM visit")).scalar_one()
        ops = conn.execute(sa.text("SELECT count(*) FROM sync_op")).scalar_one()
    engine.dispose()
    return int(visits), int(ops)


def setup(url: str) -> dict[str, list[str]]:
    """Roster straight into the database; returns each teacher's students."""
    migrate(url)
    engine = make_engine(url)
    password_hash = hash_password(PASSWORD)  # once: argon2 is deliberately slow
    caseload: dict[str, list[str]] = {}
    with Session(engine) as s:
        registry.upsert_district(s, code=DISTRICT, name="淳安县")
        for t in range(TEACHERS):
            school = f"SCH{t // 2:03d}"
            if t % 2 == 0:
                registry.upsert_school(
                    s,
                    id=school,
                    name=f"淳安县特殊教育学校{t // 2}",
                    district_code=DISTRICT,
                    kind="special",
                    lat=29.61 + t * 0.01,
                    lon=119.04,
                )
            username = f"teacher{t:02d}"
            s.add(
                User(
                    username=username,
                    name=f"送教教师{t}",
                    role="teacher",
                    district_code=DISTRICT,
                    base_school_id=school,
                    password_hash=password_hash,
                )
            )
            caseload[username] = []
            for k in range(STUDENTS_PER_TEACHER):
                sid = f"ST{t:02d}{k:03d}"
                registry.upsert_student(
                    s,
                    id=sid,
                    name=f"学生{t}-{k}",
                    district_code=DISTRICT,
                    school_id=school,
                    stage="compulsory",
                    grade=1 + k % 9,
                    placement="home_delivery",
                    disability_category="multiple",
                    disability_grade=1 + k % 2,
                    certified=True,
                    home_lat=29.55 + k * 0.003,
                    home_lon=119.00 + t * 0.003,
                    address=f"某村 {k} 号",
                    guardian_name="家长",
                    guardian_phone="13800000000",
                    photo_consent=True,
                    active=True,
                )
                registry.upsert_assignment(
                    s, username=username, student_id=sid, school_id=None, district_code=DISTRICT
                )
                caseload[username].append(sid)
        s.commit()
    engine.dispose()
    return caseload


def home_record(student_id: str, start: datetime, lat: float, lon: float) -> dict:
    """A realistic pushed record, shaped like tests/factories.home_visit."""
    return {
        "id": str(uuid.uuid4()),
        "kind": "home_teaching",
        "student_id": student_id,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=70)).isoformat(),
        "check_in": {"lat": lat, "lon": lon, "accuracy_m": 12.0},
        "check_out": {"lat": lat, "lon": lon, "accuracy_m": 15.0},
        "content": "认识颜色：红、黄、蓝；精细动作：串珠",
        "iep_goals": ["能指认三种颜色", "能独立串起 5 颗珠子"],
        "student_response": "能指认红色，串珠需要提示",
        "guardian_guidance": "每天练习 10 分钟，先示范再让孩子模仿",
        "photos": [],
        "travel": {"origin": None, "mode": "car", "shared_with": []},
    }


def batches(caseload: dict[str, list[str]], now: datetime) -> list[tuple[str, list[dict]]]:
    """OPS records in BATCH-sized pushes, one teacher per push, oldest visits first.

    Each teacher works VISITS_PER_DAY sessions a day (09:00, 11:00, 14:00, 16:00 local) ending
    yesterday, rotating through their students, so neighbours exist for the evidence flags.
    Check-ins scatter like phone GPS fixes (up to about 60 m from the registered home), so no
    two visits share a position.
    """
    rng = random.Random(20251)
    per_teacher = OPS // len(caseload)
    days = -(-per_teacher // VISITS_PER_DAY)
    first_day = (now - timedelta(days=days + 1)).replace(hour=1, minute=0, second=0, microsecond=0)
    slots = (timedelta(hours=0), timedelta(hours=2), timedelta(hours=5), timedelta(hours=7))
    records: dict[str, list[dict]] = {}
    for t, (teacher, students) in enumerate(caseload.items()):
        records[teacher] = []
        for j in range(per_teacher):
            start = first_day + timedelta(days=j // VISITS_PER_DAY) + slots[j % VISITS_PER_DAY]
            k = j % len(students)
            lat, lon = 29.55 + k * 0.003, 119.00 + t * 0.003
            jitter_lat, jitter_lon = rng.uniform(-5e-4, 5e-4), rng.uniform(-5e-4, 5e-4)
            records[teacher].append(
                home_record(students[k], start, lat + jitter_lat, lon + jitter_lon)
            )
    out = []
    for b in range(0, per_teacher, BATCH):
        for teacher in caseload:
            out.append((teacher, records[teacher][b : b + BATCH]))
    return out


def push_over_http(server: Server, pushes: list[tuple[str, list[dict]]]) -> tuple[float, int]:
    """(seconds from first request to last response, ops applied)."""
    sessions: dict[str, requests.Session] = {}
    for teacher, _ in pushes:
        if teacher not in sessions:
            http = requests.Session()
            r = http.post(
                f"{server.url}/api/v1/auth/login",
                json={"username": teacher, "password": PASSWORD, "device_name": "bench"},
                timeout=HTTP_TIMEOUT_S,
            )
            r.raise_for_status()
            http.headers["Authorization"] = f"Bearer {r.json()['token']}"
            sessions[teacher] = http
    bodies = [
        (
            teacher,
            {
                "ops": [
                    {
                        "op_id": str(uuid.uuid4()),
                        "type": "visit.upsert",
                        "record": rec,
                        "base_version": None,
                    }
                    for rec in records
                ]
            },
        )
        for teacher, records in pushes
    ]
    applied = 0
    t0 = time.perf_counter()
    for teacher, body in bodies:
        r = sessions[teacher].post(
            f"{server.url}/api/v1/sync/push", json=body, timeout=HTTP_TIMEOUT_S
        )
        r.raise_for_status()
        applied += sum(1 for res in r.json()["results"] if res["status"] == "applied")
    elapsed = time.perf_counter() - t0
    for http in sessions.values():
        http.close()
    return elapsed, applied


def raw_baseline(path: Path, pushes: list[tuple[str, list[dict]]], now: datetime) -> float:
    """Seconds for sqlite3.executemany of the same rows into the same, freshly made schema."""
    migrate(f"sqlite:///{path}")
    rows = [
        visit_row(
            rec,
            teacher=teacher,
            district_code=DISTRICT,
            seq=1000 + i,
            received_at=now,
            flags=["no_photo"],
            subsidy_fen=12_000,
        )
        for i, (teacher, rec) in enumerate((t, r) for t, recs in pushes for r in recs)
    ]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")  # as the server's engine sets them
    conn.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
    conn.executemany(INSERT_VISIT, rows)
    conn.commit()
    elapsed = time.perf_counter() - t0
    (count,) = conn.execute("SELECT count(*) FROM visit").fetchone()
    conn.close()
    if count != OPS:
        raise RuntimeError(f"baseline inserted {count} rows, expected {OPS}")
    return elapsed


def raw_baseline_pg(url: str, pushes: list[tuple[str, list[dict]]], now: datetime) -> float:
    """Seconds for psycopg's executemany of the same rows into the same, freshly made schema."""
    import psycopg

    migrate(url)
    rows = [
        visit_row(
            rec,
            teacher=teacher,
            district_code=DISTRICT,
            seq=1000 + i,
            received_at=now,
            flags=["no_photo"],
            subsidy_fen=12_000,
        )
        for i, (teacher, rec) in enumerate((t, r) for t, recs in pushes for r in recs)
    ]
    # visit_row writes SQLite's integers for booleans; PostgreSQL wants booleans.
    names = ("flagged", "counted", "service_session", "deleted")
    booleans = {VISIT_COLUMNS.index(c) for c in names}
    rows = [tuple(bool(v) if i in booleans else v for i, v in enumerate(row)) for row in rows]
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(INSERT_VISIT.replace("?", "%s"), rows)
        conn.commit()
        elapsed = time.perf_counter() - t0
        (count,) = conn.execute("SELECT count(*) FROM visit").fetchone() or (0,)
    if count != OPS:
        raise RuntimeError(f"baseline inserted {count} rows, expected {OPS}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    backend = parser.parse_args().database
    print(machine())
    with tempfile.TemporaryDirectory(prefix="sj-bench-push-") as tmp:
        workdir = Path(tmp)
        with fresh_database(backend, workdir) as url:
            caseload = setup(url)
            now = datetime.now(UTC)
            pushes = batches(caseload, now)
            assert sum(len(recs) for _, recs in pushes) == OPS
            with Server(url, workdir) as server:
                elapsed, applied = push_over_http(server, pushes)
                held, synced = counts(url)
            server_log = server.log.read_text(errors="replace")
        if backend == "sqlite":
            raw = raw_baseline(workdir / "raw.db", pushes, now)
        else:
            with fresh_database(backend, workdir, "raw") as raw_url:
                raw = raw_baseline_pg(raw_url, pushes, now)

    ops_s, raw_s = OPS / elapsed, OPS / raw
    share = ops_s / raw_s
    print(f"database: {backend}")
    print(f"push:     {OPS} visit.upsert ops in {len(pushes)} pushes of {BATCH} over HTTP")
    print(f"          {elapsed:.3f} s, {ops_s:,.0f} ops/s")
    raw_kind = "sqlite3" if backend == "sqlite" else "psycopg"
    print(f"baseline: {raw_kind}.executemany of the same {OPS} rows: ", end="")
    print(f"{raw:.3f} s, {raw_s:,.0f} rows/s")
    print(f"ratio:    push / raw = {share:.1%}")
    print(f"check:    {applied} applied, {held} visits and {synced} sync ops on the server")
    print(
        f"targets:  >= {TARGET_OPS_S:,} ops/s {verdict(ops_s >= TARGET_OPS_S)}; "
        f">= {TARGET_SHARE:.0%} of raw {verdict(share >= TARGET_SHARE)}"
    )
    if "Traceback" in server_log:
        print(f"server log shows errors:\n{server_log[-3000:]}", file=sys.stderr)
    if not applied == held == synced == OPS:
        print("FAILED: the server does not hold exactly the pushed visits", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
