"""One error shape for the whole API: {"error": {"code", "message"}}, message in Chinese."""

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from server.services.errors import DomainError
from shared.messages import describe_validation_errors, t
from shared.protocol import ErrorBody

log = logging.getLogger("songjiao")

_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}
_TRANSLATED = frozenset(
    {"unauthorized", "forbidden", "not_found", "method_not_allowed", "unsupported_media_type"}
)


class ErrorResponse(BaseModel):
    """The body of every error answer (contract.md, HTTP API)."""

    error: ErrorBody


# What each documented status means on this API; the codes are those the server really sends.
_DOCUMENTED = {
    400: "api.doc.400",
    401: "api.doc.401",
    403: "api.doc.403",
    404: "api.doc.404",
    409: "api.doc.409",
    413: "api.doc.413",
    415: "api.doc.415",
    422: "api.doc.422",
    429: "api.doc.429",
    503: "api.doc.503",
}
_BEARER = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` entries for the error statuses a route really answers, each with
    the real error body, so the OpenAPI document tells clients (and schemathesis) the truth:
    ``@router.get(..., responses=errors.responses(400, 401, 404))``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": t(_DOCUMENTED[status])}
        if status == 401:  # RFC 9110: a 401 names the scheme to authenticate with
            entry["headers"] = {k: v | {"required": True} for k, v in _BEARER.items()}
        if status == 503:  # back-pressure: come back after this many seconds
            entry["headers"] = {
                "Retry-After": {
                    "description": t("api.doc.retry_after"),
                    "schema": {"type": "integer"},
                    "required": True,
                }
            }
        out[status] = entry
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: Mapping[str, Any]) -> list[str]:
    """Every method some route serves at this path. Starlette's own 405 names at most the
    methods of the first route that matched the path, though several routes may share one
    (GET and PUT of a photo). A mount (static files) matches any method and serves GET/HEAD."""
    routes = [r for r in app.routes if not isinstance(r, Mount)]
    found = [
        method
        for method in _METHODS
        if any(r.matches({**scope, "method": method})[0] == Match.FULL for r in routes)
    ]
    return found or ["GET", "HEAD"]


class ApiError(DomainError):
    """An error of the HTTP edge itself (routes, dependencies, middleware), with its status;
    answered as the contract's error body. Services raise ``DomainError`` instead."""

    def __init__(self, status: int, code: str, **values: Any) -> None:
        super().__init__(code, **values)
        self.status = status

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


# The one table from the domain's refusals (server/services/errors.py) to HTTP statuses.
STATUS: dict[str, int] = {
    "assignment_refused": 400,
    "hash_mismatch": 400,
    "invalid_request": 400,
    "invalid_term": 400,
    "invalid_user": 400,
    "review.flag_not_on_visit": 400,
    "review.flag_reason_required": 400,
    "review.invalid_decision": 400,
    "review.reason_required": 400,
    "review.reason_too_long": 400,
    "staff.bad_district": 400,
    "staff.bad_name": 400,
    "staff.bad_role": 400,
    "staff.bad_school": 400,
    "staff.bad_username": 400,
    "subsidy.reason_required": 400,
    "subsidy.reason_too_long": 400,
    "bad_credentials": 401,
    "forbidden": 403,
    "review.admin_read_only": 403,
    "subsidy.admin_read_only": 403,
    "console.no_such_user": 404,
    "not_found": 404,
    "roster.upload_gone": 404,
    "record_deleted": 409,
    "review.visit_changed": 409,
    "subsidy.already_approved": 409,
    "subsidy.already_revoked": 409,
    "subsidy.figures_changed": 409,
    "subsidy.nothing_approved": 409,
    "user_exists": 409,
    "image_too_large": 413,
    "photo_too_large": 413,
    "not_an_image": 415,
    # the desk's visit review (server/services/review.py, review_codes.py)
    "desk.reason_code_invalid": 400,
    "desk.reason_note_required": 400,
    "desk.visit_moved": 409,
    "desk.visit_reviewed_meanwhile": 409,
}


def status_of(exc: DomainError) -> int:
    """The HTTP status of ``exc``; a domain code missing from ``STATUS`` is a bug, answered
    400 (the request was refused) and logged."""
    if isinstance(exc, ApiError):
        return exc.status
    if exc.code not in STATUS:
        log.error("domain error %r has no HTTP status in server.errors.STATUS", exc.code)
    return STATUS.get(exc.code, 400)


def domain_error_response(exc: DomainError) -> JSONResponse:
    status = status_of(exc)
    if isinstance(exc, ApiError):
        headers = exc.headers
    else:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return error_response(status, exc.code, exc.message, **headers)


class TooManyAttempts(ApiError):
    """429 ``too_many_attempts``: sign-in locked for ``retry_after`` seconds (sent as the
    Retry-After header; the message says it in minutes)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "too_many_attempts", minutes=max(1, -(-retry_after // 60)))
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class LoginUnavailable(ApiError):
    """503 ``login_unavailable``: the login throttle's shared store (Redis) cannot be reached.
    Sign-in fails closed: without the counts a guesser would be unthrottled."""

    def __init__(self, retry_after: int = 30) -> None:
        super().__init__(503, "login_unavailable", seconds=retry_after)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers or None)


BUSY_RETRY_AFTER = 2


def busy_response(retry_after: int = BUSY_RETRY_AFTER) -> JSONResponse:
    """503 ``server_busy`` with ``Retry-After`` (as server.admission.send_busy)."""
    return error_response(
        503,
        "server_busy",
        t("server_busy", seconds=retry_after),
        **{"Retry-After": str(retry_after)},
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _refused(_: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", t("invalid_json"))
        return error_response(
            422, "invalid_request", t("invalid_request", detail=describe_validation_errors(errors))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = t(code) if code in _TRANSLATED else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110 15.5.6: a 405 lists the methods that would work
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(exc.status_code, code, message, **headers)

    @app.exception_handler(sa.exc.TimeoutError)
    async def _pool_exhausted(_: Request, exc: sa.exc.TimeoutError) -> JSONResponse:
        # The pools are sized so that this should not happen (server.admission); if it does,
        # the client is told to come back, never that the server failed.
        log.warning("no database connection within the pool timeout: %s", exc)
        return busy_response()

    @app.exception_handler(sa.exc.OperationalError)
    async def _database_busy(request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        if "database is locked" in str(exc.orig):  # SQLite's one writer, past its busy timeout
            log.warning("SQLite stayed locked past its busy timeout")
            return busy_response()
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", t("internal_error"))
