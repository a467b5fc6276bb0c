"""covering indexes for the compliance report

The report sums a term's counted visits with GROUP BYs over ix_visit_term_sums: it leads with
their WHERE terms (counted, kind, district_code, local_month), continues with their grouping
keys in order (student_id, school_id, teacher) and ends with every other column they read, so
the database answers from the index alone and streams the groups without a sort. The two
student indexes do the same for the roster counts (the home-delivery ratio, the schools in
scope, the children owed home teaching).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIT_COLUMNS = [
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


STUDENT_CAP_COLUMNS = ["active", "stage", "district_code", "placement", "certified"]
STUDENT_PLACEMENT_COLUMNS = ["active", "placement", "school_id", "district_code", "id"]


def upgrade() -> None:
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index("ix_visit_term_sums", VISIT_COLUMNS, unique=False)
    with op.batch_alter_table("student", schema=None) as batch_op:
        batch_op.create_index("ix_student_cap", STUDENT_CAP_COLUMNS, unique=False)
        batch_op.create_index("ix_student_placement", STUDENT_PLACEMENT_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("student", schema=None) as batch_op:
        batch_op.drop_index("ix_student_placement")
        batch_op.drop_index("ix_student_cap")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_term_sums")
