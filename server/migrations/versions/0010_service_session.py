"""the service standard's sessions are the judge's, stored; visit_tally only sums them

Migration 0003's triggers decided in SQL which sessions count toward the service standard
(``flags LIKE '%"short_duration"%'``): a second definition of a rule whose one definition is
the Python judge (``shared.judge.counts_for_service``). ``visit.service_session`` now holds the
judge's decision, set by every writer that judges a visit (push, policy re-judging), and the
tally's ``sessions`` column is its plain sum, replacing ``short``. The triggers decide nothing.

Stored visits are judged here by the same function, under the policy of their day.

Revision ID: 0010_service_session
Revises: 0009_console_indexes
Create Date: 2026-12-03
"""

import importlib.util
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_service_session"
down_revision: str | None = "0009_console_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "kind, local_month, district_code, subject_id, teacher"
SUMS = ("visits", "flagged", "sessions", "fen", "approved_fen")
WATCHED = (
    "counted, kind, local_month, district_code, student_id, school_id, teacher, flagged, "
    "service_session, subsidy_fen, review_status"
)
PAGE = 5_000


def _sums(row: str, sqlite: bool) -> list[str]:
    """What one visit adds to each of SUMS: its columns, as the judge set them."""
    as_int = "{}" if sqlite else "{}::int"
    return [
        "1",
        as_int.format(f"{row}.flagged"),
        as_int.format(f"{row}.service_session"),
        f"{row}.subsidy_fen",
        f"CASE WHEN {row}.review_status = 'approved' THEN {row}.subsidy_fen ELSE 0 END",
    ]


def _key(row: str) -> list[str]:
    return [
        f"{row}.kind",
        f"{row}.local_month",
        f"{row}.district_code",
        f"COALESCE({row}.student_id, {row}.school_id, '')",
        f"{row}.teacher",
    ]


def _add(row: str, sqlite: bool, guard: str) -> str:
    values = ", ".join(_key(row) + _sums(row, sqlite))
    prefix = "" if sqlite else "visit_tally."
    added = ", ".join(f"{c} = {prefix}{c} + excluded.{c}" for c in SUMS)
    return (
        f"INSERT INTO visit_tally ({KEY}, {', '.join(SUMS)}) SELECT {values} WHERE {guard} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {added}"
    )


def _subtract(row: str, sqlite: bool) -> str:
    taken = ", ".join(f"{c} = {c} - {v}" for c, v in zip(SUMS, _sums(row, sqlite), strict=True))
    where = " AND ".join(f"{c} = {v}" for c, v in zip(KEY.split(", "), _key(row), strict=True))
    return f"UPDATE visit_tally SET {taken} WHERE {where}"


def _sqlite_triggers() -> list[str]:
    return [
        "CREATE TRIGGER visit_tally_insert AFTER INSERT ON visit "
        f"BEGIN {_add('NEW', True, 'NEW.counted')}; END",
        "CREATE TRIGGER visit_tally_delete AFTER DELETE ON visit WHEN OLD.counted "
        f"BEGIN {_subtract('OLD', True)}; END",
        f"CREATE TRIGGER visit_tally_update AFTER UPDATE OF {WATCHED} ON visit "
        f"BEGIN {_subtract('OLD', True)} AND OLD.counted; {_add('NEW', True, 'NEW.counted')}; END",
    ]


def _postgresql_triggers() -> list[str]:
    return [
        f"""CREATE FUNCTION visit_tally_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.counted THEN
                {_subtract("OLD", False)};
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.counted THEN
                {_add("NEW", False, "true")};
            END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER visit_tally AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON visit "
        "FOR EACH ROW EXECUTE FUNCTION visit_tally_apply()",
    ]


def _drop_triggers(sqlite: bool) -> None:
    if sqlite:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER visit_tally_{name}")
    else:
        op.execute("DROP TRIGGER visit_tally ON visit")
        op.execute("DROP FUNCTION visit_tally_apply()")


def _tally_table(middle: str) -> None:
    op.create_table(
        "visit_tally",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("local_month", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("teacher", sa.String(64), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column(middle, sa.Integer(), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "local_month", "district_code", "subject_id", "teacher"),
    )


def _judge_stored_visits() -> None:
    """``service_session`` of every stored home-teaching visit, by the judge, a page at a time."""
    from shared.judge import counts_for_service, policy_on
    from shared.policy import PolicyParams, PolicyVersion

    bind = op.get_bind()
    versions = [
        PolicyVersion(
            district_code=code,
            effective_from=effective_from,
            params=PolicyParams.model_validate(_json(params)),
        )
        for code, effective_from, params in bind.execute(
            sa.text("SELECT district_code, effective_from, params FROM policy")
        )
    ]
    query = sa.text(
        "SELECT id, kind, district_code, started_at, ended_at FROM visit "
        "WHERE kind = 'home_teaching' AND id > :after ORDER BY id LIMIT :n"
    )
    update = sa.text("UPDATE visit SET service_session = :yes WHERE id = :id")
    after = ""
    while rows := list(bind.execute(query, {"after": after, "n": PAGE})):
        marked = []
        for vid, kind, code, started, ended in rows:
            start, end = _aware(started), _aware(ended)
            policy = policy_on(versions, code, start)
            if counts_for_service(kind, start, end, policy):
                marked.append({"id": vid, "yes": True})
        if marked:
            bind.execute(update, marked)
        after = rows[-1][0]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored as UTC


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Plain ALTER TABLE, not a batch operation: on SQLite a batch copies the table, which
    # would drop the triggers.
    op.add_column(
        "visit",
        sa.Column("service_session", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _judge_stored_visits()
    _drop_triggers(sqlite)
    op.drop_table("visit_tally")
    _tally_table("sessions")
    sums = ", ".join(f"sum({value})" for value in _sums("visit", sqlite))
    op.execute(
        f"INSERT INTO visit_tally ({KEY}, {', '.join(SUMS)}) "
        f"SELECT {', '.join(_key('visit'))}, {sums} FROM visit WHERE counted GROUP BY 1, 2, 3, 4, 5"
    )
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)


def downgrade() -> None:
    """Back to 0003's tally: ``short`` from the flags, its triggers, no stored column."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    spec = importlib.util.spec_from_file_location(
        "visit_tally_0003", Path(__file__).with_name("0003_visit_tally.py")
    )
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    _drop_triggers(sqlite)
    op.drop_table("visit_tally")
    op.drop_column("visit", "service_session")  # plain ALTER TABLE, before any trigger names it
    _tally_table("short")
    flags = "visit.flags" if sqlite else "visit.flags::text"
    flagged = "CASE WHEN visit.flagged THEN 1 ELSE 0 END"
    sums = ", ".join(f"sum({value})" for value in old._sums("visit", flagged, flags))
    op.execute(
        f"INSERT INTO visit_tally ({old.KEY}, {', '.join(old.SUMS)}) "
        f"SELECT {', '.join(old._key('visit'))}, {sums} FROM visit WHERE counted "
        "GROUP BY 1, 2, 3, 4, 5"
    )
    for statement in old._sqlite_triggers() if sqlite else old._postgresql_triggers():
        op.execute(statement)
