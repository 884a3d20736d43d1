"""The FastAPI app: answer API, OpenAI-compatible chat, feedback, health, and the Gradio UI at /ui.

    app = create_app(GazetteService.load, settings)   # a factory: loaded at startup, /readyz 503 until then
    app = create_app(service, settings)               # an already loaded service
    uvicorn --factory qa.api.app:app_from_env         # settings from QA_* / qa.toml
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

from qa.api.auth import add_security_to_openapi
from qa.api.documents import build_documents_router
from qa.api.errors import install_error_handlers
from qa.api.feedback import FeedbackStore
from qa.api.headers import SecurityHeaders
from qa.api.limits import BodySizeLimit
from qa.api.openai_compat import build_openai_router
from qa.api.routes import build_api_router, build_health_router
from qa.api.schemas import request_models
from qa.api.state import Service, ServiceFactory, ServiceHolder, Worker, generative_offered
from qa.api.throttle import AuthThrottle, FailureLog
from qa.config import Settings

DEFAULT_MODEL_THREADS = 4  # concurrent model calls; more only queue on a 2-core machine


def _default_factory(settings: Settings) -> Service:
    from qa.service import GazetteService

    service = GazetteService.load(settings)
    service.searcher.warm_up()  # jieba and the English->Chinese tables load before /readyz, not on a first request
    return service


def _split(service: Any) -> tuple[Service | None, ServiceFactory | None]:
    """A loaded service, a factory taking Settings, or a class with .load(settings)."""
    if service is None:
        return None, _default_factory
    if isinstance(service, type):
        return None, service.load
    if hasattr(service, "ask") and hasattr(service, "search"):
        return service, None
    if callable(service):
        return None, service
    raise TypeError(f"expected a service, a factory or a class with .load(), got {type(service).__name__}")


def create_app(service: Service | ServiceFactory | type | None = None, settings: Settings | None = None, *,
               ui: bool = True, model_threads: int = DEFAULT_MODEL_THREADS, wait_for_load: bool = False) -> FastAPI:
    settings = settings or Settings()
    loaded, factory = _split(service)
    holder = ServiceHolder(settings, factory=factory, service=loaded)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder.start_loading()
        if wait_for_load:
            import anyio.to_thread

            await anyio.to_thread.run_sync(holder.wait)
        holder.watch(settings.reload_interval_s)
        try:
            yield
        finally:
            holder.stop()

    # /docs (Swagger UI) and /redoc (ReDoc, without Google Fonts) from the files fastapi-offline ships, served
    # under /static-offline-docs, not from a CDN: the servers it runs on are often offline.
    app = FastAPIOffline(
        title="gazette-qa",
        version="0.1.0",
        description="Answers from the 阳泉市人民政府公报 (Yangquan municipal gazette) with cited source paragraphs.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.worker = Worker(holder, model_threads, settings.llm_threads)
    app.state.feedback = FeedbackStore.from_settings(settings)

    install_error_handlers(app)
    # Multipart bodies carry a little more than the files themselves.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       uploads={("POST", "/v1/documents"): settings.max_upload_bytes + 64 * 1024})
    if settings.api_key:  # the last added runs first: a throttled client is refused before anything else
        app.add_middleware(AuthThrottle, failures=FailureLog(settings.auth_max_failures, settings.auth_window_s),
                           prefixes=("/v1/",), login_paths=("/ui/login", "/ui/login/") if ui else ())
    app.add_middleware(SecurityHeaders)
    app.include_router(build_health_router())
    app.include_router(build_documents_router())
    app.include_router(build_api_router(request_models(settings.max_question_chars, generative_offered(settings))))
    app.include_router(build_openai_router())

    if settings.api_key:
        add_security_to_openapi(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/" if ui else "/docs")

    if ui:
        from qa.ui.gradio_app import mount_ui

        mount_ui(app, holder, app.state.feedback, settings)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory qa.api.app:app_from_env`."""
    return create_app(settings=Settings())
