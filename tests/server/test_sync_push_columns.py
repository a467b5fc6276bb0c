"""The push writer's plain rows hold exactly the Visit table's columns: ``NewVisit`` is a
dataclass for speed (server/services/sync_push/rows.py), and a column added to ``Visit`` but
not to it would be silently left to its default by every push."""

from dataclasses import fields

from server.models import Visit
from server.services.sync_push.rows import NEW_VISIT_COLUMNS, NewVisit


def test_a_new_visit_row_has_every_column_of_the_visit_table() -> None:
    assert {f.name for f in fields(NewVisit)} == set(Visit.__table__.columns.keys())
    assert set(NEW_VISIT_COLUMNS) == set(Visit.__table__.columns.keys()) - {"seq"}
