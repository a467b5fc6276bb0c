"""Fixtures: one real server process per database backend for the whole test session."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from tests.factories import Factory
from tests.live import PG_ENV, Client, LiveServer, create_database, drop_database, free_port

BACKENDS = ["sqlite", "postgresql"]

# Tests assert behaviour, not timings: on a loaded 2-core machine one example may take over
# Hypothesis's default 200 ms deadline (seen: 1.45 s in test_travel), which is no failure.
settings.register_profile("songjiao", deadline=None)
settings.load_profile("songjiao")


def _skip_without_pg(backend: str) -> None:
    if backend == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``songjiao serve`` on a fresh database; every storage test runs on both backends."""
    backend = request.param
    _skip_without_pg(backend)
    workdir = tmp_path_factory.mktemp(f"server-{backend}")
    url = create_database(backend, workdir)
    live = LiveServer(
        backend=backend,
        database_url=url,
        media_dir=workdir / "media",
        port=free_port(),
        log_path=workdir / "server.log",
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()
        drop_database(url)


@pytest.fixture(scope="session")
def factory(server: LiveServer) -> Factory:
    return Factory(server)


@dataclass
class World:
    """One district with a teacher assigned to a child and an itinerant to a school."""

    district: str
    school: str
    special_school: str
    student: str
    teacher: str
    itinerant: str
    coordinator: str
    t: Client  # the teacher's device
    i: Client  # the itinerant's device
    c: Client  # the coordinator's device


@pytest.fixture
def world(factory: Factory) -> World:
    district = factory.district()
    special = factory.school(district, kind="special", lat=30.20, lon=120.20, name="特殊教育学校")
    school = factory.school(district, lat=30.25, lon=120.15)
    student = factory.student(district, special)
    factory.student(district, school, placement="regular_class")
    teacher = factory.user("teacher", district, base_school=special)
    itinerant = factory.user("itinerant", district, base_school=special)
    coordinator = factory.user("coordinator", district)
    factory.assign(teacher, student=student, district=district)
    factory.assign(itinerant, school=school, district=district)
    return World(
        district,
        school,
        special,
        student,
        teacher,
        itinerant,
        coordinator,
        factory.login(teacher),
        factory.login(itinerant),
        factory.login(coordinator),
    )


@pytest.fixture
def artifacts() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
