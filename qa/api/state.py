"""The loaded service of one app, and how model work leaves the event loop.

Loading (which may build the index from the corpus first) runs in a background thread so the
server answers /healthz at once and /readyz says 503 until the index is loaded.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from qa.api.errors import APIError

if TYPE_CHECKING:
    from qa.answer.types import AnswerResult
    from qa.config import Settings
    from qa.models import SearchHit

log = logging.getLogger("qa.api")
T = TypeVar("T")


class Service(Protocol):
    """What the API and the UI need from qa.service.GazetteService."""

    def search(self, query: str, top_k: int = 5, filters: dict | None = None) -> list["SearchHit"]: ...
    def ask(self, question: str, top_k: int | None = None, filters: dict | None = None,
            mode: str | None = None) -> "AnswerResult": ...
    def document(self, doc_key: str) -> dict | None: ...
    def issues(self) -> list[dict]: ...
    def collections(self) -> list[dict]: ...


ServiceFactory = Callable[["Settings"], Service]


class NotReady(RuntimeError):
    pass


class ServiceHolder:
    """Holds the service once loaded; readiness and load errors for /readyz."""

    def __init__(self, settings: "Settings", factory: ServiceFactory | None = None, service: Service | None = None) -> None:
        self.settings = settings
        self._factory = factory
        self._service = service
        self._error: str | None = None
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        if service is not None:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._service is not None

    @property
    def error(self) -> str | None:
        return self._error

    def status(self) -> str:
        if self.ready:
            return "ready"
        if self._error:
            return f"failed to load: {self._error}"
        return f"loading the index ({time.monotonic() - self._started:.0f} s)"

    def start_loading(self) -> None:
        if self._service is not None or self._thread is not None or self._factory is None:
            return
        # A daemon thread: a shutdown during a long index build must not hang on it.
        self._thread = threading.Thread(target=self._load, name="qa-service-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        t0 = time.monotonic()
        try:
            assert self._factory is not None
            self._service = self._factory(self.settings)
            log.info("service ready in %.1f s (index %s)", time.monotonic() - t0, self.settings.index_dir)
        except Exception as exc:  # noqa: BLE001 - reported on /readyz and in the log
            self._error = f"{type(exc).__name__}: {exc}"
            log.exception("loading the service failed")
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._done.wait(timeout)
        return self.ready

    def get(self) -> Service:
        if self._service is None:
            raise NotReady(self.status())
        return self._service


class Worker:
    """Runs blocking model work in threads, at most `limit` at once (the machine has few cores)."""

    def __init__(self, holder: ServiceHolder, limit: int) -> None:
        self.holder = holder
        self.limit = limit
        self._limiter: anyio.CapacityLimiter | None = None

    def service(self) -> Service:
        try:
            return self.holder.get()
        except NotReady as exc:
            raise APIError(503, "not_ready", str(exc), {"Retry-After": "5"}) from None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._limiter is None:  # created lazily inside the running loop
            self._limiter = anyio.CapacityLimiter(self.limit)
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)
        except ValueError as exc:
            # The service's way of saying the input is wrong (e.g. an unknown filter key).
            raise APIError(400, "invalid_request", str(exc)) from None
