"""The loaded service of one app, and how model work leaves the event loop.

Loading (which may build the index from the corpus first) runs in a background thread so the
server answers /healthz at once and /readyz says 503 until the index is loaded. Blocking work runs in
two thread pools: "model" (search, extractive answers) and "llm" (generative answers, which wait on a
remote endpoint), so slow LLM calls never hold the threads search needs.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from qa.api.errors import APIError
from qa.models import InvalidFilter

if TYPE_CHECKING:
    from qa.answer.types import AnswerResult
    from qa.config import Settings
    from qa.conversation import Turn
    from qa.models import SearchHit

log = logging.getLogger("qa.api")
T = TypeVar("T")


class Service(Protocol):
    """What the API and the UI need from qa.service.GazetteService."""

    def search(self, query: str, top_k: int = 5, filters: dict | None = None) -> list["SearchHit"]: ...
    def ask(self, question: str, top_k: int | None = None, filters: dict | None = None,
            mode: str | None = None, history: Sequence["Turn"] = ()) -> "AnswerResult": ...
    def history(self, entries: Sequence[Mapping], question: str = "") -> list["Turn"]: ...
    def turn_of(self, result: "AnswerResult | Mapping") -> "Turn": ...
    def document(self, doc_key: str) -> dict | None: ...
    def issues(self) -> list[dict]: ...
    def collections(self) -> list[dict]: ...


class Reloadable(Protocol):
    """A service that can follow its index on disk (qa.service.GazetteService); others are never swapped."""

    def index_generation(self) -> str: ...
    def current_generation(self) -> str | None: ...
    def reloaded(self) -> "Reloadable": ...


ServiceFactory = Callable[["Settings"], Service]


class NotReady(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadState:
    """What loading is doing, for the UI's progress line."""

    phase: str  # "ready", "building" (no index on disk: built from the corpus first), "loading" or "failed"
    seconds: float  # since the server started loading
    error: str | None = None


_ABS_PATH = re.compile(r"(?:[A-Za-z]:\\|/)(?:[^/\\\s'\"]+[/\\])+([^/\\\s'\"]*)")


def without_paths(message: str) -> str:
    """/work/idx/main/faiss.index -> faiss.index: /readyz is public and must not map the server's disk."""
    return _ABS_PATH.sub(lambda m: m.group(1) or "…", message)


class ServiceHolder:
    """Holds the service once loaded; readiness and load errors for /readyz."""

    def __init__(self, settings: "Settings", factory: ServiceFactory | None = None, service: Service | None = None) -> None:
        self.settings = settings
        self._factory = factory
        self._service = service
        self._error: str | None = None
        self._started = time.monotonic()
        self._building = False
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        if service is not None:
            self._done.set()
        self._reload_lock = threading.Lock()
        self._failed_generation: str | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

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
            return f"failed to load: {without_paths(self._error)}"
        return f"loading the index ({time.monotonic() - self._started:.0f} s)"

    def load_state(self) -> LoadState:
        seconds = time.monotonic() - self._started
        if self.ready:
            return LoadState("ready", seconds)
        if self._error:
            return LoadState("failed", seconds, without_paths(self._error))
        return LoadState("building" if self._building else "loading", seconds)

    def start_loading(self) -> None:
        if self._service is not None or self._thread is not None or self._factory is None:
            return
        from qa.index.store import manifest_generation  # noqa: PLC0415 - only a loading server needs it

        # No local index yet: the factory builds one from the corpus first (minutes), which the UI says.
        self._building = self.settings.store == "local" and manifest_generation(self.settings.index_dir) is None
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

    # ---- hot swap: the index changed on disk (an add/remove here, or `qa index ...` beside the server) ----

    def reload_if_changed(self) -> bool:
        """Swap in a service on the index now on disk if it differs from the loaded one. The swap is one
        reference assignment: a request that already holds the old service finishes on it. A failed load keeps
        the old service serving (logged once per index version)."""
        service = self._service
        if service is None or not hasattr(service, "current_generation"):
            return False
        with self._reload_lock:
            service = self._service
            current = service.current_generation()
            if current is None or current == service.index_generation() or current == self._failed_generation:
                return False
            t0 = time.monotonic()
            try:
                fresh = service.reloaded()
            except Exception:  # noqa: BLE001 - keep serving the old index
                self._failed_generation = current
                log.exception("the index changed on disk but could not be loaded; still serving the previous one")
                return False
            self._service = fresh
            log.info("index reloaded in %.2f s (%s)", time.monotonic() - t0, self.settings.index_dir)
            return True

    def watch(self, interval_s: float) -> None:
        """Poll the index on disk every interval_s seconds (0: never) in a daemon thread."""
        if interval_s <= 0 or self._watcher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                if self.ready:
                    try:
                        self.reload_if_changed()
                    except Exception:  # noqa: BLE001 - a watcher that dies would silently stop hot swaps
                        log.exception("index watcher")

        self._watcher = threading.Thread(target=loop, name="qa-index-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()


def generative_offered(settings: "Settings") -> bool:
    """A client may ask mode=generative: an endpoint is configured and allow_generative_requests, or
    generative is the server's own default."""
    return settings.answer_mode == "generative" or bool(settings.llm_base_url and settings.allow_generative_requests)


def ask_pool(settings: "Settings", mode: str | None) -> str:
    """The pool an ask runs in ("llm" when it will call the LLM endpoint); a 422 for a mode the server does
    not offer (the /v1/ask schema already says so; /v1/chat/completions keeps OpenAI's open shape)."""
    if mode == "generative" and not generative_offered(settings):
        raise APIError(422, "mode_unavailable", "this server does not offer mode 'generative'; "
                       "omit mode or ask for 'extractive'")
    return "llm" if (mode or settings.answer_mode) == "generative" and settings.llm_base_url else "model"


class Worker:
    """Runs blocking work in threads: at most `limit` at once in the model pool (the machine has few cores),
    at most `llm_limit` in the LLM pool (generative answers, mostly waiting on the endpoint)."""

    def __init__(self, holder: ServiceHolder, limit: int, llm_limit: int = 4) -> None:
        self.holder = holder
        self.limit = limit
        self.llm_limit = llm_limit
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._admin: anyio.CapacityLimiter | None = None

    def service(self) -> Service:
        try:
            return self.holder.get()
        except NotReady as exc:
            raise APIError(503, "not_ready", str(exc), {"Retry-After": "5"}) from None

    def _limiter(self, pool: str) -> anyio.CapacityLimiter:
        if pool not in self._limiters:  # created lazily inside the running loop
            self._limiters[pool] = anyio.CapacityLimiter(self.llm_limit if pool == "llm" else self.limit)
        return self._limiters[pool]

    async def run(self, fn: Callable[..., T], *args: Any, pool: str = "model", **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter(pool))
        except InvalidFilter as exc:
            # The service's way of saying the input is wrong; any other error is ours (500, logged).
            raise APIError(400, "invalid_request", str(exc)) from None

    async def run_admin(self, fn: Callable[..., T], *args: Any) -> T:
        """Corpus changes (upload, delete): one at a time, in a thread of their own, so a long add never takes
        the slots questions are answered in. Exceptions pass through for the caller to map."""
        if self._admin is None:
            self._admin = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=self._admin)
