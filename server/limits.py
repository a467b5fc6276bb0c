"""Refuse oversized request bodies before they are read into memory (413, in the error shape)."""

import json
from typing import Any

from shared.messages import t

Scope = dict[str, Any]


class BodyLimit:
    """ASGI middleware: at most ``default`` bytes per body, ``photos`` under /api/v1/photos/."""

    def __init__(self, app: Any, *, default: int, photos: int) -> None:
        self.app, self.default, self.photos = app, default, photos

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_photo = scope["path"].startswith("/api/v1/photos/")
        limit = self.photos if is_photo else self.default
        code = "photo_too_large" if is_photo else "body_too_large"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, code, limit)
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
            await _refuse(send, code, limit)


class _TooLarge(Exception):
    pass


def megabytes(size: int) -> str:
    """A byte count as people read it: '8 MB', '0.2 MB'."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


async def _refuse(send: Any, code: str, limit: int) -> None:
    body = json.dumps(
        {"error": {"code": code, "message": t(code, limit=megabytes(limit))}},
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
