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
