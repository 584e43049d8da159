"""Every failure of the API is JSON ``{"error": {"code": ..., "message": ...}}`` with a status
that names its kind; never a traceback, never framework prose."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("csms.api")


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine code and one line for people."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no station CP-9 is registered"])
    details: dict[str, Any] | None = Field(
        default=None, description="More about it where there is more (e.g. the command ids "
        "of a call that timed out, the fields that are invalid).")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """A failure to answer with ``status`` and the error body."""

    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def not_found(message: str) -> ApiError:
    """404: what the path names does not exist."""
    return ApiError(404, "not_found", message)


def invalid(message: str, details: dict[str, Any] | None = None) -> ApiError:
    """422: the request is well-formed HTTP but its content is wrong."""
    return ApiError(422, "invalid_request", message, details)


def conflict(message: str, code: str = "conflict") -> ApiError:
    """409: the request clashes with the current state."""
    return ApiError(409, code, message)


_DESCRIPTIONS = {
    400: "Malformed request", 401: "No API key, or an unknown or revoked one",
    403: "The key's scope does not allow this", 404: "Not found",
    406: "None of the accepted media types can be produced",
    409: "Conflicts with the current state (exists already, station offline, ...)",
    422: "Invalid request content", 502: "The station answered with a CALLERROR or dropped",
    503: "The database cannot be reached", 504: "The station did not answer in time",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries with the error body for ``statuses``."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS.get(s, "Error")}
            for s in statuses}


def error_response(status: int, code: str, message: str,
                   details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response of an error."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        headers=headers)


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
               413: "too_large", 415: "unsupported_media_type", 422: "invalid_request"}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, parts = parts[0], parts[1:]
        return f"{where} {'.'.join(parts)}".strip() if parts else where
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """Turn every exception into the JSON error body."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that cannot even be decoded: invalid content too
            return error_response(422, "invalid_request", "body: not valid JSON")
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{_field(e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                    for e in exc.errors()]
        message = "; ".join(problems[:5]) or "invalid request"
        return error_response(422, "invalid_request", message,
                              {"problems": problems} if len(problems) > 1 else None)

    @app.exception_handler(asyncpg.DataError)
    async def data_error(_request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # a value no column can hold: a NUL character in text, a time out of range, ...
        return error_response(422, "invalid_request",
                              f"a value the database cannot store: {exc}")

    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(OSError)
    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("api.database_unavailable", error=str(exc))
        return error_response(503, "database_unavailable", "the database cannot be reached")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("api.unexpected_error", path=request.url.path, error=repr(exc),
                  exc_info=exc)
        return error_response(500, "internal", "internal error (logged on the server)")
