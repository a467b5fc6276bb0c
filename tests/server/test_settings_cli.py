"""Settings refuse unsafe defaults; the user command reads the password from stdin."""

import pytest
from pydantic import ValidationError

from server.settings import Settings
from tests.factories import Factory, uid
from tests.live import Client, LiveServer


def test_default_secret_refused_outside_development(monkeypatch) -> None:
    monkeypatch.setenv("SONGJIAO_ENVIRONMENT", "production")
    monkeypatch.delenv("SONGJIAO_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    monkeypatch.setenv("SONGJIAO_SECRET_KEY", "a-real-secret-from-the-vault")
    assert Settings(_env_file=None).environment == "production"


def test_user_add_then_login(server: LiveServer, factory: Factory) -> None:
    district, username = factory.district(), uid("wang")
    out = server.cli(
        "user",
        "add",
        username,
        "--role",
        "teacher",
        "--district",
        district,
        "--name",
        "王老师",
        stdin="s3cret-密码\n",
    )
    assert out.returncode == 0, out.stderr
    response = Client(server).post(
        "/auth/login",
        json={"username": username, "password": "s3cret-密码", "device_name": "cli"},
    )
    assert response.status_code == 200
    assert response.json()["user"]["name"] == "王老师"
    again = server.cli(
        "user", "add", username, "--role", "teacher", "--district", district, stdin="x\n"
    )
    assert again.returncode == 1 and "用户名已存在" in again.stderr


def test_user_add_refuses_unknown_district_and_empty_password(server: LiveServer) -> None:
    out = server.cli(
        "user", "add", "li_laoshi", "--role", "teacher", "--district", "999999", stdin="pw\n"
    )
    assert out.returncode == 1 and "999999" in out.stderr
    out = server.cli(
        "user", "add", "li_laoshi", "--role", "teacher", "--district", "999999", stdin="\n"
    )
    assert out.returncode == 2 and "密码不能为空" in out.stderr
