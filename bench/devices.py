"""A district's phones back online at once: N devices pushing 3 visits and pulling every second.

Run: ``.venv/bin/python bench/devices.py`` (all backends, N = 10 … 400; ~12 min), or short:
``.venv/bin/python bench/devices.py --backends sqlite --devices 10,50 --seconds 5``

The demo data (``songjiao demo``) is loaded once per database kind into a template (a SQLite
file; a PostgreSQL database on 127.0.0.1:5432). Against the template, before anything is timed,
every device logs in with its own token (devices share the demo's 62 teacher and itinerant
accounts round-robin: logins are argon2-slow) and pulls until it is caught up, learning its
caseload (a teacher's children with their homes, an itinerant's schools). Then, for each N, a
fresh copy of the template is served (``songjiao serve``; for ``pg2`` ``uvicorn --workers 2``
with the failed-login counts in Redis) and N devices run for S seconds: each second, push 3
new visits for its own children or schools (check-in and check-out a few metres from the
home or school, as a phone's GPS fix; each on one of the last 60 days, as a backlog, or all at
one moment with ``--same-day``) and pull once from its cursor. A push that fails (any
status but 200, a timeout) is sent again, same op ids, on the next tick; a 503 is honoured by
waiting its Retry-After (with jitter). One asyncio loop, one ``httpx`` connection per device.

Per N: push and pull p50/p95/p99, requests/s answered 200 within the S seconds (``ok/s``;
the offered load is 2 requests per device per second), errors by status, client and server
CPU, and, counted in the database after the server stopped, the visits whose push was
answered ``applied`` or ``duplicate``: each must be there exactly once, under its device's
account (else exit 1). Targets: at N=200 (60 s), < 0.1 % errors, push p95 < 1 s, none missing,
on every backend; ``ok/s`` never falls as N grows (a point below 90 % of the best before it
counts as a fall: runs on a shared machine move by that much); beyond saturation only 503 with
Retry-After, never a 500, a timeout or a dropped connection.
"""

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from _common import ROOT, Server, log_errors, machine, percentile, verdict

CHINA = timezone(timedelta(hours=8))
PASSWORD = "songjiao2025"  # the demo's (server/demo/roster.py)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "pg1", "pg2")
DEVICES = (10, 25, 50, 100, 200, 400)
SECONDS = {200: 60.0}  # others: DEFAULT_SECONDS
DEFAULT_SECONDS = 20.0
TARGET_N = 200
BATCH = 3
TICK_S = 1.0
REQUEST_TIMEOUT_S = 60.0  # a request still unanswered then counts as an error ("timeout")
DRAIN_S = REQUEST_TIMEOUT_S + 15  # after the S seconds, in-flight requests get this long
TARGET_ERROR_RATE = 0.001
TARGET_PUSH_P95_S = 1.0
FALL_TOLERANCE = 0.9
SERVER_ENV = {
    # Only failed logins are throttled, and none should fail; high limits in case.
    "SONGJIAO_LOGIN_FAILURES_PER_ADDRESS": "100000/15 minutes",
    "SONGJIAO_LOGIN_FAILURES_PER_ACCOUNT": "100000/15 minutes",
}


# -- databases --------------------------------------------------------------------------------


@dataclass
class Template:
    """The demo, loaded once, that every run of one database kind starts from."""

    kind: str  # "sqlite" | "pg"
    url: str
    workdir: Path
    copies: list[str] = field(default_factory=list)

    def fresh_copy(self) -> str:
        """A new database with the template's content (tokens and all); its URL."""
        n = len(self.copies)
        if self.kind == "sqlite":
            path = self.workdir / f"run{n}.db"
            src = sqlite3.connect(self.url.split("///", 1)[1])
            dst = sqlite3.connect(path)
            src.backup(dst)
            src.close()
            dst.close()
            url = f"sqlite:///{path}"
        else:
            name = f"{self.url.rsplit('/', 1)[1]}_run{n}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.url.rsplit("/", 1)[1]}"')
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        self.copies.append(url)
        return url

    def drop_copy(self, url: str) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
        else:
            drop_pg(url.rsplit("/", 1)[1])


def drop_pg(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def template(kind: str, workdir: Path) -> Iterator[Template]:
    """``songjiao demo`` into a fresh SQLite file or PostgreSQL database; dropped afterwards."""
    name = f"sj_bench_devices_{os.getpid()}"
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'template.db'}"
    else:
        drop_pg(name)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    made = Template(kind, url, workdir)
    try:
        env = {**os.environ, "SONGJIAO_DATABASE_URL": url}
        env["SONGJIAO_MEDIA_DIR"] = str(workdir / "media")
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "server.cli", "demo"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=900,
        )
        print(f"  demo loaded into the {kind} template in {time.perf_counter() - t0:.0f} s")
        yield made
    finally:
        for copy in made.copies:
            made.drop_copy(copy)
        if kind == "pg":
            drop_pg(name)


def field_accounts(url: str) -> list[tuple[str, str]]:
    """(username, role) of the demo's teachers and itinerants, in a fixed order."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT username, role FROM app_user WHERE role IN ('teacher', 'itinerant') "
                "ORDER BY username"
            )
        ).all()
    engine.dispose()
    return [(u, r) for u, r in rows]


def visits_held(url: str) -> dict[str, str]:
    """Every visit on the server: id → teacher."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, teacher FROM visit")).all()
    engine.dispose()
    return {str(i): t for i, t in rows}


# -- devices ----------------------------------------------------------------------------------


@dataclass
class Device:
    number: int
    username: str
    role: str
    token: str = ""
    cursor: str | None = None
    enrolled_cursor: str | None = None  # where the template left it: every run starts there
    # Where this device's visits happen: (student_id or school_id, lat, lon).
    places: list[tuple[str, float, float]] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)  # a push not yet answered 200

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tally:
    """What one run of N devices saw."""

    push_s: list[float] = field(default_factory=list)
    pull_s: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # "200", "503", "timeout", …
    ok_in_window: int = 0
    shed_without_retry_after: int = 0
    acked: dict[str, str] = field(default_factory=dict)  # visit id → username
    results: Counter = field(default_factory=Counter)  # per-op statuses of 200 pushes
    sent: int = 0  # visits in pushes (first attempts)


BACKLOG_DAYS = 60


def visit_record(
    device: Device, rng: random.Random, now: datetime, *, same_day: bool = False
) -> dict[str, Any]:
    """A valid pushed visit (shared/protocol.py VisitRecord) of 70 minutes.

    A phone back online sends its backlog: each visit falls on one of the last 60 days, at a
    school-day hour (08:00-16:00 China time), so a teacher's day holds a few visits, as it
    does in the field. ``same_day`` puts every visit at the same moment instead (ending 10
    minutes ago): then each account's visits of the whole run pile up on one day, all
    overlapping, the worst case for the pairwise flags.
    """
    subject, lat, lon = rng.choice(device.places)
    if same_day:
        start = (now - timedelta(minutes=80)).astimezone(CHINA)
    else:
        day = (now - timedelta(days=rng.randint(1, BACKLOG_DAYS))).astimezone(CHINA)
        start = day.replace(hour=8 + rng.randint(0, 7), minute=rng.choice((0, 15, 30, 45)))

    def fix(accuracy: float) -> dict[str, float]:
        return {
            "lat": lat + rng.uniform(-3e-4, 3e-4),
            "lon": lon + rng.uniform(-3e-4, 3e-4),
            "accuracy_m": accuracy,
        }

    record: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=70)).isoformat(),
        "check_in": fix(12.0),
        "check_out": fix(15.0),
        "photos": [],
        "travel": {"origin": None, "mode": "car", "shared_with": []},
    }
    if device.role == "teacher":
        record |= {
            "kind": "home_teaching",
            "student_id": subject,
            "content": "认识颜色：红、黄、蓝；精细动作：串珠",
            "iep_goals": ["能指认三种颜色", "能独立串起 5 颗珠子"],
            "student_response": "能指认红色，串珠需要提示",
            "guardian_guidance": "每天练习 10 分钟，先示范再让孩子模仿",
        }
    else:
        record |= {
            "kind": "itinerant",
            "school_id": subject,
            "purposes": ["classroom_observation", "teacher_training"],
            "findings": "随班就读学生课堂参与度有提高，资源教室使用记录完整",
            "recommendations": [{"text": "增加个别化辅导时间", "due_date": None}],
        }
    return record


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date); None when
    there is none or it cannot be read."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def learn(device: Device, changes: list[dict]) -> None:
    """Caseload from pulled changes: assignments name the children or schools; their
    records carry the positions."""
    assigned = {
        c["record"]["student_id"] or c["record"]["school_id"]
        for c in changes
        if c["entity"] == "assignment" and not c["deleted"]
        if c["record"]["username"] == device.username
    }
    known = {p[0] for p in device.places}
    for c in changes:
        if c["deleted"] or c["id"] not in assigned or c["id"] in known:
            continue
        rec = c["record"]
        if c["entity"] == "student" and device.role == "teacher" and rec.get("home_lat"):
            device.places.append((c["id"], rec["home_lat"], rec["home_lon"]))
        elif c["entity"] == "school" and device.role == "itinerant" and rec.get("lat"):
            device.places.append((c["id"], rec["lat"], rec["lon"]))


async def enrol(server: Server, devices: list[Device]) -> None:
    """Log every device in and pull it up to date (untimed; against the template)."""
    limit = asyncio.Semaphore(4)

    async def one(client: httpx.AsyncClient, device: Device) -> None:
        async with limit:
            r = await client.post(
                "/api/v1/auth/login",
                json={
                    "username": device.username,
                    "password": PASSWORD,
                    "device_name": f"bench device {device.number}",
                },
            )
            r.raise_for_status()
            device.token = r.json()["token"]
            changes: list[dict] = []
            for _ in range(200):  # bounded: the demo is a few thousand changes
                params = {"cursor": device.cursor} if device.cursor else {}
                r = await client.get("/api/v1/sync/pull", params=params, headers=device.headers())
                r.raise_for_status()
                page = r.json()
                changes += page["changes"]
                device.cursor = page["cursor"]
                if not page["has_more"]:
                    break
            learn(device, changes)
            device.enrolled_cursor = device.cursor
            if not device.places:
                raise RuntimeError(f"{device.username} has nothing assigned in the demo")

    async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        await asyncio.gather(*(one(client, d) for d in devices))


async def run_devices(
    server: Server, devices: list[Device], seconds: float, *, same_day: bool = False
) -> Tally:
    tally = Tally()
    t0 = time.monotonic()
    end = t0 + seconds

    def note(kind: str, started: float, status: str) -> None:
        done = time.monotonic()
        (tally.push_s if kind == "push" else tally.pull_s).append(done - started)
        tally.statuses[status] += 1
        if status == "200" and done <= end:
            tally.ok_in_window += 1

    async def request(client: httpx.AsyncClient, kind: str, **kw: Any) -> httpx.Response | None:
        started = time.monotonic()
        try:
            if kind == "push":
                r = await client.post("/api/v1/sync/push", **kw)
            else:
                r = await client.get("/api/v1/sync/pull", **kw)
        except httpx.TimeoutException:
            note(kind, started, "timeout")
            return None
        except httpx.TransportError as exc:
            note(kind, started, type(exc).__name__)
            return None
        note(kind, started, str(r.status_code))
        return r

    async def backoff(r: httpx.Response | None, rng: random.Random) -> None:
        if r is None or r.status_code != 503:
            return
        wait = retry_after(r.headers.get("Retry-After"))
        if wait is None:
            tally.shed_without_retry_after += 1
            wait = TICK_S
        await asyncio.sleep(min(wait * rng.uniform(1.0, 1.5), max(0.0, end - time.monotonic())))

    # One TLS context for all (httpx makes one per client otherwise, ~10 ms each, unused here).
    tls = ssl.create_default_context()

    async def device_loop(device: Device) -> None:
        rng = random.Random(device.number)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=server.url,
            timeout=REQUEST_TIMEOUT_S,
            limits=limits,
            headers=device.headers(),
            verify=tls,
        ) as client:
            tick = t0 + rng.uniform(0, TICK_S)  # phones do not wake in the same millisecond
            while True:
                await asyncio.sleep(max(0.0, tick - time.monotonic()))
                if time.monotonic() >= end:
                    return
                if not device.pending:
                    now = datetime.now(UTC)
                    device.pending = [
                        {
                            "op_id": str(uuid.uuid4()),
                            "type": "visit.upsert",
                            "record": visit_record(device, rng, now, same_day=same_day),
                            "base_version": None,
                        }
                        for _ in range(BATCH)
                    ]
                    tally.sent += BATCH
                r = await request(client, "push", json={"ops": device.pending})
                if r is not None and r.status_code == 200:
                    for op, res in zip(device.pending, r.json()["results"], strict=True):
                        tally.results[res["status"]] += 1
                        if res["status"] in ("applied", "duplicate"):
                            tally.acked[op["record"]["id"]] = device.username
                    device.pending = []
                await backoff(r, rng)
                if time.monotonic() < end:
                    params = {"cursor": device.cursor} if device.cursor else {}
                    r = await request(client, "pull", params=params)
                    if r is not None and r.status_code == 200:
                        device.cursor = r.json()["cursor"]
                    await backoff(r, rng)
                tick = max(tick + TICK_S, time.monotonic())

    tasks = [asyncio.create_task(device_loop(d)) for d in devices]
    _, late = await asyncio.wait(tasks, timeout=seconds + DRAIN_S)
    for task in late:  # bounded: never more than S + DRAIN_S
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if late:
        tally.statuses["unfinished"] += len(late)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return tally


# -- one backend ------------------------------------------------------------------------------


@dataclass
class Point:
    n: int
    seconds: float
    tally: Tally
    missing: int
    wrong_owner: int
    held_unacked: int
    client_cpu: float
    server_cpu: float
    tracebacks: Counter


def run_backend(backend: str, tmpl: Template, devices: list[Device], plan: list[int], args) -> list:
    points = []
    workers = 2 if backend == "pg2" else 1
    for n in plan:
        seconds = args.seconds or SECONDS.get(n, DEFAULT_SECONDS)
        url = tmpl.fresh_copy()
        run_dir = tmpl.workdir / f"{backend}-{n}"
        run_dir.mkdir()
        env = dict(SERVER_ENV)
        prefix = f"sjbench-{os.getpid()}-{backend}-{n}"
        if workers > 1:
            env["SONGJIAO_RATE_LIMIT_STORAGE"] = "redis://127.0.0.1:6379/0"
            env["SONGJIAO_RATE_LIMIT_KEY_PREFIX"] = prefix
        shutil.copytree(tmpl.workdir / "media", run_dir / "media")
        before = visits_held(url)
        for device in devices:
            device.cursor, device.pending = device.enrolled_cursor, []
        with Server(url, run_dir, workers=workers, env=env) as server:
            cpu0, own0 = server.cpu_seconds(), time.process_time()
            tally = asyncio.run(run_devices(server, devices[:n], seconds, same_day=args.same_day))
            cpu1, own1 = server.cpu_seconds(), time.process_time()
        held = visits_held(url)
        tmpl.drop_copy(url)
        if workers > 1:
            forget_redis(prefix)
        points.append(
            Point(
                n=n,
                seconds=seconds,
                tally=tally,
                missing=sum(1 for v in tally.acked if v not in held),
                wrong_owner=sum(1 for v, u in tally.acked.items() if held.get(v, u) != u),
                held_unacked=len(set(held) - set(before) - set(tally.acked)),
                client_cpu=(own1 - own0) / seconds,
                server_cpu=(cpu1 - cpu0) / seconds,
                tracebacks=log_errors(server.log.read_text(errors="replace")),
            )
        )
        print_point(points[-1])
    return points


def forget_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in client.scan_iter(f"*{prefix}*", count=1000):
        client.delete(key)
    client.close()


# -- report -----------------------------------------------------------------------------------

HEADER = (
    f"  {'N':>4} {'s':>4}  {'push p50/p95/p99 ms':>21}  {'pull p50/p95/p99 ms':>21}  "
    f"{'ok/s':>6} {'err %':>6}  {'visits acked':>12} {'missing':>7}  cpu client/server  statuses"
)


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return "/".join(f"{percentile(values, p) * 1000:,.0f}" for p in (50, 95, 99))


def errors(t: Tally) -> int:
    return sum(c for s, c in t.statuses.items() if s != "200")


def error_rate(t: Tally) -> float:
    total = sum(t.statuses.values())
    return errors(t) / total if total else 1.0


def print_point(p: Point) -> None:
    t = p.tally
    statuses = ", ".join(f"{s}: {c}" for s, c in sorted(t.statuses.items()))
    print(
        f"  {p.n:>4} {p.seconds:>4.0f}  {ms(t.push_s):>21}  {ms(t.pull_s):>21}  "
        f"{t.ok_in_window / p.seconds:>6.1f} {error_rate(t):>6.2%}  {len(t.acked):>12,} "
        f"{p.missing:>7}  {p.client_cpu:>6.0%} / {p.server_cpu:>4.0%}   {statuses}",
        flush=True,
    )
    if p.held_unacked:
        print(f"        {p.held_unacked} visits stored whose push was never answered 200")
    if p.wrong_owner:
        print(f"        {p.wrong_owner} acknowledged visits stored under another account")
    for line, count in p.tracebacks.most_common(3):
        print(f"        server log, {count}x: {line}")


def judge(backend: str, points: list[Point]) -> list[bool]:
    """Print the targets' verdicts for one backend; return them."""
    oks = []
    at = [p for p in points if p.n == TARGET_N]
    if at:
        p = at[0]
        rate, p95 = error_rate(p.tally), percentile(p.tally.push_s or [float("inf")], 95)
        good = rate < TARGET_ERROR_RATE and p95 < TARGET_PUSH_P95_S and p.missing == 0
        print(
            f"  target N={TARGET_N} for {p.seconds:.0f} s: errors {rate:.2%} (< 0.1 %), "
            f"push p95 {p95 * 1000:,.0f} ms (< 1 s), {p.missing} missing: {verdict(good)}"
            + ("" if p.seconds >= 60 else " (shorter than the 60 s of the target)")
        )
        oks.append(good)
    best, falls = 0.0, []
    for p in points:
        rate = p.tally.ok_in_window / p.seconds
        if rate < FALL_TOLERANCE * best:
            falls.append(f"N={p.n} {rate:.0f} < best before {best:.0f}")
        best = max(best, rate)
    print(f"  ok/s never falls as N grows: {verdict(not falls)} {'; '.join(falls)}")
    bad = Counter()
    for p in points:
        for status, count in p.tally.statuses.items():
            if status not in ("200", "503"):
                bad[status] += count
        if p.tally.shed_without_retry_after:
            bad["503 without Retry-After"] += p.tally.shed_without_retry_after
    detail = ", ".join(f"{s}: {c}" for s, c in sorted(bad.items()))
    print(f"  only 503 + Retry-After beyond saturation: {verdict(not bad)} {detail}")
    oks += [not falls, not bad]
    return oks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--devices", default=",".join(map(str, DEVICES)))
    parser.add_argument("--seconds", type=float, default=0, help="every N this long")
    parser.add_argument(
        "--same-day", action="store_true", help="every visit at one moment (the worst case)"
    )
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    plan = sorted({int(n) for n in args.devices.split(",") if n})
    if set(backends) - set(BACKENDS) or not plan or plan[0] < 1:
        parser.error(f"backends among {','.join(BACKENDS)}; devices a list of counts")
    print(machine())
    print(
        f"{BATCH} new visits pushed and 1 pull per device per second; request timeout "
        f"{REQUEST_TIMEOUT_S:.0f} s; ok/s = requests answered 200 within the run's seconds"
    )
    missing = 0
    verdicts: dict[str, list[bool]] = {}
    kinds = sorted({"sqlite" if b == "sqlite" else "pg" for b in backends}, reverse=True)
    for kind in kinds:
        with (
            tempfile.TemporaryDirectory(prefix="sj-bench-devices-") as tmp,
            template(kind, Path(tmp)) as tmpl,
        ):
            accounts = field_accounts(tmpl.url)
            devices = [Device(i, *accounts[i % len(accounts)]) for i in range(plan[-1])]
            t0 = time.perf_counter()
            with Server(tmpl.url, Path(tmp), env=SERVER_ENV) as server:
                asyncio.run(enrol(server, devices))
            print(
                f"  {len(devices)} devices on {len({d.username for d in devices})} accounts "
                f"logged in and caught up in {time.perf_counter() - t0:.0f} s (untimed)"
            )
            for backend in (b for b in backends if (b == "sqlite") == (kind == "sqlite")):
                title = {
                    "sqlite": "SQLite, songjiao serve (1 process)",
                    "pg1": "PostgreSQL, songjiao serve (1 process)",
                    "pg2": "PostgreSQL, uvicorn --workers 2",
                }[backend]
                print(f"\n{backend}: {title}\n{HEADER}")
                points = run_backend(backend, tmpl, devices, plan, args)
                verdicts[backend] = judge(backend, points)
                missing += sum(p.missing + p.wrong_owner for p in points)
    print("\nsummary: " + "; ".join(f"{b} {sum(v)}/{len(v)} MET" for b, v in verdicts.items()))
    if missing:
        print(f"FAILED: {missing} acknowledged visits missing or misfiled", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
