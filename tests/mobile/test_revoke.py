"""Sign-out revokes the device's token on the server: queued while offline (surviving a kill),
sent once when online; and a session that signed out never syncs with its old token again."""

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from mobile.core import revoke
from mobile.core.devices import TOKEN_KEY, MemorySecrets
from mobile.core.revoke import REVOKE_KEY, Revocation, Revoker, holding
from mobile.core.session import resume, sign_in, sign_out
from mobile.core.store import Store
from mobile.core.sync import SyncClient
from tests.conftest import World
from tests.factories import PASSWORD
from tests.live import LiveServer
from tests.mobile.helpers import TEACHER, home_record, seeded
from tests.mobile.netfaults import Network, failing_server


def _token_works(server: LiveServer, token: str) -> bool:
    response = requests.get(
        server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return response.status_code == 200


def test_sign_out_offline_queues_the_revocation_and_it_is_sent_once_after_a_kill(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    secrets, store = MemorySecrets(), Store(tmp_path)
    asyncio.run(sign_in(store, secrets, server.url, world.teacher, PASSWORD))
    token = secrets.values[TOKEN_KEY]
    asyncio.run(sign_out(store, secrets))
    assert TOKEN_KEY not in secrets.values and store.user() is None
    assert asyncio.run(revoke.queued(secrets)) == [Revocation(server.url, token)]
    for path in tmp_path.glob("songjiao.db*"):  # queued beside the token, never in the store
        assert token.encode() not in path.read_bytes()

    offline = Network(up=False)
    assert asyncio.run(Revoker(secrets, store.sync_lock, http=offline).send()) is False
    assert asyncio.run(revoke.queued(secrets)) and _token_works(server, token)

    # The app is killed; next launch, with a signal: one call revokes exactly that token.
    store.close()
    later, network = Store(tmp_path), Network()
    assert asyncio.run(resume(later, secrets)) is None
    assert asyncio.run(Revoker(secrets, later.sync_lock, http=network).send()) is True
    assert network.sent == [("POST", "/api/v1/auth/logout", 0)]
    assert not _token_works(server, token) and REVOKE_KEY not in secrets.values
    assert asyncio.run(Revoker(secrets, later.sync_lock, http=network).send()) is True
    assert len(network.sent) == 1  # done is done: never sent again


def test_a_token_the_server_no_longer_knows_counts_as_revoked(tmp_path: Path) -> None:
    secrets = MemorySecrets()
    with failing_server(401) as url:
        asyncio.run(revoke.queue(secrets, url, "t1"))
        asyncio.run(revoke.queue(secrets, url, "t2"))
        asyncio.run(revoke.queue(secrets, url, "t2"))  # queued once
        assert len(asyncio.run(revoke.queued(secrets))) == 2
        assert asyncio.run(Revoker(secrets, Store(tmp_path).sync_lock).send()) is True
    assert REVOKE_KEY not in secrets.values


@pytest.mark.parametrize("status", [500, 404])
def test_a_server_error_keeps_the_revocation_queued(status: int, tmp_path: Path) -> None:
    secrets = MemorySecrets()
    with failing_server(status) as url:
        asyncio.run(revoke.queue(secrets, url, "t1"))
        assert asyncio.run(Revoker(secrets, Store(tmp_path).sync_lock).send()) is False
    assert asyncio.run(revoke.queued(secrets)) == [Revocation(url, "t1")]


def test_the_revoker_retries_with_growing_pauses_until_it_gets_through(tmp_path: Path) -> None:
    secrets, network, pauses = MemorySecrets(), Network(up=False), []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 4:
            network.up = True  # back in town

    with failing_server(401) as url:
        asyncio.run(revoke.queue(secrets, url, "t1"))
        revoker = Revoker(
            secrets, Store(tmp_path).sync_lock, http=network, rng=random.Random(1), sleep=sleep
        )
        asyncio.run(asyncio.wait_for(revoker.run(), 30))
    assert len(pauses) == 4 and pauses == sorted(pauses) and pauses[0] >= 1
    assert len(network.sent) == 1 and REVOKE_KEY not in secrets.values


def test_resume_finishes_a_sign_out_the_app_was_killed_in(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    secrets, store = MemorySecrets(), Store(tmp_path)
    asyncio.run(sign_in(store, secrets, server.url, world.teacher, PASSWORD))
    store.visit_repo.save_visit(home_record(world.student))
    token = secrets.values[TOKEN_KEY]
    asyncio.run(revoke.queue(secrets, server.url, token))  # killed right after this step
    assert asyncio.run(resume(store, secrets)) is None
    assert TOKEN_KEY not in secrets.values and store.user() is None and store.visits() == []
    assert asyncio.run(revoke.is_queued(secrets, token))


def test_a_session_left_open_across_a_sign_out_never_syncs_with_its_old_token(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    """Two tabs of one browser (one store): the teacher signs out in one, the itinerant signs
    in there; the other tab still holds the teacher's token in memory. It must not pull the
    teacher's records into the itinerant's store, nor push the itinerant's as the teacher."""
    secrets, store = MemorySecrets(), Store(tmp_path)
    asyncio.run(sign_in(store, secrets, server.url, world.teacher, PASSWORD))
    left_open = asyncio.run(resume(store, secrets))
    assert left_open is not None and left_open.sync().ok
    asyncio.run(sign_out(store, secrets))
    asyncio.run(sign_in(store, secrets, server.url, world.itinerant, PASSWORD))

    network = Network()
    left_open.http = network
    report = left_open.sync()
    assert not report.ok and report.needs_sign_in
    assert network.sent == [] and left_open.token is None
    assert store.user() is not None and store.user().username == world.itinerant  # type: ignore[union-attr]
    assert not any(a.get("username") == world.teacher for a in store.assignments())
    assert not left_open.sync().ok and network.sent == []  # and never again


def test_resume_refuses_a_token_the_store_does_not_belong_to(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    secrets, store = MemorySecrets(), Store(tmp_path)
    asyncio.run(sign_in(store, secrets, server.url, world.teacher, PASSWORD))
    secrets.values[TOKEN_KEY] = "someone-elses-token"
    assert asyncio.run(resume(store, secrets)) is None
    assert store.user() is not None  # nothing wiped: the right user signs in and goes on


def test_resume_adopts_the_token_of_a_store_from_before_fingerprints(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.set_server_url("http://127.0.0.1:9")
    store.set_user(TEACHER)
    client = asyncio.run(resume(store, MemorySecrets({TOKEN_KEY: "old-token"})))
    assert isinstance(client, SyncClient) and client.holds_current_token()


def test_waiting_for_the_store_lock_never_takes_the_worker_its_holder_needs() -> None:
    """A sign-out holds the lock and wipes the store in a worker thread; another tab waiting
    for the lock meanwhile must not occupy that worker (here the only one)."""

    async def scenario() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
        lock = threading.Lock()

        async def other_tab() -> None:
            async with holding(lock):
                pass

        async with holding(lock):
            waiting = asyncio.ensure_future(other_tab())
            await asyncio.sleep(0.1)
            await asyncio.wait_for(asyncio.to_thread(lambda: None), 5)  # the wipe
        await asyncio.wait_for(waiting, 5)
        assert not lock.locked()

    asyncio.run(scenario())


def test_a_sign_out_completes_while_other_tabs_rounds_wait_in_every_worker(
    tmp_path: Path,
) -> None:
    """Other tabs' sync rounds wait for the lock inside worker threads (here the only one);
    the sign-out holding the lock must still wipe the store and send the revocation."""
    store = seeded(tmp_path)
    store.set_server_url("http://127.0.0.1:9")
    secrets = MemorySecrets({TOKEN_KEY: "a-token"})

    async def scenario() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))

        def other_tabs_round() -> None:
            with store.sync_lock:
                pass

        async with holding(store.sync_lock):
            parked = asyncio.ensure_future(asyncio.to_thread(other_tabs_round))
            await asyncio.sleep(0.1)
            await asyncio.wait_for(sign_out(store, secrets), 10)
            sent = Revoker(secrets, threading.Lock(), http=Network(up=False))
            assert await asyncio.wait_for(sent.send(), 10) is False
        await asyncio.wait_for(parked, 5)

    asyncio.run(scenario())
    assert store.user() is None and TOKEN_KEY not in secrets.values
