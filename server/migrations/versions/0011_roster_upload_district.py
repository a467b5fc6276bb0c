"""the district a staged roster upload is for

An admin uploading on /roster picks the one district the file is for (or none: the city, each
row's own district). The pick waits with the staged file, so the confirmation imports for the
district the preview was checked against, not for whatever a later form says.

Revision ID: 0011_roster_upload_district
Revises: 0010_service_session
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_roster_upload_district"
down_revision: str | None = "0010_service_session"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("roster_upload") as batch:
        batch.add_column(sa.Column("district_code", sa.String(length=6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("roster_upload") as batch:
        batch.drop_column("district_code")
