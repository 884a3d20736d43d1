"""`qa serve`: the answer API and the Gradio UI in one uvicorn process."""
from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from qa.config import Settings
from qa.logs import configure_logging, configured, default_level


class PortUnavailable(Exception):
    """host:port cannot be listened on (in use by another process, or not allowed); the message says how to
    choose another port."""


def check_port(host: str, port: int) -> None:
    """Bind host:port once, as uvicorn will (SO_REUSEADDR), before anything is loaded: a busy port is one
    clear line, not uvicorn's error after the start-up work."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            why = "is in use (another qa serve?)" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            raise PortUnavailable(f"port {port} on {host} {why}; choose another with --port 8155, "
                                  f"QA_PORT=8155 or `make run PORT=8155`") from exc


class StoppingServer(uvicorn.Server):
    """uvicorn.Server that calls `on_shutdown` as soon as shutdown begins (before it waits for connections)."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_shutdown = on_shutdown

    async def shutdown(self, sockets=None) -> None:
        self.on_shutdown()
        await super().shutdown(sockets)


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          index_dir: Path | str | None = None, log_level: str | None = None) -> None:
    """Serve on host:port (defaults from settings). The index loads (or is built from the corpus) in
    the background after startup: /healthz answers at once, /readyz turns 200 when it is loaded."""
    from qa.api.app import create_app
    from qa.ui.gradio_app import stop_ui_streams

    settings = settings or Settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": Path(index_dir)})
    host = host or settings.host
    port = port or settings.port
    if log_level is not None or not configured():
        configure_logging(log_level or default_level("serve"))
    # The level the command line set up, for uvicorn's own loggers too.
    log_level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    check_port(host, port)
    app = create_app(settings=settings)
    logging.getLogger("qa.api").info("gazette-qa on http://%s:%d  (UI /ui, API docs /docs, index %s)",
                                     host, port, settings.index_dir)
    # On SIGTERM the UI's endless streams (a browser's Gradio heartbeat) are told to end first; anything still
    # open after settings.shutdown_timeout_s is cancelled, so the process always exits.
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                            timeout_graceful_shutdown=settings.shutdown_timeout_s)
    StoppingServer(config, on_shutdown=lambda: stop_ui_streams(app)).run()
