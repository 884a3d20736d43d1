"""Optional bearer key for /v1/* (settings.api_key); off when no key is configured."""
from __future__ import annotations

import secrets

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa.api.errors import APIError

_bearer = HTTPBearer(auto_error=False, description="Required only when the server has QA_API_KEY set.")


def key_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


async def require_api_key(request: Request,
                          credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    expected = request.app.state.settings.api_key
    if not expected:
        return
    if credentials is None or not key_matches(expected, credentials.credentials):
        raise APIError(401, "unauthorized", "send the API key as 'Authorization: Bearer <key>'",
                       {"WWW-Authenticate": "Bearer"})
