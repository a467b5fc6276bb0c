"""Login throttling per account and per address, on the API and the console (issue 7, point 6);
and the console's idle timeout setting, which needs a server of its own as well.

These run on servers of their own with tight limits (the shared servers' limits are set out of
reach in tests.live). Each test signs in from addresses of its own, sent as X-Forwarded-For,
which the server trusts from 127.0.0.1 (uvicorn's default for a local reverse proxy).
"""

import itertools
import os
import random
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from sqlmodel import col, select

from server.models import AuditLog, ConsoleSession, User, utcnow
from tests.conftest import BACKENDS, _skip_without_pg
from tests.factories import PASSWORD, Factory
from tests.live import Client, LiveServer, create_database, drop_database, free_port
from tests.server.test_console import Console

PER_ACCOUNT, PER_ADDRESS = 3, 8
TIGHT = {
    "SONGJIAO_LOGIN_FAILURES_PER_ACCOUNT": f"{PER_ACCOUNT}/15 minutes",
    "SONGJIAO_LOGIN_FAILURES_PER_ADDRESS": f"{PER_ADDRESS}/15 minutes",
    "SONGJIAO_CONSOLE_IDLE_MINUTES": "5",  # the default is 30: shows the setting is read
}
REDIS_URL = os.environ.get("SONGJIAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_addresses = itertools.count(random.randint(1, 200) * 256)


def _address() -> str:
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _server(backend: str, workdir, url: str, name: str, **env: str) -> LiveServer:
    return LiveServer(
        backend=backend,
        database_url=url,
        media_dir=workdir / "media",
        port=free_port(),
        log_path=workdir / f"{name}.log",
        extra_env={**TIGHT, **env},
    )


@pytest.fixture(scope="module", params=BACKENDS)
def tight(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    backend = request.param
    _skip_without_pg(backend)
    workdir = tmp_path_factory.mktemp(f"throttle-{backend}")
    url = create_database(backend, workdir)
    live = _server(backend, workdir, url, "server").start()
    try:
        yield live
    finally:
        live.stop()
        drop_database(url)


@pytest.fixture(scope="module")
def tight_factory(tight: LiveServer) -> Factory:
    return Factory(tight)


def _api_login(server: LiveServer, username: str, password: str, address: str):
    return Client(server).post(
        "/auth/login",
        json={"username": username, "password": password, "device_name": "x"},
        headers={"X-Forwarded-For": address},
    )


def _console_login(server: LiveServer, username: str, password: str, address: str):
    browser = Console(server)
    browser.http.headers["X-Forwarded-For"] = address
    return browser.login(username, password)


def _actions(factory: Factory, actor: str) -> list[AuditLog]:
    with factory.session() as s:
        return list(
            s.exec(select(AuditLog).where(AuditLog.actor == actor).order_by(col(AuditLog.id)))
        )


def test_api_locks_an_account_after_failures_even_for_the_right_password(
    tight: LiveServer, tight_factory: Factory
) -> None:
    teacher = tight_factory.user("teacher", tight_factory.district())
    address = _address()
    for _ in range(PER_ACCOUNT):
        assert _api_login(tight, teacher, "wrong", address).status_code == 401
    locked = _api_login(tight, teacher, PASSWORD, address)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert "15 分钟后再试" in locked.json()["error"]["message"]
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    # From another address too: the lock is the account's.
    assert _api_login(tight, teacher, PASSWORD, _address()).status_code == 429
    rows = _actions(tight_factory, teacher)
    assert [r.action for r in rows] == [
        *["login_failed"] * PER_ACCOUNT,
        "lockout",
        "login_locked",
        "login_locked",
    ]
    assert rows[0].address == address and "channel=api" in rows[0].detail
    assert "by=account" in rows[PER_ACCOUNT].detail
    assert all("wrong" not in r.detail and PASSWORD not in r.detail for r in rows)


def test_success_resets_the_account_count(tight: LiveServer, tight_factory: Factory) -> None:
    teacher = tight_factory.user("teacher", tight_factory.district())
    address = _address()
    for _ in range(2):
        for _ in range(PER_ACCOUNT - 1):
            assert _api_login(tight, teacher, "wrong", address).status_code == 401
        ok = _api_login(tight, teacher, PASSWORD, address)
        assert ok.status_code == 200
    (login, *_) = [r for r in _actions(tight_factory, teacher) if r.action == "login"]
    assert login.address == address and login.device_id is not None


def test_an_address_guessing_at_many_accounts_is_locked_out(
    tight: LiveServer, tight_factory: Factory
) -> None:
    address = _address()
    for n in range(PER_ADDRESS):
        typed = f"guess-{uuid.uuid4().hex[:8]}-{n}"
        assert _api_login(tight, typed, "wrong", address).status_code == 401
    teacher = tight_factory.user("teacher", tight_factory.district())
    assert _api_login(tight, teacher, PASSWORD, address).status_code == 429
    assert _api_login(tight, teacher, PASSWORD, _address()).status_code == 200
    (last, locked) = _actions(tight_factory, typed)[-2:]
    assert (last.action, locked.action) == ("login_failed", "lockout")
    assert "reason=unknown_user" in last.detail and "by=address" in locked.detail


def test_unknown_username_is_logged_as_typed_and_truncated(
    tight: LiveServer, tight_factory: Factory
) -> None:
    typed = "某人" + "x" * 70
    assert _api_login(tight, typed[:64], "secret-guess", _address()).status_code == 401
    rows = _actions(tight_factory, typed[:64])
    assert [r.action for r in rows] == ["login_failed"]
    assert "secret-guess" not in rows[0].detail
    console_typed = "y" * 80  # the console form takes more than the API's 64
    assert _console_login(tight, console_typed, "pw", _address()).status_code == 401
    assert [r.action for r in _actions(tight_factory, console_typed[:64])] == ["login_failed"]


def test_console_locks_out_with_429_retry_after_and_a_chinese_message(
    tight: LiveServer, tight_factory: Factory
) -> None:
    coordinator = tight_factory.user("coordinator", tight_factory.district())
    address = _address()
    for _ in range(PER_ACCOUNT):
        assert _console_login(tight, coordinator, "wrong", address).status_code == 401
    page = _console_login(tight, coordinator, PASSWORD, address)
    assert page.status_code == 429 and "登录失败次数过多" in page.text
    assert int(page.headers["Retry-After"]) > 0
    assert page.headers["content-type"].startswith("text/html")
    # The console and the API count the same account.
    assert _api_login(tight, coordinator, PASSWORD, _address()).status_code == 429
    actions = [r.action for r in _actions(tight_factory, coordinator)]
    assert actions.count("login_failed") == PER_ACCOUNT and "lockout" in actions
    other = tight_factory.user("coordinator", tight_factory.district())
    assert _console_login(tight, other, PASSWORD, address).status_code == 200
    (login,) = [r for r in _actions(tight_factory, other) if r.action == "login"]
    assert login.address == address and "channel=console" in login.detail


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"the shared-storage test needs Redis at {REDIS_URL}: {exc}")


@pytest.fixture
def two_servers(tight: LiveServer, tmp_path) -> Iterator[list[LiveServer]]:
    """Two server processes on one database sharing their counts in Redis, under a key
    prefix of this test run's own."""
    _redis_or_skip()
    prefix = f"songjiao-test-{uuid.uuid4().hex}"
    env = {"SONGJIAO_RATE_LIMIT_STORAGE": REDIS_URL, "SONGJIAO_RATE_LIMIT_KEY_PREFIX": prefix}
    servers = [
        _server(tight.backend, tmp_path, tight.database_url, f"s{n}", **env) for n in range(2)
    ]
    try:
        for live in servers:
            live.start()
        yield servers
    finally:
        for live in servers:
            live.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_processes_sharing_redis_lock_an_account_out_together(
    two_servers: list[LiveServer], tight_factory: Factory
) -> None:
    first, second = two_servers
    teacher = tight_factory.user("teacher", tight_factory.district())
    address = _address()
    assert _api_login(first, teacher, "wrong", address).status_code == 401
    assert _api_login(second, teacher, "wrong", address).status_code == 401
    assert _api_login(first, teacher, "wrong", address).status_code == 401
    assert _api_login(second, teacher, PASSWORD, address).status_code == 429
    assert _api_login(first, teacher, PASSWORD, address).status_code == 429


def test_guessing_the_old_password_on_the_password_page_locks_the_account(
    tight: LiveServer, tight_factory: Factory
) -> None:
    coordinator = tight_factory.user("coordinator", tight_factory.district())
    browser = Console(tight)
    browser.http.headers["X-Forwarded-For"] = _address()
    assert browser.login(coordinator).status_code == 200
    browser.get("/account/password")
    new = {"new_password": "新密码很长很长", "new_password_again": "新密码很长很长"}
    for _ in range(PER_ACCOUNT):
        page = browser.post("/account/password", {"old_password": "guess", **new})
        assert page.status_code == 400
    page = browser.post("/account/password", {"old_password": PASSWORD, **new})
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert _api_login(tight, coordinator, PASSWORD, _address()).status_code == 429
    actions = [r.action for r in _actions(tight_factory, coordinator)]
    assert actions.count("password_change_failed") == PER_ACCOUNT and "lockout" in actions
    assert "password_change" not in actions


def test_console_idle_timeout_follows_its_setting(
    tight: LiveServer, tight_factory: Factory
) -> None:
    coordinator = tight_factory.user("coordinator", tight_factory.district())
    browser = Console(tight)
    assert browser.login(coordinator).status_code == 200
    with tight_factory.session() as s:
        user = s.exec(select(User).where(User.username == coordinator)).one()
        row = s.exec(select(ConsoleSession).where(ConsoleSession.user_id == user.id)).one()
        row.last_seen_at = utcnow() - timedelta(minutes=6)
        s.add(row)
        s.commit()
    assert not browser.signed_in()


def test_an_unreachable_shared_store_refuses_sign_in_with_503_not_500(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Without its counts the throttle cannot tell a guesser apart: sign-in fails closed, with
    the stable error body and Retry-After, on the API and the console alike."""
    workdir = tmp_path_factory.mktemp("throttle-dead-redis")
    url = create_database("sqlite", workdir)
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    live = _server("sqlite", workdir, url, "server", SONGJIAO_RATE_LIMIT_STORAGE=dead).start()
    try:
        teacher = Factory(live).user("teacher", Factory(live).district())
        answer = _api_login(live, teacher, PASSWORD, _address())
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "login_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
        page = _console_login(live, teacher, PASSWORD, _address())
        assert page.status_code == 503 and "登录服务暂时不可用" in page.text
        assert "Retry-After" in page.headers
    finally:
        live.stop()
