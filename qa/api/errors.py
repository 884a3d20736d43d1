"""Every error leaves the API as JSON {"error": ..., "detail": ...}; never a stack trace."""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("qa.api")


class APIError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def error_response(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


_PHRASES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def _loc(loc: tuple | list) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


def _validation_summary(errors: list[dict]) -> tuple[int, str, str, list[dict]]:
    """(status, error, detail, errors): malformed JSON is a 400, schema violations a 422."""
    items = []
    for e in errors:
        loc, msg, kind = e.get("loc", ()), str(e.get("msg", "")).removeprefix("Value error, "), str(e.get("type", ""))
        if kind == "json_invalid":  # FastAPI puts the byte position in loc
            msg, loc = f"{msg} at position {loc[-1]}" if len(loc) > 1 else msg, ("body",)
        items.append({"loc": _loc(loc), "msg": msg, "type": kind})
    if any(i["type"] in ("json_invalid", "json_type") for i in items):
        return 400, "invalid_json", "the request body is not valid JSON: " + "; ".join(i["msg"] for i in items), items
    if any(i["type"] in ("model_attributes_type", "dict_type") and i["loc"] == "body" for i in items):
        return 422, "invalid_request", "the request body must be a JSON object", items
    detail = "; ".join(f"{i['loc']}: {i['msg']}" for i in items)
    return 422, "invalid_request", detail, items


def _allowed_methods(request: Request) -> str:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(dict(request.scope, method="__none__"))
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, error, detail, items = _validation_summary(list(exc.errors()))
        return JSONResponse({"error": error, "detail": detail, "errors": items}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = _PHRASES.get(exc.status_code)
        if phrase is None:
            try:
                phrase = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
            except ValueError:
                phrase = "http_error"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, phrase, exc.detail, headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its trace for operators; the client sees no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "unexpected server error; it has been logged")
