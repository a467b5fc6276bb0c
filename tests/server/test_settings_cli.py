"""Settings refuse unsafe defaults; the user command reads the password from stdin."""

import re
from pathlib import Path

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


def test_every_setting_is_in_the_readme_settings_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(SONGJIAO_[A-Z_]+)` \|", readme, re.M))
    missing = {f"SONGJIAO_{name.upper()}" for name in Settings.model_fields} - documented
    assert missing == set()


def test_a_login_limit_nobody_can_read_refuses_to_start() -> None:
    with pytest.raises(ValueError):
        Settings(_env_file=None, login_failures_per_account="five a quarter")
    assert Settings(_env_file=None).login_failures_per_address == "50/15 minutes"
