"""Optional bearer key for /v1/* (settings.api_key); off when no key is configured.

The header is read directly (not through fastapi.security) so the OpenAPI document declares a
bearer requirement only when a key is actually configured (see `add_security_to_openapi`).
"""
from __future__ import annotations

import secrets

from fastapi import FastAPI, Request

from qa.api.errors import APIError


def key_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def require_api_key(request: Request) -> None:
    expected = request.app.state.settings.api_key
    if not expected:
        return
    if not key_matches(expected, bearer_token(request)):
        raise APIError(401, "unauthorized", "send the API key as 'Authorization: Bearer <key>'",
                       {"WWW-Authenticate": "Bearer"})


def add_security_to_openapi(app: FastAPI, path_prefix: str = "/v1/") -> None:
    """Declare `Authorization: Bearer` on the /v1/ operations of the OpenAPI document."""
    base = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer", "description": "The server's QA_API_KEY."}
        for path, ops in schema.get("paths", {}).items():
            if path.startswith(path_prefix):
                for op in ops.values():
                    op["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
