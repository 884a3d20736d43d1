"""`qa serve`: the answer API and the Gradio UI in one uvicorn process."""
from __future__ import annotations

import logging
from pathlib import Path

from qa.config import Settings


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          index_dir: Path | str | None = None, log_level: str = "info") -> None:
    """Serve on host:port (defaults from settings). The index loads (or is built from the corpus) in
    the background after startup: /healthz answers at once, /readyz turns 200 when it is loaded."""
    import uvicorn

    from qa.api.app import create_app

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
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)
