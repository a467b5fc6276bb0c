"""``songjiao``, the installed console script: the server's commands and the field app's under
one name, each with the options the README gives; ``python -m server.cli`` has the server's."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "songjiao"  # what `pip install -e .` made of pyproject


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_pyproject_installs_one_console_script_songjiao() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["scripts"] == {"songjiao": "songjiao.cli:main"}
    assert SCRIPT.exists()


def test_songjiao_lists_the_server_commands_and_the_app() -> None:
    result = run(str(SCRIPT), "--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "demo", "app", "roster", "user", "compliance"):
        assert command in result.stdout


def test_each_command_keeps_its_options() -> None:
    expected = {
        ("serve",): ("--host", "--port", "--workers"),
        ("demo",): ("--host", "--port", "--today"),
        ("app",): ("--server", "--port"),
        ("roster", "import"): ("files",),
        ("user", "add"): ("--role", "--district", "--name", "--base-school"),
        ("compliance",): ("--term", "--district", "--json"),
    }
    for command, options in expected.items():
        result = run(str(SCRIPT), *command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        for option in options:
            assert option in result.stdout, (command, option)


def test_a_bad_option_is_refused_by_the_command_that_owns_it() -> None:
    result = run(str(SCRIPT), "serve", "--workers", "0")
    assert result.returncode == 2 and "必须是正整数" in result.stderr


def test_server_cli_alone_has_the_server_commands_but_not_the_app() -> None:
    result = run(sys.executable, "-m", "server.cli", "--help")
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout and "demo" in result.stdout
    assert "app" not in result.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
