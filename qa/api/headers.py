"""Standard security headers on every response (the Gradio UI included: nothing here restricts its scripts), and a
content security policy keeping the API reference pages (/docs, /redoc) to this server's own files."""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "frame-ancestors 'self'",
    "referrer-policy": "strict-origin-when-cross-origin",
}


# Swagger UI and ReDoc load only what this server serves (fastapi-offline's copies). ReDoc's bundle still puts
# an <img> from cdn.redoc.ly in its menu: with this policy the browser never requests it, so the pages neither
# wait on nor call out to the internet. Inline script/style: the pages' own bootstrap and the bundles' styles.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'self'")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, docs_paths: tuple[str, ...] = ("/docs", "/redoc")) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = SECURITY_HEADERS
        if scope["path"] in self.docs_paths:
            headers = {**SECURITY_HEADERS, "content-security-policy": DOCS_CSP}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in headers.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
