"""The Gradio UI in a real browser: Debian's headless Chromium driven by selenium, against a live
uvicorn server over the real index. Saves tests/artifacts/ui.png and docs/ui.png; the 文档管理 test (its own
server on a small index of notices it makes) saves ui-admin.png beside them.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser`); selenium is never allowed to
download a driver. A CJK font (fonts-wqy-microhei or fonts-noto-cjk) makes the screenshot legible.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from documents_support import real_encoder  # noqa: F401 - the session's encoder fixture

if TYPE_CHECKING:
    from api_support import LiveServer

pytest_plugins = ["api_support"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BIKE_Q = "共享单车用户需要满多少岁？"
BIKE_DOC = "阳政办发〔2022〕34号"
NOT_FOUND_Q = "2019年省政府13710督办系统交办阳泉多少件任务？"  # eval: unanswerable (no 2019 issue)
WAIT_S = 180  # a first answer on a busy 2-core machine can be slow


@pytest.fixture(scope="module")
def browser(monkeypatch_module):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian's chromium and chromium-driver: run `make browser`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch_module.setenv("SE_AVOID_STATS", "true")
    profile = tempfile.mkdtemp(prefix="qa-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1440,1100", "--lang=zh-CN"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _wait(driver, condition, timeout=WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)


def _css(selector):
    from selenium.webdriver.common.by import By

    return lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()] or False


def _open_ui(driver, url):
    driver.get(f"{url}/ui/")
    _wait(driver, _css("#qa-question textarea"), 60)
    # Filters come from the loaded index when the page loads.
    _wait(driver, lambda d: d.execute_script(
        "return document.querySelector('#qa-status') && !document.body.innerText.includes('索引正在加载')"), 60)


def _bot_messages(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#qa-chat .bot-row .message-content")


def _ask(driver, question: str):
    from selenium.webdriver.common.by import By

    before = len(_bot_messages(driver))
    box = driver.find_element(By.CSS_SELECTOR, "#qa-question textarea")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.CSS_SELECTOR, "#qa-ask").click()
    # Wait for this question's final answer (the placeholder says 正在查找…).
    _wait(driver, lambda d: len(_bot_messages(d)) > before and "正在查找" not in _bot_messages(d)[-1].text)
    return _bot_messages(driver)[-1]


def test_ask_see_cited_answer_open_source_and_screenshot(browser, live_server):
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "阳泉市政府公报问答" in page and browser.title == "阳泉市政府公报问答"
    assert browser.find_element(By.CSS_SELECTOR, "#qa-question textarea").get_attribute("placeholder") == "请输入问题…"

    # An example question fills the box; then ask it.
    example = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == BIKE_Q)
    example.click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#qa-question textarea").get_attribute("value") == BIKE_Q, 20)
    answer = _ask(browser, BIKE_Q)
    assert "[1]" in answer.text and not answer.text.startswith("未找到")

    # [1] is a link; clicking it selects source 1 in the panel.
    ref = _wait(browser, _css("#qa-chat .bot-row a.qa-cite-ref[data-n='1']"), 30)[-1]
    assert ref.text == "[1]"
    ref.click()
    selected = _wait(browser, _css("#qa-sources #qa-src-1.qa-selected"), 30)[0]
    text_of = lambda css: selected.find_element(By.CSS_SELECTOR, css).get_attribute("textContent")  # noqa: E731
    assert text_of(".qa-title") and text_of(".qa-docno")  # document title and number
    assert "年第" in text_of(".qa-issue")  # issue, e.g. 2022年第3期
    assert BIKE_DOC in browser.find_element(By.CSS_SELECTOR, "#qa-sources").get_attribute("textContent")
    # The answering sentence is highlighted inside the cited paragraph.
    marks = selected.find_elements(By.CSS_SELECTOR, ".qa-cite mark")
    assert marks and marks[0].text.strip(), selected.get_attribute("innerHTML")[:500]

    # The source expands to its whole section, from service.document().
    cited = browser.find_element(By.XPATH, f"//div[contains(@class,'qa-src')][.//span[@class='qa-docno' and text()='{BIKE_DOC}']]")
    details = cited.find_element(By.CSS_SELECTOR, "details.qa-section")
    details.find_element(By.TAG_NAME, "summary").click()
    _wait(browser, lambda d: details.get_attribute("open") is not None, 10)
    paras = details.find_elements(By.CSS_SELECTOR, ".qa-para")
    assert len(paras) > 1 and any("qa-cited" in p.get_attribute("class") for p in paras)

    browser.execute_script("window.scrollTo(0, 0)")
    shot = ROOT / "tests" / "artifacts" / "ui.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    (ROOT / "docs").mkdir(exist_ok=True)
    shutil.copyfile(shot, ROOT / "docs" / "ui.png")


def test_follow_up_shows_the_understood_question_and_cites_its_document(browser, live_server):
    """A follow-up in the chat is answered as the standalone question shown above the answer (qa/conversation.py)."""
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    _ask(browser, BIKE_Q)
    answer = _ask(browser, "这个文件的文号是什么？")
    assert answer.text.startswith("（理解为：《阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见》的文号是什么？）")
    assert BIKE_DOC in answer.text
    # The answer's [1] still selects its source in the panel.
    _wait(browser, _css("#qa-chat .bot-row a.qa-cite-ref[data-n='1']"), 30)[-1].click()
    _wait(browser, _css("#qa-sources #qa-src-1.qa-selected"), 30)
    assert BIKE_DOC in browser.find_element(By.CSS_SELECTOR, "#qa-sources").get_attribute("textContent")

def test_not_found_state_shows_related_passages(browser, live_server):
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    answer = _ask(browser, NOT_FOUND_Q)
    assert answer.text.startswith("未找到")
    assert not answer.find_elements(By.CSS_SELECTOR, "a.qa-cite-ref")
    _wait(browser, _css("#qa-sources .qa-notfound"), 30)
    assert "相关段落" in browser.find_element(By.CSS_SELECTOR, "#qa-sources").text


def test_english_question_and_thumbs_up_with_comment(browser, live_server):
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    answer = _ask(browser, f"What is document {BIKE_DOC} about?")
    assert answer.find_elements(By.CSS_SELECTOR, "a.qa-cite-ref")
    comment = f"browser test {id(answer)}"
    browser.find_element(By.CSS_SELECTOR, "#qa-comment textarea").send_keys(comment)
    browser.find_element(By.CSS_SELECTOR, "#qa-up").click()
    _wait(browser, lambda d: "已记录反馈" in d.find_element(By.CSS_SELECTOR, "#qa-feedback-status").text, 30)
    db = Path(live_server.settings.data_dir) / "feedback.sqlite3"
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT rating, source, question FROM feedback WHERE comment = ?", (comment,)).fetchone()
    assert row == (1, "ui", f"What is document {BIKE_DOC} about?")


def test_filters_come_from_the_index_and_restrict_answers(browser, live_server):
    import httpx
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    browser.find_element(By.CSS_SELECTOR, "#qa-filters > button").click()
    _wait(browser, _css("#qa-year input"), 20)[0].click()
    _wait(browser, _css("#qa-year li[role=option]"), 20)
    # The options list renders only the rows in view, and may open scrolled: read it from top to bottom.
    read_all = """
        const ul = document.querySelector('#qa-year ul'); const seen = new Set();
        if (!ul) return [];
        for (let top = 0; top <= ul.scrollHeight; top += Math.max(ul.clientHeight / 2, 10)) {
            ul.scrollTop = top;
            ul.querySelectorAll('li[role=option]').forEach(li => seen.add(li.getAttribute('aria-label')));
        }
        ul.scrollTop = 0;
        return Array.from(seen);"""
    served = httpx.get(f"{live_server.url}/v1/issues", timeout=30).json()["issues"]
    expected = {i["issue"][:4] for i in served}  # the years the served index holds
    assert expected == {p.stem[:4] for p in (ROOT / "corpus").glob("*.txt")}
    labels = _wait(browser, lambda d: (lambda got: got if expected <= got else None)(set(d.execute_script(read_all))), 20)
    assert expected <= labels, (expected, labels)
    _wait(browser, lambda d: next((o for o in d.find_elements(By.CSS_SELECTOR, "#qa-year li[role=option]")
                                   if o.get_attribute("aria-label") == "2021"), None), 20).click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#qa-year input").get_attribute("value") == "2021", 20)

    _ask(browser, BIKE_Q)  # the answer is in 2022-03; with year 2021 only 2021 passages may come back
    _wait(browser, _css("#qa-sources .qa-src"), 30)
    issues = [e.get_attribute("textContent") for e in browser.find_elements(By.CSS_SELECTOR, "#qa-sources .qa-issue")]
    assert issues and all(t.startswith("2021年") for t in issues), issues


# ---- 文档管理: upload a file in the admin tab, then ask about it in 问答 (own server on a small index) ----

@pytest.fixture(scope="module")
def upload_server(tmp_path_factory, real_encoder) -> Iterator[LiveServer]:
    from api_support import LiveServer, ThreadedServer, free_port, wait_ready
    from documents_support import build_small_index, small_service

    from qa.api.app import create_app

    settings = build_small_index(tmp_path_factory.mktemp("ui-upload"), real_encoder, reload_interval_s=0)
    app = create_app(small_service(settings, real_encoder), settings)
    port = free_port()
    with ThreadedServer(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield LiveServer(url, settings, app)


def _tab(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    tab = _wait(driver, lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "button[role=tab]")
                                        if b.text.strip() == label and b.is_displayed()), False), 30)
    tab.click()
    _wait(driver, lambda d: tab.get_attribute("aria-selected") == "true", 20)


def test_upload_in_the_admin_tab_then_ask_about_it(browser, upload_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    from documents_support import COLLECTION, HALL_FACT, HALL_LINES, HALL_Q, HALL_TITLE, write_docx

    docx = write_docx(tmp_path / "周末办理.docx", HALL_TITLE, HALL_LINES)
    _open_ui(browser, upload_server.url)
    _tab(browser, "文档管理")
    table = _wait(browser, _css("#qa-admin-table"), 30)[0]
    _wait(browser, lambda d: "燃气安全管理.md" in table.text, 30)  # the files the index holds
    assert "周末办理.docx" not in table.text

    file_input = browser.find_element(By.CSS_SELECTOR, "#qa-admin-files input[type=file]")
    file_input.send_keys(str(docx))
    _wait(browser, _css("#qa-admin-files td.filename[aria-label='周末办理.docx']"), 60)  # uploaded to the server
    box = _wait(browser, _css("#qa-admin-collection textarea, #qa-admin-collection input"), 20)[0]
    box.send_keys(COLLECTION)
    browser.find_element(By.CSS_SELECTOR, "#qa-admin-upload").click()
    status = lambda d: d.find_element(By.CSS_SELECTOR, "#qa-admin-status").text  # noqa: E731
    _wait(browser, lambda d: "已添加" in status(d) or "未添加" in status(d) or "出错" in status(d))
    assert "已添加 1 个文件" in status(browser) and f"{COLLECTION}/周末办理.docx" in status(browser), status(browser)
    _wait(browser, lambda d: "周末办理.docx" in d.find_element(By.CSS_SELECTOR, "#qa-admin-table").text, 30)
    assert (Path(upload_server.settings.corpus_dir) / COLLECTION / "周末办理.docx").read_bytes() == docx.read_bytes()
    shot = ROOT / "tests" / "artifacts" / "ui-admin.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    (ROOT / "docs").mkdir(exist_ok=True)
    shutil.copyfile(shot, ROOT / "docs" / "ui-admin.png")

    _tab(browser, "问答")
    answer = _ask(browser, HALL_Q)
    assert HALL_FACT in answer.text and "[1]" in answer.text, answer.text
    _wait(browser, _css("#qa-sources .qa-src"), 30)
    sources = browser.find_element(By.CSS_SELECTOR, "#qa-sources").get_attribute("textContent")
    assert "周末办理.docx" in sources and HALL_TITLE in sources, sources[:500]
