"""Twilio's error body `{code, message, more_info, status}` for every failure the API reports."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

# Twilio's codes where they exist; 53xxx for roomreel's validation errors (docs/api.md).
from pipeline.error_codes import INTERNAL_ERROR, INVALID_PARAMETER, METHOD_NOT_ALLOWED, NOT_FOUND


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def invalid(field: str, reason: str, code: int = INVALID_PARAMETER) -> ApiError:
    return ApiError(400, code, f"{field} {reason}" if field else reason)


def not_found(what: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The requested resource {what} was not found")


def body(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def respond(status: int, code: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body(status, code, message), status_code=status, headers=headers)


async def api_error_handler(request: Request, exc: ApiError) -> JSONResponse:
    # A challenge makes a browser hold a page's fetch for its own login prompt; the dashboard
    # (which says so) shows its sign-in form instead.
    challenge = exc.status == 401 and request.headers.get("x-roomreel-client") != "dashboard"
    headers = {"WWW-Authenticate": 'Basic realm="roomreel"'} if challenge else {}
    return respond(exc.status, exc.code, exc.message, {**exc.headers, **headers})


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return respond(404, NOT_FOUND, f"The requested resource {request.url.path} was not found")
    if exc.status_code == 405:
        return respond(405, METHOD_NOT_ALLOWED, f"Method {request.method} not allowed on {request.url.path}")
    return respond(exc.status_code, exc.status_code * 10, str(exc.detail))


async def validation_error_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": [], "msg": "invalid request"}
    field = ".".join(str(p) for p in first.get("loc", []) if p not in ("body", "query", "path"))
    return respond(400, INVALID_PARAMETER, f"{field} {first.get('msg', 'is invalid')}".strip())


async def unexpected_error_handler(_: Request, exc: Exception) -> JSONResponse:
    # Never a traceback to the client; the log has it.
    import logging

    logging.getLogger("roomreel.api").exception("unexpected error", exc_info=exc)
    return respond(500, INTERNAL_ERROR, "Internal server error")
