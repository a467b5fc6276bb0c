"""indexes for the console's dashboard and visit log over all districts (a city admin's view)

Measured on the 1,000,000-visit province of bench/compliance.py (bench/console.py):

- ``ix_visit_pending``: the dashboard counts each district's counted visits still pending
  review in the term. With only ``ix_visit_report`` an admin's count read every visit of the
  term from the table (18 s); this partial index holds only the pending ones, by district and
  time, so the count reads the index alone (0.3 s; one district's count is one range).
- ``ix_visit_log``: the visit log over every district counts the term's visits that are not
  deleted and shows the latest 50. Both scanned the whole table (0.85 s and 0.5 s, with a
  sort); on (started_at, id, deleted) the count reads the index alone (0.12 s) and the page
  walks it newest first.

Revision ID: 0009_console_indexes
Revises: 0008_visit_history
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_console_indexes"
down_revision: str | None = "0008_visit_history"
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
    op.create_index("ix_visit_log", "visit", ["started_at", "id", "deleted"])


def downgrade() -> None:
    op.drop_index("ix_visit_log", table_name="visit")
    op.drop_index("ix_visit_pending", table_name="visit")
