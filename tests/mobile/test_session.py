"""Signing in once per device, resuming offline, signing out; the token in secure storage."""

import asyncio
from pathlib import Path

from mobile.core.devices import TOKEN_KEY, MemorySecrets
from mobile.core.session import resume, sign_in, sign_out
from mobile.core.store import Store
from tests.conftest import World
from tests.factories import PASSWORD
from tests.live import LiveServer, free_port
from tests.mobile.helpers import home_record


def test_sign_in_resume_offline_and_sign_out(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    secrets = MemorySecrets()
    store = Store(tmp_path)
    assert asyncio.run(resume(store, secrets)) is None  # first launch: 登录
    client = asyncio.run(sign_in(store, secrets, server.url + "/", world.teacher, PASSWORD))
    token = secrets.values[TOKEN_KEY]
    assert client.token == token
    for path in tmp_path.glob("songjiao.db*"):  # the database and its WAL
        assert token.encode() not in path.read_bytes()
    assert client.sync().ok

    # Next launch, no signal: straight to work with what the phone holds.
    later = Store(tmp_path)
    again = asyncio.run(resume(later, secrets))
    assert again is not None and again.token == token and again.base == server.url
    assert later.student(world.student) is not None
    later.visit_repo.save_visit(home_record(world.student))
    offline = type(again)(later, f"http://127.0.0.1:{free_port()}", token)
    assert not offline.sync().ok and later.pending_counts().records == 1

    asyncio.run(sign_out(later, secrets))
    assert TOKEN_KEY not in secrets.values and later.user() is None
    assert asyncio.run(resume(Store(tmp_path), secrets)) is None


def test_resume_without_a_token_asks_for_sign_in_and_keeps_the_data(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    secrets = MemorySecrets()
    store = Store(tmp_path)
    asyncio.run(sign_in(store, secrets, server.url, world.teacher, PASSWORD))
    store.visit_repo.save_visit(home_record(world.student))
    secrets.values.clear()  # secure storage lost, or another browser on the web app
    assert asyncio.run(resume(store, secrets)) is None  # the sign-in screen, not the caseload
    assert store.user() is not None and store.pending_counts().records == 1  # nothing lost
    client = asyncio.run(sign_in(store, secrets, server.url, world.teacher, PASSWORD))
    assert client.sync().ok and store.pending_counts().records == 0
