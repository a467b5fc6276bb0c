"""The province-wide compliance report on 1,000,000 visits, against a bare GROUP BY.

Run: ``.venv/bin/python bench/compliance.py`` (``--rebuild`` to build the dataset again,
``--plans`` to print the query plans for the report's queries, ``--database postgresql`` to
run the report on PostgreSQL).

The dataset (90 districts, 3,000 schools, 60,000 students, 1,000,000 visits of term 2025-1) is
written with raw sqlite3 into a schema made by ``server.db.migrate`` and cached under
``var/bench/`` by a version string, so re-runs skip the build. The figure is
``server.services.compliance.all_reports`` for an admin (best of 3 after one warm-up); the
baseline, in the same run, is ``SELECT district_code, count(*) FROM visit GROUP BY
district_code`` (best of 3). Targets: the report under 1 s and at most 5x the bare GROUP BY.

With ``--database postgresql`` the same dataset (the cached SQLite file, built first if need
be) is copied with ``COPY`` into a fresh database on 127.0.0.1:5432 made by
``server.db.migrate``, the visit indexes dropped for the load and made again after it (the
tally trigger runs for every row, as on a server); then ``ANALYZE`` (PostgreSQL's autovacuum
would do it on a server), the same figures, and the database is dropped.
"""

import argparse
import contextlib
import json
import random
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _common import INSERT_VISIT, ROOT, best_of, machine, verdict
from alembic.script import ScriptDirectory
from sqlmodel import Session

from server.db import alembic_config, make_engine, migrate
from server.scope import Scope
from server.services import compliance
from shared.domain import Role
from shared.judge import counts_for_service, in_counts
from shared.policy import DEFAULT_POLICY
from shared.terms import SHANGHAI, local_month
from shared.visit_time import too_short

BUILD_VERSION = "3"  # bump when the generator below changes
DISTRICTS = 90
SCHOOLS = 3_000
STUDENTS = 60_000
VISITS = 1_000_000
HOME_TEACHING_SHARE = 0.65  # of visits; the rest are itinerant visits to schools
TERM = "2025-1"
TERM_FIRST, TERM_DAYS = date(2025, 9, 1), 153  # 1 Sep 2025 - 31 Jan 2026
TODAY = date(2026, 3, 1)
TEACHERS_PER_DISTRICT, ITINERANTS_PER_DISTRICT = 8, 3
TARGET_S, TARGET_RATIO = 1.0, 5.0
CHUNK = 50_000


def dataset_path() -> Path:
    """The cached file, keyed by the generator's version and the schema's migration head."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return ROOT / "var" / "bench" / f"compliance-v{BUILD_VERSION}-{head}.db"


def stamp(moment: datetime) -> str:
    """As SQLAlchemy stores a UTC DateTime on SQLite."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class Truth:
    """What the generator wrote, for the sanity checks."""

    def __init__(self) -> None:
        self.counted_visits = 0
        self.cap_total: Counter[str] = Counter()
        self.cap_home: Counter[str] = Counter()


def build(path: Path) -> Truth:
    rng = random.Random(20251)
    truth = Truth()
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    migrate(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB while building
    # Indexes are dropped for the bulk load and made again from their own SQL afterwards.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'visit' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    seq = iter(range(1, 10**9))

    codes = [f"33{9000 + d:04d}" for d in range(DISTRICTS)]
    conn.executemany(
        "INSERT INTO district (code, name) VALUES (?, ?)",
        [(code, f"基准区{d}") for d, code in enumerate(codes)],
    )
    # Schools: per district one special school, the rest ordinary.
    schools: dict[str, list[str]] = {code: [] for code in codes}
    school_rows = []
    for i in range(SCHOOLS):
        code = codes[i % DISTRICTS]
        sid = f"SCH{i:05d}"
        kind = "special" if not schools[code] else "ordinary"
        schools[code].append(sid)
        lat, lon = 29.5 + rng.random(), 119.0 + rng.random()
        school_rows.append((sid, f"基准学校{i}", code, kind, lat, lon, 1, next(seq)))
    conn.executemany(
        "INSERT INTO school (id, name, district_code, kind, lat, lon, version, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        school_rows,
    )
    # Students: each district has its own home-delivery share, 5% to 15%.
    home: list[tuple[str, str, str]] = []  # (student, district, teacher)
    hosting: set[str] = set()
    student_rows = []
    for i in range(STUDENTS):
        d = i % DISTRICTS
        code = codes[d]
        special, ordinary = schools[code][0], schools[code][1:]
        r = rng.random()
        share = 0.05 + 0.10 * d / (DISTRICTS - 1)
        if r < share:
            placement, school = "home_delivery", special
        elif r < share + 0.12:
            placement, school = "special_school", special
        elif r < share + 0.18:
            placement, school = "special_class", rng.choice(ordinary)
        elif r < share + 0.20:
            placement, school = "institution", special
        else:
            placement, school = "regular_class", rng.choice(ordinary)
        s = rng.random()
        stage, grade = (
            ("compulsory", 1 + i % 9)
            if s < 0.85
            else (("preschool", 0) if s < 0.90 else ("high_school", 10 + i % 3))
        )
        active = rng.random() < 0.98
        sid = f"ST{i:06d}"
        student_rows.append(
            (
                sid,
                f"学生{i}",
                code,
                school,
                stage,
                grade,
                placement,
                rng.choice(("intellectual", "mental", "multiple", "physical", "hearing")),
                rng.randint(1, 4),
                int(rng.random() < 0.9),
                29.5 + rng.random(),
                119.0 + rng.random(),
                "某村某号",
                "家长",
                "13800000000",
                int(rng.random() < 0.8),
                int(active),
                "[]",
                1,
                next(seq),
            )
        )
        if active and stage == "compulsory":
            truth.cap_total[code] += 1
            truth.cap_home[code] += placement == "home_delivery"
        if active and placement == "home_delivery":
            home.append((sid, code, f"t{code}_{i % TEACHERS_PER_DISTRICT}"))
        if active and placement == "regular_class":
            hosting.add(school)
    conn.executemany(
        "INSERT INTO student (id, name, district_code, school_id, stage, grade, placement, "
        "disability_category, disability_grade, certified, home_lat, home_lon, address, "
        "guardian_name, guardian_phone, photo_consent, active, iep_goals, version, seq) "
        f"VALUES ({', '.join('?' * 20)})",
        student_rows,
    )
    # Assignments: home-delivery children to teachers, ordinary schools to itinerant staff.
    school_district = {sid: code for code, ids in schools.items() for sid in ids}
    itinerant_of = {
        sid: f"i{school_district[sid]}_{n % ITINERANTS_PER_DISTRICT}"
        for n, sid in enumerate(sorted(s for ids in schools.values() for s in ids[1:]))
    }
    assignment_rows = [
        (f"{teacher}|{sid}|", teacher, sid, None, code, 0, 1, next(seq))
        for sid, code, teacher in home
    ] + [
        (f"{user}|{sid}|", user, None, sid, school_district[sid], 0, 1, next(seq))
        for sid, user in itinerant_of.items()
    ]
    conn.executemany(
        "INSERT INTO assignment (id, username, student_id, school_id, district_code, deleted, "
        "version, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        assignment_rows,
    )
    # Visits: home teaching to home-delivery children; itinerant visits to the ordinary schools
    # hosting 随班就读 students, a tenth of which are never visited.
    visited = sorted(hosting)
    rng.shuffle(visited)
    visited = visited[len(visited) // 10 :]
    term_start = datetime.combine(TERM_FIRST, datetime.min.time(), SHANGHAI)
    rows = []
    for _ in range(VISITS):
        if rng.random() < HOME_TEACHING_SHARE:
            sid, code, teacher = rng.choice(home)
            kind, student_id, school_id = "home_teaching", sid, None
            minutes = rng.choice((40, 60, 65, 70, 75, 80, 90, 90, 120))
        else:
            school_id = rng.choice(visited)
            kind, student_id, code = "itinerant", None, school_district[school_id]
            teacher = itinerant_of[school_id]
            minutes = rng.choice((30, 45, 60, 90, 120))
        start = term_start + timedelta(
            days=rng.randrange(TERM_DAYS), minutes=8 * 60 + rng.randrange(9 * 60)
        )
        end = start + timedelta(minutes=minutes)
        r = rng.random()
        deleted = r < 0.01
        review = "rejected" if 0.01 <= r < 0.03 else ("approved" if r < 0.55 else "pending")
        counted = in_counts(deleted=deleted, review_status=review)
        truth.counted_visits += counted
        flags = ["no_photo"] if rng.random() < 0.25 else []
        if rng.random() < 0.05:
            flags.append("outside_geofence")
        if too_short(kind, start, end, DEFAULT_POLICY):
            flags.append("short_duration")
        vid = f"{rng.getrandbits(128):032x}"
        vid = f"{vid[:8]}-{vid[8:12]}-4{vid[13:16]}-8{vid[17:20]}-{vid[20:]}"
        rows.append(
            (
                vid,
                kind,
                teacher,
                student_id,
                school_id,
                code,
                stamp(start),
                stamp(end),
                local_month(start),
                minutes * 60,
                json.dumps({"id": vid, "kind": kind}),
                json.dumps(sorted(flags)),
                "{}",
                int(bool(flags)),
                rng.randrange(2_000, 80_000),
                12_000 if rng.random() < 0.9 else 0,
                review,
                "",
                None,
                None,
                int(counted),
                int(counts_for_service(kind, start, end, DEFAULT_POLICY)),
                int(deleted),
                1,
                stamp(end + timedelta(hours=rng.randrange(1, 72))),
                next(seq),
            )
        )
        if len(rows) == CHUNK:
            conn.executemany(INSERT_VISIT, rows)
            rows.clear()
    if rows:
        conn.executemany(INSERT_VISIT, rows)
    conn.execute("UPDATE seq_counter SET value = ? WHERE name = 'change'", (next(seq),))
    for _, sql in indexes:
        conn.execute(sql)
    # No ANALYZE: the report's plans are the same without statistics, and a server's database
    # has none unless someone runs it.
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return truth


def truth_from(path: Path) -> Truth:
    """The sanity-check figures of a cached dataset, read back with plain SQL."""
    truth = Truth()
    conn = sqlite3.connect(path)
    (truth.counted_visits,) = conn.execute(
        "SELECT count(*) FROM visit WHERE counted = 1"
    ).fetchone()
    for code, total, home in conn.execute(
        "SELECT district_code, count(*), sum(placement = 'home_delivery') FROM student "
        "WHERE active = 1 AND stage = 'compulsory' GROUP BY district_code"
    ):
        truth.cap_total[code], truth.cap_home[code] = total, home
    conn.close()
    return truth


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Copied in this order (foreign keys); the visit_tally rows come from the trigger.
PG_TABLES = ("district", "school", "student", "assignment", "visit")


@contextlib.contextmanager
def postgres_copy(path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database holding the dataset of ``path``; dropped on leaving."""
    import psycopg

    name = f"sj_bench_compliance_{int(time.time())}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        t0 = time.perf_counter()
        migrate(url)
        source = sqlite3.connect(path)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as pg:
            pg.execute("SET TIME ZONE 'UTC'")  # the file's times are naive UTC
            indexes = pg.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'visit' "
                "AND indexname <> 'visit_pkey'"
            ).fetchall()
            for index, _ in indexes:
                pg.execute(f'DROP INDEX "{index}"')
            for table in PG_TABLES:
                columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
                names = ", ".join(columns)
                with pg.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in source.execute(f"SELECT {names} FROM {table}"):
                        copy.write_row(row)
            (value,) = source.execute(
                "SELECT value FROM seq_counter WHERE name = 'change'"
            ).fetchone()
            pg.execute("UPDATE seq_counter SET value = %s WHERE name = 'change'", (value,))
            for _, definition in indexes:
                pg.execute(definition)
            pg.commit()
        source.close()
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as db:
            db.execute(sa.text("ANALYZE"))
        engine.dispose()
        print(f"copied into PostgreSQL database {name} in {time.perf_counter() - t0:.1f} s")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def print_plans(engine: sa.Engine) -> None:
    """EXPLAIN QUERY PLAN for every statement the report runs (one run, statements captured)."""
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    with Session(engine) as session:
        compliance.all_reports(session, scope=_admin(), term_id=TERM, today=TODAY)
    sa.event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
        for statement, parameters in statements:
            print("--", " ".join(statement.split())[:300])
            cursor = raw.cursor()
            cursor.execute(f"{explain} {statement}", parameters)
            for row in cursor.fetchall():
                print("   ", row[-1])


def measure(url: str, *, plans: bool) -> tuple[float, dict, float, list]:
    """(report seconds, report, bare GROUP BY seconds, its rows): best of 3 after a warm-up."""
    migrate(url)  # a no-op on a current file; the report must meet a migrated schema
    engine = make_engine(url)
    if plans:
        print_plans(engine)

    with Session(engine) as session:

        def report() -> dict:
            every = compliance.all_reports(session, scope=_admin(), term_id=TERM, today=TODAY)
            return every.model_dump(mode="json")  # as the API sends it

        def bare() -> list:
            return session.execute(
                sa.text("SELECT district_code, count(*) FROM visit GROUP BY district_code")
            ).all()

        report()  # warm-up: caches, compiled statements
        report_s, body = best_of(report, 3)
        bare_s, groups = best_of(bare, 3)
    engine.dispose()
    return report_s, body, bare_s, list(groups)


def _admin() -> Scope:
    return Scope("bench-admin", Role.ADMIN, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build the dataset again")
    parser.add_argument("--plans", action="store_true", help="print the query plans")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(machine())
    path = dataset_path()
    if args.rebuild or not path.exists():
        t0 = time.perf_counter()
        truth = build(path)
        print(f"built {path.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s")
    else:
        truth = truth_from(path)
        print(f"dataset: {path.relative_to(ROOT)} (cached; --rebuild to build again)")
    with contextlib.ExitStack() as stack:
        if args.database == "postgresql":
            url = stack.enter_context(postgres_copy(path))
        else:
            url = f"sqlite:///{path}"
        report_s, body, bare_s, groups = measure(url, plans=args.plans)
    print(f"database: {args.database}")
    districts = body["districts"]
    visits_total = sum(d["visits"]["total"] for d in districts)
    problems = []
    if len(districts) != DISTRICTS or len(groups) != DISTRICTS:
        problems.append(f"{len(districts)} districts in the report, expected {DISTRICTS}")
    if visits_total != truth.counted_visits:
        problems.append(
            f"report counts {visits_total} visits, the term holds {truth.counted_visits}"
        )
    for d in districts:
        hd, code = d["home_delivery"], d["district_code"]
        if (hd["total"], hd["count"]) != (truth.cap_total[code], truth.cap_home[code]):
            problems.append(f"{code}: home delivery {hd['count']}/{hd['total']} is wrong")
    over = sum(d["home_delivery"]["over_cap"] for d in districts)
    in_scope = sum(d["itinerant"]["schools_in_scope"] for d in districts)
    covered = sum(d["itinerant"]["schools_covered"] for d in districts)
    served = sum(d["service"]["students"] for d in districts)
    meeting = sum(d["service"]["students_meeting_standard"] for d in districts)

    ratio = report_s / bare_s
    print(
        f"report:   all_reports over {len(districts)} districts, {visits_total:,} counted visits: "
        f"{report_s * 1000:.0f} ms (best of 3)"
    )
    print(f"baseline: SELECT district_code, count(*) ... GROUP BY: {bare_s * 1000:.0f} ms")
    print(f"ratio:    report / bare = {ratio:.2f}x")
    print(
        f"content:  {over} districts over the cap; {covered}/{in_scope} schools covered; "
        f"{meeting}/{served} children meeting the service standard"
    )
    print(
        f"targets:  < {TARGET_S:.0f} s {verdict(report_s < TARGET_S)}; "
        f"<= {TARGET_RATIO:.0f}x bare {verdict(ratio <= TARGET_RATIO)}"
    )
    if problems:
        print("FAILED sanity checks:\n  " + "\n  ".join(problems[:20]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
