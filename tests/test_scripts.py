"""The README's run command, ``scripts/start``, as a user runs it: demo data of today's term
loaded, the server and the field app both answering, the demo logins printed, and Ctrl-C
stopping both."""

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from server.demo.calendar import demo_calendar
from server.demo.roster import PASSWORD
from shared.messages import t
from shared.terms import local_date
from tests.live import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
BANNER = "送教通已启动"
STARTUP_S = 180  # demo load, migrations, two processes


def _loaded_line() -> tuple[str, str]:
    """(the summary's first line, the term) for the demo of today (Asia/Shanghai)."""
    days = demo_calendar(local_date(datetime.now(UTC)))
    today, last_day = days.today.isoformat(), days.last_day.isoformat()
    line = t("demo.loaded_term", term=days.term.id, last_day=last_day, today=today)
    return line, days.term.id


def test_start_runs_server_and_app_together_and_stops_both(tmp_path: Path) -> None:
    server_port, app_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "SONGJIAO_DEMO_TODAY"},  # today's demo
        "SONGJIAO_DATABASE_URL": f"sqlite:///{tmp_path / 'songjiao.db'}",
        "SONGJIAO_MEDIA_DIR": str(tmp_path / "media"),
        "SONGJIAO_APP_PORT": str(app_port),
        "FLET_APP_STORAGE_DATA": str(tmp_path / "app"),
        "SONGJIAO_START_NO_INSTALL": "1",  # the test run's own .venv is in use by other tests
    }
    log = tmp_path / "start.log"
    expected = dict([_loaded_line()])
    with log.open("wb") as out:
        start = subprocess.Popen(
            [str(ROOT / "scripts" / "start"), "--port", str(server_port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    children: list[int] = []
    try:
        deadline = time.monotonic() + STARTUP_S
        while BANNER not in log.read_text(errors="replace"):
            assert start.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        printed = log.read_text(errors="replace")
        expected.update([_loaded_line()])  # should midnight have passed meanwhile
        terms = [term for line, term in expected.items() if line in printed]
        assert terms, printed
        for text in ("songjiao2025", "t_330127_1", "i_330127_1", "c_330127"):
            assert text in printed
        assert f"http://127.0.0.1:{app_port}/" in printed
        # The demo step and the banner both give the console at the port asked for.
        assert printed.count(f"http://127.0.0.1:{server_port}/login") == 2, printed
        assert "127.0.0.1:8000" not in printed
        assert f"连接 http://127.0.0.1:{server_port}" in printed
        health = requests.get(f"http://127.0.0.1:{server_port}/api/v1/health", timeout=5)
        assert health.status_code == 200
        # The coordinator printed finds visits in today's term (the console opens on it).
        login = requests.post(
            f"http://127.0.0.1:{server_port}/api/v1/auth/login",
            json={"username": "c_330127", "password": PASSWORD, "device_name": "start"},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        report = requests.get(
            f"http://127.0.0.1:{server_port}/api/v1/compliance/330127",
            params={"term": terms[0]},
            headers={"Authorization": f"Bearer {login.json()['token']}"},
            timeout=60,
        )
        assert report.status_code == 200 and report.json()["visits"]["total"] > 0, report.text
        assert requests.get(f"http://127.0.0.1:{app_port}/", timeout=5).status_code == 200
        children += _children(start.pid)
        assert len(children) == 2, children  # songjiao serve and songjiao app

        start.send_signal(signal.SIGINT)  # Ctrl-C
        assert start.wait(timeout=30) == 130
        for pid in children:
            assert not _alive(pid), f"process {pid} outlived scripts/start"
    finally:
        stop_process(start)
        for pid in children:  # should the script have left them running
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not reaped it yet.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
