"""A real server for the screens that talk to one (SQLite: the screens add no storage code)."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.factories import Factory
from tests.live import LiveServer, create_database, free_port


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("ui-server")
    live = LiveServer(
        backend="sqlite",
        database_url=create_database("sqlite", workdir),
        media_dir=workdir / "media",
        port=free_port(),
        log_path=workdir / "server.log",
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


@dataclass
class Field:
    district: str
    school: str
    student: str
    teacher: str
    itinerant: str
    coordinator: str


@pytest.fixture
def field_world(ui_server: LiveServer) -> Field:
    """A teacher with one child (photo consent given), an itinerant with one school."""
    factory = Factory(ui_server)
    district = factory.district("淳安县")
    special = factory.school(district, kind="special", lat=29.60, lon=119.00, name="淳安特校")
    school = factory.school(district, lat=29.61, lon=119.04, name="千岛湖小学")
    student = factory.student(
        district,
        special,
        name="张小明",
        home_lat=29.70,
        home_lon=119.10,
        iep_goals=["能指认三种颜色", "能独立进食"],
    )
    factory.student(district, school, name="随班生", placement="regular_class")
    teacher = factory.user("teacher", district, base_school=special)
    itinerant = factory.user("itinerant", district, base_school=special)
    coordinator = factory.user("coordinator", district)
    factory.assign(teacher, student=student, district=district)
    factory.assign(itinerant, school=school, district=district)
    factory.engine.dispose()
    return Field(district, school, student, teacher, itinerant, coordinator)
