"""Throttling of failed authentication (a wrong API key, a failed UI login): after `max_failures` from one
client within `window_s`, that client gets 429 with Retry-After on every guarded path until the window has room.

Every request is refused while a client is throttled, the right key included: answering a right key
would tell a guesser when it has found it. Counted per client address (the server runs without proxy
headers, so it is the peer's address).
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FailureLog:
    """Failure times per client in a sliding window; at most `max_clients` tracked (oldest forgotten)."""

    def __init__(self, max_failures: int, window_s: float, max_clients: int = 10_000) -> None:
        self.max_failures, self.window_s, self.max_clients = max_failures, window_s, max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds until the client may try again; 0 when it is not throttled."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[-self.max_failures] + self.window_s - now))

    def fail(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)


class AuthThrottle:
    """ASGI middleware over the paths that check credentials; a 401 (API) or a failed login (400/401) counts."""

    def __init__(self, app: ASGIApp, failures: FailureLog, prefixes: tuple[str, ...], login_paths: tuple[str, ...]) -> None:
        self.app, self.failures, self.prefixes, self.login_paths = app, failures, prefixes, login_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        login = path in self.login_paths
        if scope["type"] != "http" or not (login or path.startswith(self.prefixes)):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.failures.retry_after(client)
        if wait:
            body = json.dumps({"error": "too_many_auth_failures",
                               "detail": f"too many failed authentication attempts from this client; retry in {wait} s"}).encode()
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                    (b"retry-after", str(wait).encode())]})
            await send({"type": "http.response.body", "body": body})
            return

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 401 or (login and status == 400):
                    self.failures.fail(client)
            await send(message)

        await self.app(scope, receive, watching_send)
