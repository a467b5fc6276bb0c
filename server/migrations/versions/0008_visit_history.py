"""visit change history: each version a push makes, and each review, of every visit

``visit_version`` keeps what the server used to overwrite: the version a push applied (upsert
or delete, with the record and the server's judgement as they were), and the coordinator's
reviews and flag notes, so the console can show who changed what and when. Visits stored
before it have no history for their earlier versions: it was never kept.

Revision ID: 0008_visit_history
Revises: 0007_roster_upload
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008_visit_history"
down_revision: str | None = "0007_roster_upload"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    # Plain CREATE INDEX: no batch operation (see 0005).
    op.create_index("ix_visit_version_visit", "visit_version", ["visit_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_visit_version_visit", table_name="visit_version")
    op.drop_table("visit_version")
