"""Session fixtures for the API, schema and browser tests (a pytest plugin: `pytest_plugins = ["api_support"]`).

One real index is built from corpus/ into a temp dir with the real GazetteService, once per test
session, and shared by every module that uses these fixtures; a live uvicorn server runs it in a
thread for the tests that need real HTTP (OpenAI client, load, browser).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object


class ThreadedServer:
    """uvicorn in a daemon thread on 127.0.0.1; stopped through should_exit."""

    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False, lifespan="on",
                                                    # a browser's open event stream would hold shutdown for the
                                                    # whole join below: 2 s for requests in flight, then closed
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{port}", daemon=True)

    def __enter__(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def wait_ready(url: str, timeout_s: float = 120.0) -> None:
    """The benchmark's readiness wait, for a server in this process (no subprocess to watch)."""
    load_benchmark_module().wait_ready(url, None, timeout_s, poll_s=0.2)


@pytest.fixture(scope="session")
def gazette_settings(tmp_path_factory) -> Settings:
    # QA_TEST_INDEX_DIR reuses an index between local runs (built there if missing); CI builds a fresh one.
    reuse = os.environ.get("QA_TEST_INDEX_DIR")
    index_dir = Path(reuse) if reuse else tmp_path_factory.mktemp("gazette-index") / "index"
    # Feedback written by the tests goes to a temp data dir, never into the project's data/ or the index.
    return Settings(index_dir=index_dir, data_dir=tmp_path_factory.mktemp("gazette-data"))


@pytest.fixture(scope="session")
def gazette_service(gazette_settings):
    """The real service over a real index built from corpus/ (first use builds it: minutes on 2 cores)."""
    from qa.service import GazetteService

    return GazetteService.load(gazette_settings)


@pytest.fixture(scope="session")
def api_app(gazette_service, gazette_settings):
    from qa.api.app import create_app

    return create_app(gazette_service, gazette_settings)


@pytest.fixture(scope="session")
def api_client(api_app) -> Iterator:
    from fastapi.testclient import TestClient

    # raise_server_exceptions: an unhandled error fails the test instead of hiding behind the JSON 500.
    with TestClient(api_app, raise_server_exceptions=True) as client:
        yield client


@pytest.fixture(scope="session")
def live_server(gazette_service, gazette_settings) -> Iterator[LiveServer]:
    from qa.api.app import create_app

    app = create_app(gazette_service, gazette_settings)
    port = free_port()
    with ThreadedServer(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield LiveServer(url, gazette_settings, app)


def load_benchmark_module():
    """benchmarks/load.py as a module (benchmarks/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "load.py"
    spec = importlib.util.spec_from_file_location("gazette_load_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def stop_process(proc) -> None:
    """End a server the test started: SIGTERM, then SIGKILL when it does not exit within 30 s."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
