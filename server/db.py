"""Engine, sessions, migrations and the change sequence."""

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pydantic_core
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request

from server.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30.0
) -> Engine:
    """An engine whose pool holds ``pool_size`` (+ ``max_overflow``) connections; a checkout
    waits at most ``pool_timeout`` seconds, then raises ``sqlalchemy.exc.TimeoutError``."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        in_memory = not path or path == ":memory:"
        if not in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            json_serializer=_json_text,
            **({} if in_memory else pool),
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        if not in_memory:
            _queue_writers(engine, _SQLITE_WRITERS.setdefault(str(Path(path).resolve()), _Turn()))
        return engine
    return sa.create_engine(url, pool_pre_ping=True, json_serializer=_json_text, **pool)


class _Turn:
    """Whose turn it is to write one SQLite file, among this process's connections.

    SQLite lets one writer in at a time; another that asks meanwhile sleeps in its busy
    handler, 1, 2, 5, 10 … up to 100 ms between tries, however soon the lock is free. Under a
    district's pushes and the pulls' audit rows that left the single server process idle a
    quarter of the time while requests waited. Writers of this process now queue on a lock and
    go in as soon as the one before them commits; SQLite's own locking still decides what is
    safe (other processes, the command line, wait in the busy handler as before).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holder: Any = None  # the DBAPI connection whose transaction writes

    def take(self, dbapi_connection: Any) -> None:
        if self.holder is dbapi_connection:
            return
        if not self.lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise sa.exc.OperationalError("write turn", {}, TimeoutError("database is locked"))
        self.holder = dbapi_connection

    def give_back(self, dbapi_connection: Any) -> None:
        if self.holder is dbapi_connection:
            self.holder = None
            self.lock.release()


SQLITE_BUSY_TIMEOUT_S = 30
_SQLITE_WRITERS: dict[str, _Turn] = {}  # one per database file: engines of one file share it
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _queue_writers(engine: Engine, turn: _Turn) -> None:
    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _WRITE.match(statement):
            turn.take(conn.connection.dbapi_connection)

    def _after(conn: Any) -> None:
        turn.give_back(conn.connection.dbapi_connection)

    sa.event.listen(engine, "commit", _after)
    sa.event.listen(engine, "rollback", _after)

    @sa.event.listens_for(engine.pool, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        turn.give_back(dbapi_connection)  # whatever ended its transaction: never keep the turn


def _json_text(value: Any) -> str:
    """JSON columns' serializer: pydantic's (Rust) encoder, not ``json.dumps``.

    Every pushed visit stores its record as JSON, and this encoder takes about 40 % less time
    for one (4 µs instead of 7).
    It writes non-ASCII characters as themselves, and NaN (which no validated field can hold)
    as null.
    """
    return pydantic_core.to_json(value).decode()


@lru_cache
def get_engine() -> Engine:
    """The engine of everything but admitted sync work: console, sign-in, reports, commands."""
    settings = get_settings()
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_overflow,
        pool_timeout=settings.db_pool_timeout,
    )


@lru_cache
def get_sync_engine() -> Engine:
    """The engine of sync work the admission gate let in (server.admission): exactly one
    connection per request that may run at once, so admitted work never waits for one. Its own
    pool, not a share of one: however saturated sync is, the console's connections stay free."""
    settings = get_settings()
    return make_engine(
        settings.database_url,
        pool_size=settings.sync_concurrency,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
    )


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


def get_session(request: Request) -> Iterator[Session]:
    """The request's session: on the sync pool when the admission gate admitted the request."""
    engine = get_sync_engine() if admitted_sync(request.scope) else get_engine()
    with Session(engine) as session:
        yield session


# The key the admission gate sets in an ASGI scope it let in (read by get_session).
ADMITTED_KEY = "songjiao.sync_admitted"


def admitted_sync(scope: Mapping[str, Any]) -> bool:
    return bool(scope.get(ADMITTED_KEY))


def lock_changes(session: Session) -> int:
    """Hold the change counter for the rest of the transaction (writers queue here); returns
    its value: the number of the last change committed."""
    row = session.execute(
        sa.text("UPDATE seq_counter SET value = value WHERE name = 'change' RETURNING value")
    ).one()
    return int(row[0])


def last_change(session: Session) -> int:
    """The number of the last change committed, read without taking the lock."""
    return int(
        session.execute(sa.text("SELECT value FROM seq_counter WHERE name = 'change'")).scalar_one()
    )


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


def bulk_insert(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (all with the same keys) in one DBAPI ``executemany``.

    The SQL and the stored values are those of ``session.execute(sa.insert(table), rows)``: the
    statement is compiled by SQLAlchemy for the session's dialect and every value goes through
    its column type's own bind processor. What is skipped is SQLAlchemy's generic per-row
    parameter bookkeeping: measured alone on SQLite, a visit row took 23 µs instead of 27.
    """
    if not rows:
        return
    connection = session.connection()
    sql, names, processors = _insert_plan(connection.dialect, table, tuple(rows[0]))
    steps = list(zip(names, processors, strict=True))
    if connection.dialect.positional:
        params: list[Any] = [
            tuple(convert(row[n]) if convert else row[n] for n, convert in steps) for row in rows
        ]
    else:
        params = [
            {n: convert(row[n]) if convert else row[n] for n, convert in steps} for row in rows
        ]
    connection.exec_driver_sql(sql, params)


Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=64)
def _insert_plan(
    dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    compiled = sa.insert(table).compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ()) if dialect.positional else keys
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return compiled.string, names, processors
