"""/docs (Swagger UI) and /redoc (ReDoc) in a real browser with no internet: Debian's headless Chromium resolves
no host but 127.0.0.1, a live uvicorn server serves the real app, and both pages must render the API's operations
while every request the browser makes goes to that server.

The app's service never loads (its factory fails): the reference pages need only the OpenAPI document.
Needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser`).
"""
from __future__ import annotations

import json

import pytest

from api_support import ThreadedServer, free_port
from browser_support import headless_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]



def _no_index(settings):
    raise RuntimeError("no index: this server only shows its API reference")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from qa.api.app import create_app
    from qa.config import Settings

    app = create_app(_no_index, Settings(index_dir=tmp_path_factory.mktemp("docs") / "index"), ui=False)
    port = free_port()
    with ThreadedServer(app, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def offline_browser():
    # No name resolves except the server's address: a CDN or font request fails as it would offline.
    with headless_chromium("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--window-size=1280,1000",
                           logging_prefs={"performance": "ALL"}) as driver:
        yield driver


def _requests(driver) -> tuple[list[str], set[str]]:
    """(URLs the page asked for, URLs the browser blocked before sending them, e.g. by the page's content
    security policy) since the last call, from Chrome's performance log."""
    urls, ids, blocked = [], {}, set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
            ids[params["requestId"]] = params["request"]["url"]
        elif message.get("method") == "Network.loadingFailed" and params.get("blockedReason"):
            blocked.add(ids.get(params["requestId"], ""))
    return urls, blocked


def _wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)


@pytest.mark.parametrize("page,rendered", [
    # Swagger UI: one block per operation, e.g. POST /v1/ask.
    ("/docs", "return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.textContent)"),
    # ReDoc: the operations in its side menu and the paths in its content.
    ("/redoc", "return [...document.querySelectorAll('[data-section-id] .http-verb + *, "
               "[data-section-id] div[class*=\"ServerRelativeURL\"]'), "
               "...document.querySelectorAll('li[data-item-id] label')].map(e => e.textContent)"),
])
def test_reference_page_renders_the_api_with_no_internet(offline_browser, server, page, rendered):
    _requests(offline_browser)  # drop earlier pages' entries
    offline_browser.get(f"{server}{page}")
    texts = _wait(offline_browser, lambda d: (t := d.execute_script(rendered)) and len(t) >= 5 and t)
    body = offline_browser.find_element("tag name", "body").text
    assert "gazette-qa" in body and ("/v1/ask" in body or any("/v1/ask" in t for t in texts)), body[:500]
    urls, blocked = _requests(offline_browser)
    assert any(u.endswith("/openapi.json") for u in urls), urls
    # Network requests only: Chromium's own chrome:// pages (its new-tab page at start) are in the log too.
    outside = [u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(server)]
    # ReDoc's menu holds an <img> from cdn.redoc.ly: the page's policy stops it in the browser (never sent).
    assert not [u for u in outside if u not in blocked], (outside, blocked)
