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
    command.upgrade(config, "head")
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
