"""a partial index of the visits awaiting review, for the dashboard's 待审核 counts

The dashboard counts each district's counted visits still pending review in the term. With
only ``ix_visit_report`` a city admin's count visits every visit of the term in the table
(18 s on the 1,000,000-visit province of bench/compliance.py); this index holds only the
pending ones, by district and time, so the count reads the index alone (0.2 s there; one
district's count is one range).

Revision ID: 0006_visit_pending
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_visit_pending"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same predicate as server.models.Visit's ix_visit_pending; a query uses the index only
# when its WHERE holds these terms as written (server.services.compliance.pending_reviews).
SQLITE_WHERE = "review_status = 'pending' AND counted = 1"
POSTGRESQL_WHERE = "review_status = 'pending' AND counted = true"


# Plain CREATE INDEX, not a batch operation: on SQLite a batch may copy the table, which would
# drop the visit_tally triggers of 0003.
def upgrade() -> None:
    op.create_index(
        "ix_visit_pending",
        "visit",
        ["district_code", "started_at"],
        sqlite_where=sa.text(SQLITE_WHERE),
        postgresql_where=sa.text(POSTGRESQL_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_visit_pending", table_name="visit")
