"""indexes for pulls: one teacher's or one district's visits after a cursor, in seq order

A pull asks for ``visit WHERE teacher = ? AND seq > ? ORDER BY seq LIMIT ?`` (a coordinator's,
by ``district_code``). With only ``ix_visit_seq`` and ``ix_visit_teacher_time`` the database
either walks every visit newer than the cursor, all teachers' (on a busy morning, the whole
district's pushes since the last pull), or reads all of the teacher's visits and sorts them.
``(teacher, seq)`` and ``(district_code, seq)`` answer it as one range.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain CREATE INDEX, not a batch operation: on SQLite a batch may copy the table, which would
# drop the visit_tally triggers of 0003.
def upgrade() -> None:
    op.create_index("ix_visit_teacher_seq", "visit", ["teacher", "seq"])
    op.create_index("ix_visit_district_seq", "visit", ["district_code", "seq"])


def downgrade() -> None:
    op.drop_index("ix_visit_district_seq", table_name="visit")
    op.drop_index("ix_visit_teacher_seq", table_name="visit")
