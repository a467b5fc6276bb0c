"""CSRF tokens for the console's forms (synchroniser token kept in the signed session cookie).

Every form carries the session's token in the hidden field ``csrf_token``; a POST without the
same token answers 403 ``csrf_failed`` before anything else is read or changed. The token is
replaced at login, so one picked up before signing in is worthless afterwards.
"""

import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from server.errors import ApiError

FIELD = "csrf_token"
_KEY = "csrf"


def token(request: Request) -> str:
    """The session's token, made on first use."""
    current = request.session.get(_KEY)
    if not isinstance(current, str) or not current:
        current = secrets.token_urlsafe(32)
        request.session[_KEY] = current
    return current


def rotate(request: Request) -> str:
    request.session[_KEY] = secrets.token_urlsafe(32)
    return request.session[_KEY]


async def checked_form(request: Request) -> FormData:
    """The posted form, once its token matches the session's; 403 ``csrf_failed`` otherwise.

    A NUL anywhere in the form (a name, a value, a file name) is 400 ``invalid_request``, the
    answer server/limits.py gives a NUL in a URL: PostgreSQL text cannot hold one, so it must
    be refused before any field reaches a query.
    """
    form = await request.form()
    if any(_has_nul(key) or _has_nul(value) for key, value in form.multi_items()):
        raise ApiError(400, "invalid_request", detail="NUL")
    sent = form.get(FIELD)
    expected = request.session.get(_KEY)
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not expected
        or not secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise ApiError(403, "csrf_failed")
    return form


def _has_nul(value: str | UploadFile) -> bool:
    text = value if isinstance(value, str) else (value.filename or "")
    return "\x00" in text


CsrfForm = Annotated[FormData, Depends(checked_form)]
