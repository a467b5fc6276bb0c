"""roster uploads staged between the console's preview and its confirmation

A coordinator's upload is checked row by row without writing anything (the preview); the file
and each row's outcome wait here, bound to the user and expiring, until they confirm, cancel
or the time runs out.

Revision ID: 0007_roster_upload
Revises: 0006_subsidy_approval
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_roster_upload"
down_revision: str | None = "0006_subsidy_approval"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roster_upload",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_roster_upload_user_id", "roster_upload", ["user_id"])
    op.create_index("ix_roster_upload_expires_at", "roster_upload", ["expires_at"])
    op.create_table(
        "roster_upload_row",
        sa.Column(
            "upload_id",
            sa.String(length=32),
            sa.ForeignKey("roster_upload.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("row", sa.Integer(), primary_key=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
    )
    op.create_index(
        "ix_roster_upload_row_outcome", "roster_upload_row", ["upload_id", "outcome", "row"]
    )


def downgrade() -> None:
    op.drop_table("roster_upload_row")
    op.drop_table("roster_upload")
