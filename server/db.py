"""Engine, sessions, migrations and the change sequence."""

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> None:
    """Apply every pending migration (each command does this before touching the database)."""
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the parent folder
    command.upgrade(alembic_config(url), "head")


def get_session() -> Iterator[Session]:
    with Session(get_engine()) as session:
        yield session


def lock_changes(session: Session) -> None:
    """Hold the change counter for the rest of the transaction: writers queue here."""
    session.execute(sa.text("UPDATE seq_counter SET value = value WHERE name = 'change'"))


def next_seq(session: Session, count: int = 1) -> int:
    """Reserve ``count`` change numbers; returns the first.

    The counter row stays locked until the transaction commits, so changes become visible in
    the order of their numbers and a pull cursor never skips a change committed late.
    """
    row = session.execute(
        sa.text("UPDATE seq_counter SET value = value + :n WHERE name = 'change' RETURNING value"),
        {"n": count},
    ).one()
    return int(row[0]) - count + 1
