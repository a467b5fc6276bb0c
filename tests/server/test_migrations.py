"""Alembic migrations really run, on both databases, and match the models."""

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import server.models  # noqa: F401  (registers the tables)
from server.db import make_engine, migrate
from tests.live import PG_ENV, create_database, drop_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    url = create_database(request.param, tmp_path)
    yield url
    drop_database(url)


def test_upgrade_to_head_matches_models(empty_database: str) -> None:
    migrate(empty_database)
    migrate(empty_database)  # a second run is a no-op
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        counter = conn.execute(sa.text("SELECT value FROM seq_counter WHERE name = 'change'"))
        assert counter.scalar_one() == 0
    engine.dispose()
    assert diff == []


def test_every_command_works_on_an_empty_database(tmp_path) -> None:
    from tests.live import LiveServer

    live = LiveServer("sqlite", f"sqlite:///{tmp_path / 'fresh' / 'x.db'}", tmp_path / "m", 0)
    out = live.cli("compliance", "--term", "2025-1", "--json")
    assert out.returncode == 0, out.stderr
    assert '"districts": []' in out.stdout


def test_0003_fills_the_tally_from_stored_visits_and_downgrades(empty_database: str) -> None:
    """Visits stored before migration 0003 are in the tally it creates; its triggers then keep
    it; a downgrade to 0002 removes both and restores the report index."""
    from alembic import command

    from server.db import alembic_config

    config = alembic_config(empty_database)
    command.upgrade(config, "0002")
    engine = make_engine(empty_database)
    visit = sa.text(
        "INSERT INTO visit (id, kind, teacher, student_id, school_id, district_code, started_at,"
        " ended_at, local_month, duration_s, record, flags, flag_notes, flagged, distance_m,"
        " subsidy_fen, review_status, review_reason, counted, deleted, version, received_at, seq)"
        " VALUES (:id, 'home_teaching', 't1', 'S1', NULL, '330127', :at, :at, 202510, 3600,"
        " '{}', :flags, '{}', :flagged, 0, :fen, :review, '', :counted, false, 1, :at, :seq)"
    )
    rows = [  # (flags, fen, review, counted)
        ('["short_duration"]', 100, "approved", True),
        ("[]", 200, "pending", True),
        ('["no_photo", "short_duration"]', 400, "rejected", False),  # not counted
    ]
    with engine.begin() as conn:
        for n, (flags, fen, review, counted) in enumerate(rows):
            conn.execute(
                visit,
                {
                    "id": f"v{n}",
                    "at": "2025-10-09 01:00:00",
                    "flags": flags,
                    "flagged": flags != "[]",
                    "fen": fen,
                    "review": review,
                    "counted": counted,
                    "seq": n + 1,
                },
            )
    command.upgrade(config, "0005")  # 0010 replaces the tally's short (below)
    tally = "SELECT visits, flagged, short, fen, approved_fen FROM visit_tally WHERE teacher = 't1'"
    with engine.begin() as conn:
        assert conn.execute(sa.text(tally)).one() == (2, 1, 1, 300, 100)
        conn.execute(sa.text("UPDATE visit SET counted = true WHERE id = 'v2'"))
        assert conn.execute(sa.text(tally)).one() == (3, 2, 2, 700, 100)
        conn.execute(sa.text("DELETE FROM visit WHERE id = 'v0'"))
        assert conn.execute(sa.text(tally)).one() == (2, 1, 1, 600, 0)
    command.downgrade(config, "0002")
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("visit")}
    engine.dispose()
    assert "visit_tally" not in names and "ix_visit_term_sums" in indexes


def test_0004_adds_console_sessions_and_audit_origin_and_downgrades(empty_database: str) -> None:
    """Audit rows written before 0004 survive it with no device or address; a downgrade to
    0003 drops the session table and the two columns again."""
    from alembic import command

    from server.db import alembic_config

    config = alembic_config(empty_database)
    command.upgrade(config, "0003")
    engine = make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, detail)"
                " VALUES ('2025-10-09 01:00:00', 'c1', 'view', 'visit', 'v1', '')"
            )
        )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT actor, device_id, address FROM audit_log")).one()
        tables = set(sa.inspect(conn).get_table_names())
    assert tuple(row) == ("c1", None, None) and "console_session" in tables
    command.downgrade(config, "0003")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}
        tables = set(sa.inspect(conn).get_table_names())
        kept = conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    engine.dispose()
    assert "console_session" not in tables and "device_id" not in columns and kept == 1
    assert "address" not in columns


def test_0010_stores_the_judges_sessions_the_tally_sums_them_and_it_downgrades(
    empty_database: str,
) -> None:
    """Visits stored before 0010 are judged by shared.judge under the policy of their day (a
    district version of 1 October lowers the minimum to 30 minutes); the tally's ``sessions``
    is their sum, kept by the new triggers; a downgrade to 0005 brings back ``short`` (from
    the flags) and drops the column."""
    from alembic import command

    from server.db import alembic_config

    config = alembic_config(empty_database)
    command.upgrade(config, "0005")
    engine = make_engine(empty_database)
    visit = sa.text(
        "INSERT INTO visit (id, kind, teacher, student_id, school_id, district_code, started_at,"
        " ended_at, local_month, duration_s, record, flags, flag_notes, flagged, distance_m,"
        " subsidy_fen, review_status, review_reason, counted, deleted, version, received_at, seq)"
        " VALUES (:id, :kind, 't6', :student, :school, '330127', :start, :end, :month, 0,"
        " '{}', :flags, '{}', :flagged, 0, 0, 'pending', '', true, false, 1, :end, :seq)"
    )
    rows = [  # (kind, start, end, flags): UTC times as stored
        ("home_teaching", "2025-09-10 01:00:00", "2025-09-10 02:10:00", "[]"),  # 70 min
        ("home_teaching", "2025-09-11 01:00:00", "2025-09-11 01:40:59", '["short_duration"]'),
        ("home_teaching", "2025-10-09 01:00:00", "2025-10-09 01:40:00", '["short_duration"]'),
        ("itinerant", "2025-10-09 03:00:00", "2025-10-09 05:00:00", "[]"),
    ]
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO district (code, name) VALUES ('330127', '淳安县')"))
        conn.execute(
            sa.text(
                "INSERT INTO policy (district_code, effective_from, params, version, seq)"
                " VALUES ('330127', '2025-10-01', :params, 1, 99)"
            ),
            {"params": '{"service_min_minutes": 30}'},
        )
        for n, (kind, start, end, flags) in enumerate(rows):
            home = kind == "home_teaching"
            conn.execute(
                visit,
                {
                    "id": f"w{n}",
                    "kind": kind,
                    "student": "S1" if home else None,
                    "school": None if home else "SC1",
                    "start": start,
                    "end": end,
                    "month": int(start[:4] + start[5:7]),
                    "flags": flags,
                    "flagged": flags != "[]",
                    "seq": n + 1,
                },
            )
    command.upgrade(config, "head")
    judged = "SELECT id FROM visit WHERE service_session ORDER BY id"
    tally = (
        "SELECT local_month, visits, sessions FROM visit_tally WHERE kind = 'home_teaching'"
        " AND teacher = 't6' ORDER BY local_month"
    )
    with engine.begin() as conn:
        # The October session is 40 minutes, long enough under October's district version.
        assert [r[0] for r in conn.execute(sa.text(judged))] == ["w0", "w2"]
        assert [tuple(r) for r in conn.execute(sa.text(tally))] == [(202509, 2, 1), (202510, 1, 1)]
        conn.execute(sa.text("UPDATE visit SET service_session = true WHERE id = 'w1'"))
        conn.execute(sa.text("UPDATE visit SET counted = false WHERE id = 'w2'"))
        assert [tuple(r) for r in conn.execute(sa.text(tally))] == [(202509, 2, 2), (202510, 0, 0)]
    command.downgrade(config, "0005")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("visit")}
        short = conn.execute(
            sa.text(
                "SELECT local_month, visits, short FROM visit_tally WHERE kind = 'home_teaching'"
                " AND teacher = 't6' ORDER BY local_month"
            )
        )
        assert [tuple(r) for r in short] == [(202509, 2, 1)]  # w2 is no longer counted
    assert "service_session" not in columns
    command.upgrade(config, "head")  # and up again
    engine.dispose()
