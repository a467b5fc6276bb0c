"""Security headers (issue 7, point 10): console pages, their error pages and everything else
carry a strict Content-Security-Policy, refuse framing and send no referrer."""

import re
from html.parser import HTMLParser

import pytest
import requests

from tests.conftest import World
from tests.factories import home_visit, upsert
from tests.live import LiveServer
from tests.server.test_console import Console


def assert_strict(response: requests.Response) -> None:
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline script, no outside script
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp and "http" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


class _Inline(HTMLParser):
    """Finds what a strict CSP would block: inline scripts, handlers and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        # A JSON data block (the dashboard's chart options) is never run, so CSP lets it be.
        data_block = dict(attrs).get("type") == "application/json"
        if tag == "script" and "src" not in names and not data_block:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag}[{n}]" for n in names if n == "style" or n.startswith("on")]
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"^(https?:)?//", value):
                self.found.append(f"outside {value}")


def _nothing_inline(html: str) -> None:
    parser = _Inline()
    parser.feed(html)
    assert parser.found == []


@pytest.fixture
def coord(world: World, server: LiveServer) -> Console:
    console = Console(server)
    assert console.login(world.coordinator).status_code == 200
    return console


def test_every_console_page_carries_the_headers(world: World, coord: Console) -> None:
    (result,) = world.t.push(upsert(home_visit(world.student)))
    pages = [
        "/dashboard",
        f"/districts/{world.district}",
        "/visits",
        f"/visits/{result['id']}",
        "/devices",
    ]
    for path in pages:
        response = coord.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        _nothing_inline(response.text)
    anonymous = requests.get(f"{coord.server.url}/login", timeout=30)
    assert_strict(anonymous)
    _nothing_inline(anonymous.text)
    assert_strict(coord.get("/console/static/console.css"))


def test_console_error_pages_carry_the_headers(world: World, coord: Console) -> None:
    other = coord.get("/districts/999999")
    assert other.status_code == 404 and "text/html" in other.headers["content-type"]
    assert_strict(other)
    refused = coord.post("/devices/1/revoke", {}, csrf=False)
    assert refused.status_code == 403
    assert_strict(refused)
    redirect = requests.get(f"{coord.server.url}/dashboard", allow_redirects=False, timeout=30)
    assert redirect.status_code == 303
    assert_strict(redirect)


def test_api_answers_and_errors_carry_the_headers(server: LiveServer) -> None:
    for method, path in [
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/auth/me"),  # 401
        ("GET", "/no/such/page"),  # 404
        ("TRACE", "/login"),  # 405
        ("GET", "/api/v1/health?q=%00"),  # refused by the body limit itself
    ]:
        assert_strict(requests.request(method, server.url + path, timeout=30))
