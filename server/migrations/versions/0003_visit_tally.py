"""visit tally kept by triggers, for the compliance report

The report summed a term's visits with GROUP BYs over the covering index ix_visit_term_sums:
about 400 ns a visit, a million visits in 0.4 s. ``visit_tally`` holds those sums per kind,
month, district, subject and teacher, and triggers on ``visit`` keep it in the same
transaction as every insert, update and delete, whoever writes. The report reads a few tens of
thousands of tally rows instead, and the wide index goes (pushes no longer maintain it).

A session counts as short when it carries the short_duration flag, which the server sets
against the minimum of the policy in force on the visit's day.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "kind, local_month, district_code, subject_id, teacher"
SUMS = ("visits", "flagged", "short", "fen", "approved_fen")
# Columns whose change moves a visit's contribution; updates of others (seq, record, review
# reason...) leave the tally alone.
WATCHED = (
    "counted, kind, local_month, district_code, student_id, school_id, teacher, flagged, "
    "flags, subsidy_fen, review_status"
)
# ix_visit_term_sums as migration 0002 made it, for the downgrade.
OLD_INDEX_COLUMNS = [
    "counted",
    "kind",
    "district_code",
    "local_month",
    "student_id",
    "school_id",
    "teacher",
    "flagged",
    "duration_s",
    "subsidy_fen",
    "review_status",
    "started_at",
]


def _sums(row: str, flagged: str, flags: str) -> list[str]:
    """What one visit adds to each of SUMS, as SQL over ``row`` (NEW, OLD or visit)."""
    return [
        "1",
        flagged,
        f"CASE WHEN {flags} LIKE '%\"short_duration\"%' THEN 1 ELSE 0 END",
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


def _upsert(row: str, flagged: str, flags: str, guard: str, table_prefix: str) -> str:
    values = ", ".join(_key(row) + _sums(row, flagged, flags))
    added = ", ".join(f"{c} = {table_prefix}{c} + excluded.{c}" for c in SUMS)
    return (
        f"INSERT INTO visit_tally ({KEY}, {', '.join(SUMS)}) SELECT {values} WHERE {guard} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {added}"
    )


def _subtract(row: str, flagged: str, flags: str) -> str:
    taken = ", ".join(
        f"{c} = {c} - {value}" for c, value in zip(SUMS, _sums(row, flagged, flags), strict=True)
    )
    where = " AND ".join(
        f"{c} = {value}" for c, value in zip(KEY.split(", "), _key(row), strict=True)
    )
    return f"UPDATE visit_tally SET {taken} WHERE {where}"


def _sqlite_triggers() -> list[str]:
    def add(row: str) -> str:
        return _upsert(row, f"{row}.flagged", f"{row}.flags", f"{row}.counted", "")

    def sub(row: str) -> str:
        return _subtract(row, f"{row}.flagged", f"{row}.flags")

    return [
        f"CREATE TRIGGER visit_tally_insert AFTER INSERT ON visit BEGIN {add('NEW')}; END",
        "CREATE TRIGGER visit_tally_delete AFTER DELETE ON visit WHEN OLD.counted "
        f"BEGIN {sub('OLD')}; END",
        f"CREATE TRIGGER visit_tally_update AFTER UPDATE OF {WATCHED} ON visit "
        f"BEGIN {sub('OLD')} AND OLD.counted; {add('NEW')}; END",
    ]


def _postgresql_triggers() -> list[str]:
    def add(row: str) -> str:
        return _upsert(row, f"{row}.flagged::int", f"{row}.flags::text", "true", "visit_tally.")

    def sub(row: str) -> str:
        return _subtract(row, f"{row}.flagged::int", f"{row}.flags::text")

    return [
        f"""CREATE FUNCTION visit_tally_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.counted THEN
                {sub("OLD")};
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.counted THEN
                {add("NEW")};
            END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER visit_tally AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON visit "
        "FOR EACH ROW EXECUTE FUNCTION visit_tally_apply()",
    ]


def upgrade() -> None:
    op.create_table(
        "visit_tally",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("local_month", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("teacher", sa.String(64), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("short", sa.Integer(), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "local_month", "district_code", "subject_id", "teacher"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    flags = "visit.flags" if sqlite else "visit.flags::text"
    flagged = "CASE WHEN visit.flagged THEN 1 ELSE 0 END"
    sums = ", ".join(f"sum({value})" for value in _sums("visit", flagged, flags))
    op.execute(
        f"INSERT INTO visit_tally ({KEY}, {', '.join(SUMS)}) "
        f"SELECT {', '.join(_key('visit'))}, {sums} FROM visit WHERE counted GROUP BY 1, 2, 3, 4, 5"
    )
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)
    op.drop_index("ix_visit_term_sums", table_name="visit")


def downgrade() -> None:
    op.create_index("ix_visit_term_sums", "visit", OLD_INDEX_COLUMNS)
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER visit_tally_{name}")
    else:
        op.execute("DROP TRIGGER visit_tally ON visit")
        op.execute("DROP FUNCTION visit_tally_apply()")
    op.drop_table("visit_tally")
