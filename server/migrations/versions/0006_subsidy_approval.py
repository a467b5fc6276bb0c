"""subsidy approvals per teacher and month; the audit log by district and time

``subsidy_approval`` keeps a coordinator's approval of a teacher's month with the figures it
approved, and its taking back (who, when, why); rows are never deleted. A partial unique index
allows one live approval per teacher and month, on SQLite and PostgreSQL alike.
``ix_audit_log_district_at`` serves the console's audit page, which lists one district's rows
newest first.

Revision ID: 0006_subsidy_approval
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_subsidy_approval"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "subsidy_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_code", text(length=6), nullable=False),
        sa.Column("teacher", text(length=64), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("approved_visits", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.BigInteger(), nullable=False),
        sa.Column("claimed_fen", sa.BigInteger(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", text(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", text(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", text(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Plain CREATE INDEX, not a batch operation: on SQLite a batch may copy the table.
    op.create_index(
        "ux_subsidy_approval_live",
        "subsidy_approval",
        ["teacher", "month"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_index(
        "ix_subsidy_approval_district_month", "subsidy_approval", ["district_code", "month"]
    )
    op.create_index("ix_audit_log_district_at", "audit_log", ["district_code", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_district_at", table_name="audit_log")
    op.drop_index("ix_subsidy_approval_district_month", table_name="subsidy_approval")
    op.drop_index("ux_subsidy_approval_live", table_name="subsidy_approval")
    op.drop_table("subsidy_approval")
