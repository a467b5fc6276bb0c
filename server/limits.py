"""Refuse what must never reach a route: oversized bodies before they are read into memory
(413), and NUL characters in the path or query (400): in the API's error shape under /api/, and
as a page in the console's look elsewhere (a coordinator whose roster file is too big sees why,
in Chinese, not a line of JSON)."""

import html
import json
from typing import Any

from shared.messages import t

Scope = dict[str, Any]


# Roster files: a district's whole roll in one file. 100,000 children with addresses and
# guardians' phones is 15-20 MB as CSV, more than any other request needs.
ROSTER_PATHS = frozenset({"/roster/preview", "/api/v1/roster/import"})


class BodyLimit:
    """ASGI middleware: at most ``default`` bytes per body, ``photos`` under /api/v1/photos/,
    ``roster`` for a roster file (``ROSTER_PATHS``)."""

    def __init__(self, app: Any, *, default: int, photos: int, roster: int) -> None:
        self.app, self.default, self.photos, self.roster = app, default, photos, roster

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").lower()
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            # PostgreSQL text cannot hold NUL; no real client sends one in a URL.
            await _refuse(send, "invalid_request", 0, status=400, page=_is_page(scope))
            return
        is_photo = scope["path"].startswith("/api/v1/photos/")
        limit = self.photos if is_photo else self.default
        if scope["path"] in ROSTER_PATHS:
            limit = self.roster
        code = "photo_too_large" if is_photo else "body_too_large"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, code, limit, page=_is_page(scope))
            return
        seen, refused = 0, False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:  # once cut off, the app's own answer is replaced by ours
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused:
            await _refuse(send, code, limit, page=_is_page(scope))


class _TooLarge(Exception):
    pass


def megabytes(size: int) -> str:
    """A byte count as people read it: '8 MB', '0.2 MB'."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def _is_page(scope: Scope) -> bool:
    """The console's pages (and forms) are everything outside the API and its documents."""
    path: str = scope["path"]
    return not (path.startswith("/api/") or path.startswith("/docs") or path == "/openapi.json")


# The console's look without its templates: this answer is given before the session middleware
# runs, so there is no signed-in page to render; the link leads back to the desk.
_PAGE = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title} · {site}</title>"
    '<link rel="stylesheet" href="/console/static/console.css"></head><body>'
    '<header class="top"><a class="brand" href="/dashboard">{brand}</a></header>'
    '<main><section class="error-page"><h1>{title}</h1><p class="flash error">{message}</p>'
    '<p><a href="/dashboard">{back}</a></p></section></main></body></html>'
)


async def _refuse(
    send: Any, code: str, limit: int, status: int = 413, *, page: bool = False
) -> None:
    message = t(code, limit=megabytes(limit), detail="NUL")
    if page:
        body = _PAGE.format(
            title=html.escape(t("console.cannot_complete")),
            site=html.escape(t("console.base.site_title")),
            brand=html.escape(t("console.base.brand")),
            message=html.escape(message),
            back=html.escape(t("console.back_to_dashboard")),
        ).encode()
        kind = b"text/html; charset=utf-8"
    else:
        error = {"error": {"code": code, "message": message}}
        body = json.dumps(error, ensure_ascii=False).encode()
        kind = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
