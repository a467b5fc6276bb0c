"""Services refuse with domain codes; the one table at the edge gives each its HTTP status."""

import re
from pathlib import Path

from server.errors import STATUS
from shared.messages import t

SERVICES = Path(__file__).resolve().parents[2] / "server" / "services"
RAISED = re.compile(r'DomainError\(\s*"([\w.]+)"')


def _codes_raised() -> set[str]:
    return {m for f in SERVICES.rglob("*.py") for m in RAISED.findall(f.read_text("utf-8"))}


def test_every_code_a_service_raises_has_a_status_and_a_chinese_message() -> None:
    codes = _codes_raised()
    assert {"user_exists", "not_found", "review.visit_changed", "not_an_image"} <= codes
    assert codes - STATUS.keys() == set()
    for code in codes:
        assert t(code) != code, code  # the catalogue has it


def test_services_raise_no_http_errors() -> None:
    offenders = [f.name for f in SERVICES.rglob("*.py") if "ApiError(" in f.read_text("utf-8")]
    assert offenders == []
