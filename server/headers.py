"""Security headers on every answer: the console's pages must not be framed (its review and
revoke forms would be clickjackable), load nothing from elsewhere, nor leak their URLs (which
carry visit ids and filters) to other sites.

The console loads only its own stylesheet, fonts and scripts (the dashboard's vendored ECharts
and static/charts.js) and runs no inline script, so its policy is strict. The API
docs page (server/docs.py) runs Swagger UI from this server and gets a policy of its own.
"""

from typing import Any

# default-src 'self' covers the stylesheet; forms post only here; nothing frames the console.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline styles from its script and draws icons as data: SVGs; it fetches
# /openapi.json and calls the API on the same origin only.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_PREFIX = "/docs"


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    csp = DOCS_CSP if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/") else CONSOLE_CSP
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),  # for browsers older than frame-ancestors
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
    ]


class SecurityHeaders:
    """ASGI middleware: adds the headers above unless the answer set them itself."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, with_headers)
