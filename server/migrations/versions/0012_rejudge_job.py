"""re-judging after a policy change becomes a job: its progress, cursor and lease

Saving a policy version used to re-judge every stored visit from its effective date inside
the saving request and transaction (20 minutes and the write lock for a city-wide version on
SQLite). The version now writes a ``rejudge_job`` row with it; the job is run a page per
transaction, its progress and resume cursor committed with each page (services/rejudge_jobs.py).

Revision ID: 0012_rejudge_job
Revises: 0011_roster_upload_district
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_rejudge_job"
down_revision: str | None = "0011_roster_upload_district"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejudge_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), sa.ForeignKey("policy.id"), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("gained", sa.JSON(), nullable=True),
        sa.Column("lost", sa.JSON(), nullable=True),
        sa.Column("cursor", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Plain CREATE INDEX: no batch operation (see 0005).
    op.create_index("ix_rejudge_job_policy_id", "rejudge_job", ["policy_id"])
    op.create_index("ix_rejudge_job_status", "rejudge_job", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_rejudge_job_status", table_name="rejudge_job")
    op.drop_index("ix_rejudge_job_policy_id", table_name="rejudge_job")
    op.drop_table("rejudge_job")
