"""`qa serve`: the answer API and the Gradio UI in one uvicorn process."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import uvicorn

from qa.config import Settings


class StoppingServer(uvicorn.Server):
    """uvicorn.Server that calls `on_shutdown` as soon as shutdown begins (before it waits for connections)."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_shutdown = on_shutdown

    async def shutdown(self, sockets=None) -> None:
        self.on_shutdown()
        await super().shutdown(sockets)


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          index_dir: Path | str | None = None, log_level: str = "info") -> None:
    """Serve on host:port (defaults from settings). The index loads (or is built from the corpus) in
    the background after startup: /healthz answers at once, /readyz turns 200 when it is loaded."""
    from qa.api.app import create_app
    from qa.ui.gradio_app import stop_ui_streams

    settings = settings or Settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": Path(index_dir)})
    host = host or settings.host
    port = port or settings.port
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings=settings)
    logging.getLogger("qa.api").info("gazette-qa on http://%s:%d  (UI /ui, API docs /docs, index %s)",
                                     host, port, settings.index_dir)
    # On SIGTERM the UI's endless streams (a browser's Gradio heartbeat) are told to end first; anything still
    # open after settings.shutdown_timeout_s is cancelled, so the process always exits.
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                            timeout_graceful_shutdown=settings.shutdown_timeout_s)
    StoppingServer(config, on_shutdown=lambda: stop_ui_streams(app)).run()
