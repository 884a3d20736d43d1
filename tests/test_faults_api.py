"""Fault suite, the server's edges: control characters, mode gating, failed-authentication throttling, security
headers, offline /docs, /readyz without paths, SIGTERM with an open Gradio heartbeat.

Fast tests use the real app before its service is loaded (validation, auth and headers never reach the
model); the SIGTERM test runs a real `qa serve` process.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api_support import free_port
from qa.api.app import create_app
from qa.api.state import ServiceHolder, without_paths
from qa.api.throttle import FailureLog
from qa.config import Settings

ROOT = Path(__file__).resolve().parent.parent
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """The real app and service class, never started: nothing loads, so requests stop at validation (or 503)."""
    from qa.service import GazetteService

    settings = Settings(index_dir=tmp_path_factory.mktemp("cold") / "index")
    return TestClient(create_app(GazetteService, settings, ui=False), raise_server_exceptions=True)


def _error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert body["error"] and body["detail"] and "Traceback" not in r.text
    return body


# ------------------------------------------------------------------------------ control characters

CONTROL = [("NUL", "共享单车\x00", "U+0000"), ("ESC", "\x1b[31m共享单车", "U+001B"), ("DEL", "a\x7fb", "U+007F"),
           ("RLO", "共享单车\u202e车单享共", "U+202E"), ("LRI", "\u2066共享单车", "U+2066"), ("C1", "共享\x85单车", "U+0085")]


@pytest.mark.parametrize("name,text,code", CONTROL, ids=[c[0] for c in CONTROL])
def test_control_characters_get_422_naming_the_character(cold, name, text, code):
    for path, body, field in [
        ("/v1/ask", {"question": text}, "question"),
        ("/v1/search", {"question": text}, "question"),
        ("/v1/feedback", {"question": "ok", "answer_id": "a1", "rating": "up", "comment": text}, "comment"),
        ("/v1/feedback", {"question": text, "answer_id": "a1", "rating": "up"}, "question"),
        ("/v1/feedback", {"question": "ok", "answer_id": text, "rating": "up"}, "answer_id"),
        ("/v1/ask", {"question": "ok", "filters": {"category": text}}, "category"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": text}]}, "message"),
    ]:
        detail = _error(cold.post(path, json=body), 422)["detail"]
        assert code in detail and "control character" in detail and field in detail, (path, detail)


def test_newlines_and_tabs_are_fine(cold):
    # past validation: the service is not loaded, so 503, not 422
    assert cold.post("/v1/ask", json={"question": "共享单车\n用户\t需要满多少岁？\r\n"}).status_code == 503
    r = cold.post("/v1/feedback", json={"question": "共享单车\n年龄", "answer_id": "a1", "rating": "up",
                                        "comment": "第一行\n第二行\t完"})
    assert r.status_code == 201 and r.json()["comment"] == "第一行\n第二行\t完"


# ------------------------------------------------------------------------------ mode gating

def test_generative_mode_only_where_the_server_offers_it(tmp_path):
    from qa.service import GazetteService

    def client(**kw) -> TestClient:
        return TestClient(create_app(GazetteService, Settings(index_dir=tmp_path / "index", **kw), ui=False))

    off = client()  # no LLM endpoint
    body = _error(off.post("/v1/ask", json={"question": "共享单车", "mode": "generative"}), 422)
    assert "does not offer mode 'generative'" in body["detail"]
    assert off.app.openapi()["components"]["schemas"]["AskRequest"]["properties"]["mode"]["anyOf"][0]["const"] == \
        "extractive"
    body = _error(off.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "共享单车"}],
                                                        "mode": "generative"}), 422)
    assert body["error"] == "mode_unavailable"
    assert off.post("/v1/ask", json={"question": "共享单车", "mode": "extractive"}).status_code == 503
    on = client(llm_base_url="http://127.0.0.1:9/v1")
    assert on.post("/v1/ask", json={"question": "共享单车", "mode": "generative"}).status_code == 503  # allowed
    locked = client(llm_base_url="http://127.0.0.1:9/v1", allow_generative_requests=False)
    assert "does not offer" in _error(locked.post("/v1/ask", json={"question": "共享单车", "mode": "generative"}),
                                      422)["detail"]


# ------------------------------------------------------------------------------ failed authentication

def test_failure_log_window():
    log = FailureLog(max_failures=3, window_s=10)
    for t in (0.0, 1.0, 2.0):
        assert log.retry_after("a", now=t) == 0
        log.fail("a", now=t)
    assert log.retry_after("a", now=2.5) == 8  # the oldest failure leaves the window at 10 s
    assert log.retry_after("b", now=2.5) == 0  # per client
    assert log.retry_after("a", now=10.5) == 0


def _asgi_client(app, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 5000)), base_url="http://test")


def test_wrong_api_keys_are_throttled_per_client(tmp_path):
    from qa.service import GazetteService

    settings = Settings(index_dir=tmp_path / "index", api_key=KEY, auth_max_failures=5, auth_window_s=60)
    app = create_app(GazetteService, settings, ui=False)

    async def run() -> None:
        async with _asgi_client(app, "10.0.0.1") as attacker, _asgi_client(app, "10.0.0.2") as other:
            for i in range(5):
                r = await attacker.post("/v1/search", json={"question": "x"}, headers={"Authorization": f"Bearer guess{i}"})
                assert r.status_code == 401
            t0 = time.perf_counter()
            for i in range(200):  # bounded: the guesser is refused without a key check
                r = await attacker.post("/v1/search", json={"question": "x"}, headers={"Authorization": f"Bearer g{i}"})
                assert r.status_code == 429
            assert time.perf_counter() - t0 < 30
            body = _error(r, 429)
            assert body["error"] == "too_many_auth_failures" and 0 < int(r.headers["retry-after"]) <= 60
            # the right key is refused too while throttled (else a guesser would learn it found the key)
            r = await attacker.post("/v1/search", json={"question": "x"}, headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 429
            # another client is not affected: its right key passes auth (503: the index is not loaded)
            r = await other.post("/v1/search", json={"question": "x"}, headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 503
            assert (await attacker.get("/healthz")).status_code == 200  # health stays outside auth

    asyncio.run(run())


@pytest.mark.slow
def test_ui_login_failures_are_throttled(tmp_path):
    from qa.service import GazetteService

    settings = Settings(index_dir=tmp_path / "index", api_key=KEY, auth_max_failures=3, auth_window_s=60)
    app = create_app(GazetteService, settings, ui=True)

    async def run() -> None:
        async with _asgi_client(app, "10.0.0.3") as c:
            for i in range(3):
                r = await c.post("/ui/login", data={"username": "staff", "password": f"wrong{i}"})
                assert r.status_code == 400, r.text[:200]
            r = await c.post("/ui/login", data={"username": "staff", "password": KEY})
            assert r.status_code == 429 and r.headers["retry-after"]
            r = await c.post("/v1/search", json={"question": "x"}, headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 429  # one failure count for UI and API
        async with _asgi_client(app, "10.0.0.4") as c:
            r = await c.post("/ui/login", data={"username": "staff", "password": KEY})
            assert r.status_code == 200 and r.json() == {"success": True}

    asyncio.run(run())


# ------------------------------------------------------------------------------ headers, /docs, /readyz

SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN",
            "referrer-policy": "strict-origin-when-cross-origin"}


def test_security_headers_and_offline_docs(cold):
    for path in ("/healthz", "/docs", "/openapi.json", "/v1/nope"):
        r = cold.get(path)
        for k, v in SECURITY.items():
            assert r.headers.get(k) == v, (path, k)
        assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    html = cold.get("/docs").text
    assert "cdn." not in html and "https://" not in html.replace("https://fastapi.tiangolo.com", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static-offline-docs/{asset}" in html
        r = cold.get(f"/static-offline-docs/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000
    assert cold.get("/redoc").status_code == 200


def test_readyz_shows_no_absolute_paths(tmp_path):
    secret = tmp_path / "srv" / "gazette" / "index"

    def failing_load(settings):
        open(secret / "faiss.index", "rb")  # the error an unreadable index gives, with its absolute path

    app = create_app(failing_load, Settings(index_dir=secret), ui=False)
    with TestClient(app) as client:
        holder: ServiceHolder = app.state.holder
        holder.wait(10)
        r = client.get("/readyz")
    assert r.status_code == 503 and "faiss.index" in r.json()["detail"]
    assert str(tmp_path) not in r.text and "/srv/" not in r.text
    assert without_paths("no index at /a/b/index (run qa index build)") == "no index at index (run qa index build)"


# ------------------------------------------------------------------------------ SIGTERM with an open heartbeat

@pytest.mark.slow
def test_sigterm_stops_the_server_with_an_open_heartbeat(tmp_path):
    """A real `qa serve`; a client holds the Gradio heartbeat stream open; SIGTERM must end it within seconds."""
    port = free_port()
    (tmp_path / "corpus").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_PORT": str(port), "QA_CORPUS_DIR": str(tmp_path / "corpus"),
           "QA_INDEX_DIR": os.environ.get("QA_TEST_INDEX_DIR") or str(tmp_path / "index")}
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "qa serve did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        with httpx.Client(timeout=httpx.Timeout(30, read=30)) as client:
            with client.stream("GET", f"{url}/ui/gradio_api/heartbeat/faultsuite01") as r:
                chunks = r.iter_raw()
                assert r.status_code == 200 and b"ALIVE" in next(chunks)
                t0 = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
                stopped_s = time.monotonic() - t0
        assert stopped_s < 6, f"stopped after {stopped_s:.1f} s (load {os.getloadavg()[0]:.1f})"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()
