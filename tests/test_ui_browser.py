"""The Gradio UI in a real browser: Debian's headless Chromium driven by selenium, against a live
uvicorn server over the real index. Screenshots go to tests/artifacts/ (ignored by git): ui.png (a roster
answer with its section opened: the README's picture, copied to docs/ by `make screenshot`), ui-loading.png,
ui-feedback.png, and ui-admin.png from the 文档管理 test (its own server on a small index of notices it makes).
The tests never write into docs/: `make test` leaves the work tree clean.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser`); selenium is never allowed to
download a driver. fonts-wqy-microhei makes the screenshots legible; fonts-noto-color-emoji draws 👍/👎.
Every wait is explicit and generous (a loaded 2-core machine in CI): no fixed sleeps.
"""
from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from documents_support import real_encoder  # noqa: F401 - the session's encoder fixture
from browser_support import headless_chromium

if TYPE_CHECKING:
    from api_support import LiveServer

pytest_plugins = ["api_support"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BIKE_Q = "共享单车用户需要满多少岁？"
BIKE_DOC = "阳政办发〔2022〕34号"
NOT_FOUND_Q = "2019年省政府13710督办系统交办阳泉多少件任务？"  # eval: unanswerable (no 2019 issue)
ROSTER_Q = "阳泉市草地贪夜蛾防控领导小组的组长和副组长分别是谁？"  # eval a047: a roster that lost its line breaks
WAIT_S = 180  # a first answer on a busy 2-core machine can be slow
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def browser():
    with headless_chromium("--window-size=1440,1100", "--lang=zh-CN") as driver:
        yield driver


def _wait(driver, condition, timeout=WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)


def _css(selector):
    from selenium.webdriver.common.by import By

    return lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()] or False


def _open_ui(driver, url):
    driver.get(f"{url}/ui/")
    _wait(driver, _css("#qa-question textarea"), 60)
    # Filters come from the loaded index when the page loads; the status line shows only while it loads.
    _wait(driver, lambda d: d.execute_script(
        "return !!document.querySelector('#qa-status') && !document.querySelector('#qa-status .qa-loading')"), 60)


def _screenshot(driver, name: str, element=None) -> Path:
    """A screenshot in tests/artifacts/ (git-ignored), never in docs/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    if element is None:
        driver.execute_script("window.scrollTo(0, 0)")
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    else:
        assert element.screenshot(str(shot)) and shot.stat().st_size > 500
    return shot


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

    _screenshot(browser, "ui-answer.png")


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


# ---- issue 16 points 5-7: rosters, the opened section, 👍/👎, Chinese text, the refusal example, loading ----

_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# The page's own words, not content: answers, sources, example questions, the files table and the header (which
# says English questions work) may hold English. A string is flagged when it has no Chinese at all (Drop File
# Here, Use via API, a Copy tooltip); the formats named in a Chinese sentence (PDF、Word .docx) are fine.
_UI_WORDS_JS = """
    const content = '#qa-chat .message-content, #qa-sources, #qa-examples, #qa-admin-table, .qa-header, style, script';
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const n = walker.currentNode, p = n.parentElement, t = n.nodeValue.trim();
        if (!t || p.closest(content)) continue;
        const r = p.getBoundingClientRect(), cs = getComputedStyle(p);
        if (r.width > 1 && r.height > 1 && cs.visibility !== 'hidden' && cs.display !== 'none') out.push(t);
    }
    document.querySelectorAll('[title], [placeholder]').forEach(e => {
        if (e.closest(content)) return;
        for (const a of ['title', 'placeholder']) { const v = e.getAttribute(a); if (v) out.push(v); }
    });
    return out;"""


def _english_ui_words(driver) -> list[str]:
    return [t for t in driver.execute_script(_UI_WORDS_JS) if _LATIN_WORD.search(t) and not _CJK.search(t)]


def _assert_chinese(driver) -> None:
    from selenium.common.exceptions import TimeoutException

    try:  # the page script translates Gradio's own words as they render
        _wait(driver, lambda d: _english_ui_words(d) == [], 30)
    except TimeoutException:
        pass
    words = _english_ui_words(driver)
    assert not words, words


def _lines(element) -> list[str]:
    return [ln.strip() for ln in element.get_attribute("innerText").split("\n") if ln.strip()]


def _rect(driver, element) -> dict:
    return driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                 " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right};", element)


def _covers(driver, element) -> bool:
    """The element is what the browser shows at its own centre (nothing painted over it)."""
    return driver.execute_script(
        "const e = arguments[0], r = e.getBoundingClientRect();"
        " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return !!hit && (hit === e || e.contains(hit));", element)


# Draws the button's 👍 with its own font on a canvas: a colour emoji font paints coloured pixels, a missing
# glyph (the empty box) only the fill colour.
_EMOJI_COLOUR_JS = """
    const el = arguments[0], glyph = arguments[1];
    const c = document.createElement('canvas'); c.width = 80; c.height = 80;
    const g = c.getContext('2d');
    g.font = '48px ' + getComputedStyle(el).fontFamily; g.textBaseline = 'top'; g.fillStyle = '#000';
    g.fillText(glyph, 8, 8);
    const d = g.getImageData(0, 0, 80, 80).data; let coloured = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 120 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
    }
    return coloured;"""


def test_roster_lines_section_scrolls_in_panel_and_readme_screenshot(browser, live_server):
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    example = _wait(browser, lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "#qa-examples button")
                                             if b.text.strip() == ROSTER_Q), False), 30)
    example.click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#qa-question textarea").get_attribute("value") == ROSTER_Q, 20)
    answer = _ask(browser, ROSTER_Q)
    # 6: one roster row per line in the chat answer (not 组 长：雷健坤 市长[1] 副组长：… on one line).
    lines = [re.sub(r"\[\d+\]", "", ln) for ln in _lines(answer)]
    assert "组 长：雷健坤 市长" in lines and "副组长：李文兵 市政府副市长" in lines, lines

    # ... and one person per line, with the post, in the cited passage of the sources panel.
    card = _wait(browser, _css("#qa-sources #qa-src-1"), 60)[0]
    cite = _lines(card.find_element(By.CSS_SELECTOR, ".qa-cite"))
    for row in ("组 长：雷健坤 市长", "副组长：李文兵 市政府副市长", "成 员：梁爱卿 市政府副秘书长", "刘 鹏 市委宣传部副部长",
                "安海润 市农业农村局局长", "任仔苏 市农业农村局二级调研员"):
        assert row in cite, (row, cite)

    # 5: the opened section scrolls inside the sources panel, never under the comment box and 👍/👎.
    details = card.find_element(By.CSS_SELECTOR, "details.qa-section")
    details.find_element(By.TAG_NAME, "summary").click()
    _wait(browser, lambda d: details.get_attribute("open") is not None, 20)
    body = details.find_element(By.CSS_SELECTOR, ".qa-section-body")
    _wait(browser, lambda d: len(body.find_elements(By.CSS_SELECTOR, ".qa-para")) > 1, 20)
    assert browser.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight", body)  # it scrolls
    panel = browser.find_element(By.CSS_SELECTOR, "#qa-sources")
    comment = browser.find_element(By.CSS_SELECTOR, "#qa-comment textarea")
    up, down = (browser.find_element(By.CSS_SELECTOR, sel) for sel in ("#qa-up", "#qa-down"))
    scroller = panel.find_element(By.CSS_SELECTOR, ".qa-sources")
    for where in ("top", "bottom"):  # the panel scrolled to its end, and the section inside it too
        if where == "bottom":
            browser.execute_script("arguments[0].scrollTop = arguments[0].scrollHeight;"
                                   " arguments[1].scrollTop = arguments[1].scrollHeight;", scroller, body)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", comment)
        # The panel's scroll box (which clips the opened section) ends above the comment box ...
        for element in (scroller, panel):
            assert _rect(browser, element)["bottom"] <= _rect(browser, comment)["top"] + 1, where
        # ... and nothing of the section is painted over the comment box and the buttons.
        for element in (comment, up, down):
            assert _covers(browser, element), (where, element.get_attribute("id") or "comment")
    # The picture: the roster's rows above, the opened section below them, inside the panel.
    browser.execute_script("arguments[1].scrollTop = 0; const s = arguments[0];"
                           " s.scrollTop += arguments[2].getBoundingClientRect().top - s.getBoundingClientRect().top"
                           " - s.clientHeight * 0.55;", scroller, body, details)
    _screenshot(browser, "ui.png")  # `make screenshot` copies it to docs/ui.png for the README


def test_thumbs_are_icons_and_the_page_speaks_chinese(browser, live_server):
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    # 7: 👍/👎 draw as colour icons with the fonts `make browser` installs (an empty box today).
    for sel, glyph, word in (("#qa-up", "👍", "有帮助"), ("#qa-down", "👎", "没帮助")):
        button = browser.find_element(By.CSS_SELECTOR, sel)
        assert button.text.strip() == f"{glyph} {word}"
        assert browser.execute_script(_EMOJI_COLOUR_JS, button, glyph) > 50, f"{glyph} draws no colour glyph"
    _screenshot(browser, "ui-feedback.png", browser.find_element(By.CSS_SELECTOR, "#qa-up").find_element(By.XPATH, "../.."))

    # Chinese everywhere, in a browser left at its default (English) language: the page's own words, tooltips
    # and placeholders in both tabs. (The chat's hidden messages and Gradio's screen-reader labels aside.)
    _assert_chinese(browser)
    _tab(browser, "文档管理")
    _wait(browser, _css("#qa-admin-table"), 30)
    _assert_chinese(browser)
    _tab(browser, "问答")

    # The toast for an empty question says 提示, not Warning, from the moment it is drawn. Gradio 6 titles a
    # toast by its level and ignores the title given; the page's script renames it. A watcher registered
    # after the page's own records every toast title as the page leaves it at each change: a rename left to
    # the next frame shows "Warning" here (CI caught that race once, reading the toast before the frame).
    browser.execute_script(
        "window.__qaToastTitles = [];"
        "new MutationObserver(() => document.querySelectorAll('.toast-title').forEach("
        "  (e) => window.__qaToastTitles.push(e.innerText))).observe(document.body,"
        "  {childList: true, subtree: true, characterData: true});")
    box = browser.find_element(By.CSS_SELECTOR, "#qa-question textarea")
    box.clear()
    browser.find_element(By.CSS_SELECTOR, "#qa-ask").click()
    toasts = "return Array.from(document.querySelectorAll('.toast-body')).map(e => e.innerText)"
    toast = _wait(browser, lambda d: next((t for t in d.execute_script(toasts) if "请输入问题" in t), False), 60)
    assert "提示" in toast and "Warning" not in toast, toast
    titles = browser.execute_script("return window.__qaToastTitles")
    assert titles and not any("Warning" in t for t in titles), titles


def test_refusal_example_says_so_and_refuses(browser, live_server):
    from selenium.webdriver.common.by import By

    _open_ui(browser, live_server.url)
    labelled = _wait(browser, lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#qa-examples button")
                                         if "没有答案" in b.text], 30)
    assert len(labelled) == 1, [b.text for b in labelled]
    labelled[0].click()
    question = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#qa-question textarea").get_attribute("value"), 20)
    assert question and "没有答案" not in question  # the label is the button's, the question is asked as it is
    answer = _ask(browser, question)
    assert answer.text.startswith("未找到"), answer.text


@pytest.fixture()
def loading_server(gazette_service, gazette_settings) -> Iterator[tuple[LiveServer, threading.Event]]:
    """A server whose index is still loading until the test lets it finish: its factory hands over the real
    loaded service only when `release` is set (loading itself takes seconds to minutes; this holds it)."""
    from api_support import LiveServer, ThreadedServer, free_port

    from qa.api.app import create_app

    release = threading.Event()

    def factory(_settings):
        if not release.wait(WAIT_S * 2):
            raise TimeoutError("the test never released loading")
        return gazette_service

    app = create_app(factory, gazette_settings)
    port = free_port()
    try:
        with ThreadedServer(app, port):
            yield LiveServer(f"http://127.0.0.1:{port}", gazette_settings, app), release
    finally:
        release.set()


def test_loading_shows_progress_then_the_page_updates_itself(browser, loading_server):
    from selenium.webdriver.common.by import By

    server, release = loading_server
    browser.get(f"{server.url}/ui/")
    # Read from the live page each time: the timer re-renders the status line every second.
    loading = lambda d: d.execute_script(  # noqa: E731
        "const e = document.querySelector('#qa-status .qa-loading');"
        " return e ? {text: e.innerText, bar: !!e.querySelector('[role=progressbar]')} : null;")
    status = _wait(browser, loading, 60)
    assert status["bar"]  # a progress indicator
    assert "正在载入索引和模型" in status["text"] and "自动更新" in status["text"], status["text"]

    def seconds(d) -> int:
        found = re.search(r"已用 (\d+) 秒", (loading(d) or {}).get("text", ""))
        return int(found.group(1)) if found else -1

    first = _wait(browser, lambda d: seconds(d) + 1, 60) - 1  # (+1: a count of 0 s is a value, -1 none yet)
    _wait(browser, lambda d: seconds(d) > first, 60)  # it is live, not a static notice
    _screenshot(browser, "ui-loading.png")

    browser.execute_script("window.__qaNoReload = true")
    release.set()
    _wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#qa-status .qa-loading"), WAIT_S)
    assert browser.execute_script("return window.__qaNoReload === true")  # updated in place, not reloaded
    # The filters came from the index once it loaded.
    browser.find_element(By.CSS_SELECTOR, "#qa-filters > button").click()
    _wait(browser, _css("#qa-year input"), 30)[0].click()
    options = _wait(browser, _css("#qa-year li[role=option]"), 30)
    assert any(re.fullmatch(r"20\d\d", o.get_attribute("aria-label") or "") for o in options)
    answer = _ask(browser, BIKE_Q)
    assert "[1]" in answer.text and not answer.text.startswith("未找到"), answer.text
    # ... and so did the 文档管理 tab's list of the files in the index.
    _tab(browser, "文档管理")
    _wait(browser, lambda d: "2022-03.txt" in d.find_element(By.CSS_SELECTOR, "#qa-admin-table").text, 30)


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
    _screenshot(browser, "ui-admin.png")

    _tab(browser, "问答")
    answer = _ask(browser, HALL_Q)
    assert HALL_FACT in answer.text and "[1]" in answer.text, answer.text
    _wait(browser, _css("#qa-sources .qa-src"), 30)
    sources = browser.find_element(By.CSS_SELECTOR, "#qa-sources").get_attribute("textContent")
    assert "周末办理.docx" in sources and HALL_TITLE in sources, sources[:500]
