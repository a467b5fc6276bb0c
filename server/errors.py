"""One error shape for the whole API: {"error": {"code", "message"}}, message in Chinese."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.messages import describe_validation_errors, t

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


class ApiError(Exception):
    """Raise anywhere below a route; answered as the contract's error body."""

    def __init__(self, status: int, code: str, **values: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.values = status, code, values

    @property
    def message(self) -> str:
        return t(self.code, **self.values)

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


class TooManyAttempts(ApiError):
    """429 ``too_many_attempts``: sign-in locked for ``retry_after`` seconds (sent as the
    Retry-After header; the message says it in minutes)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "too_many_attempts", minutes=max(1, -(-retry_after // 60)))
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers or None)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, **exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", t("invalid_json"))
        return error_response(
            422, "invalid_request", t("invalid_request", detail=describe_validation_errors(errors))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = t(code) if code in ("unauthorized", "forbidden", "not_found") else str(exc.detail)
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", t("internal_error"))
