"""/docs works with no internet (issue 7, point 14): Swagger UI's assets come from this server,
the page loads nothing from elsewhere and runs under a CSP of its own; ReDoc is not served."""

import re
from urllib.parse import urljoin, urlsplit

import requests

from tests.live import LiveServer


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


def test_docs_load_only_same_origin_assets_that_answer(server: LiveServer) -> None:
    page = requests.get(f"{server.url}/docs", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = _references(page.text)
    assert any(r.endswith("swagger-ui-bundle.js") for r in refs)
    assert any(r.endswith("swagger-ui.css") for r in refs)
    assert "<script>" not in page.text  # every script is a file: the CSP needs no inline code
    assert "cdn" not in page.text.lower() and "googleapis" not in page.text
    for ref in refs:
        url = urljoin(page.url, ref)
        assert urlsplit(url).netloc == urlsplit(server.url).netloc, ref
        asset = requests.get(url, timeout=30)
        assert asset.status_code == 200, ref
        assert asset.content, ref
    init = requests.get(f"{server.url}/docs/init.js", timeout=30)
    assert "/openapi.json" in init.text and "validatorUrl" in init.text
    assert "http" not in init.text  # no outside validator, no outside anything


def test_docs_page_has_a_csp_that_lets_its_own_assets_run(server: LiveServer) -> None:
    page = requests.get(f"{server.url}/docs", timeout=30)
    csp = dict(d.strip().split(" ", 1) for d in page.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'"  # the bundle and init.js, nothing inline
    assert csp["connect-src"] == "'self'"  # /openapi.json and "try it out" calls
    assert csp["frame-ancestors"] == "'none'"
    assert page.headers["X-Frame-Options"] == "DENY"


def test_redoc_is_not_served(server: LiveServer) -> None:
    assert requests.get(f"{server.url}/redoc", timeout=30).status_code == 404
