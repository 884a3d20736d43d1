"""The HTTP API: answers, search, documents, feedback, OpenAI-compatible chat, validation, readiness, auth, load.

Fast tests use the real app before its service is loaded (validation never reaches the model) and
the pure helpers. `slow` tests run against the real GazetteService over a real index built from
corpus/ once per session (tests/api_support.py).
"""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.feedback import FeedbackStore, parse_rating
from qa.api.routes import normalize_doc_key
from qa.api.streaming import pieces
from qa.config import Settings
from qa.ui.render import answer_message, highlight, issue_label, sources_html

pytest_plugins = ["api_support"]

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
BIKE_Q = "共享单车用户需要满多少岁？"
AGE_Q = "共享单车用户的年龄有什么要求？"  # answered by 阳政办发〔2022〕34号, "年满 16 周岁" (a long sentence: streams in pieces)
BIKE_DOC = "阳政办发〔2022〕34号"
NOT_FOUND_Q = "2019年省政府13710督办系统交办阳泉多少件任务？"  # eval: unanswerable (no 2019 issue)


def assert_clean_error(r: httpx.Response, status: int | tuple[int, ...]) -> dict:
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) >= {"error", "detail"} and body["error"], body
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body


def sse_events(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
        events.append((event, "\n".join(data)))
    return events


# ---------------------------------------------------------------- fast: helpers

def test_pieces_rejoin_exactly_and_never_split_markers():
    text = "互联网租赁自行车用户须年满 16 周岁，并实名注册和使用[1]。另见第二条规定的内容和要求说明[12] end."
    parts = list(pieces(text, size=5))
    assert "".join(parts) == text
    assert "[1]" in parts and "[12]" in parts
    assert all(len(p) <= 5 or p.startswith("[") for p in parts)


def test_normalize_doc_key_accepts_url_friendly_forms():
    assert normalize_doc_key("2022-03#05") == "2022-03#05"
    assert normalize_doc_key("2022-03-05") == "2022-03#05"
    assert normalize_doc_key("2022-03#5") == "2022-03#05"
    assert normalize_doc_key("nonsense") == "nonsense"


def test_highlight_marks_sentence_across_pdf_line_breaks_and_escapes():
    text = "第一句。互联网租赁自行车用户须年满\n16 周岁，并实名注册。<b>不是标签</b>"
    out = highlight(text, "互联网租赁自行车用户须年满16 周岁，并实名注册。")
    assert "<mark>互联网租赁自行车用户须年满\n16 周岁，并实名注册。</mark>" in out
    assert "&lt;b&gt;" in out and "<b>" not in out
    assert highlight("abc", "zzz") == "abc"


def test_render_not_found_state_lists_related_passages():
    hit = {"score": 0.1, "chunk_id": "c1", "cite_text": "相关<段落>", "source_file": "2022-03.txt", "line_start": 3,
           "line_end": 4, "issue": "2022-03", "doc_number": "阳政办发〔2022〕1号", "document_title": "标题",
           "doc_key": "2022-03#01", "section_path": ["一、总体要求"], "category": "政府文件", "chunk_type": "text"}
    result = {"question": "火星？", "answer": "公报中未找到。（原因）", "answered": False, "citations": [], "related": [hit],
              "notice": ""}
    assert answer_message(result).startswith("未找到答案。\n公报中未找到。（原因）")
    panel = sources_html(result)
    assert "未找到答案" in panel and "相关&lt;段落&gt;" in panel and "一、总体要求" in panel
    assert issue_label("2022-03") == "2022年第3期"


def test_feedback_store_roundtrip(tmp_path):
    store = FeedbackStore.from_settings(Settings(index_dir=tmp_path / "not-yet-built", data_dir=tmp_path / "data"))
    a = store.add("问题一", "id-1", parse_rating("up"), "很好")
    b = store.add("问题二", "id-2", parse_rating(-1))
    assert (tmp_path / "data" / "feedback.sqlite3").is_file() and not (tmp_path / "not-yet-built").exists()
    assert [r.id for r in store.list()] == [b.id, a.id]
    assert store.list()[1].to_dict()["comment"] == "很好" and store.count() == 2
    with pytest.raises(ValueError):
        parse_rating("meh")


# ---------------------------------------------------------------- fast: validation on the cold app

@pytest.fixture(scope="module")
def cold_client(tmp_path_factory):
    """The real app with the real service class, never started: validation must not need the model."""
    from qa.service import GazetteService

    cold = tmp_path_factory.mktemp("cold")
    settings = Settings(index_dir=cold / "index", data_dir=cold / "data")
    app = create_app(GazetteService, settings, ui=False)
    return TestClient(app, raise_server_exceptions=True)  # no `with`: no lifespan, nothing loads


BAD_ASK = [
    ({}, 422, "question"),
    ({"question": ""}, 422, "empty"),
    ({"question": " \n\t　"}, 422, "empty"),
    ({"question": "问" * 2001}, 422, "2000"),
    ({"question": "ok", "top_k": 0}, 422, "top_k"),
    ({"question": "ok", "top_k": 51}, 422, "top_k"),
    ({"question": "ok", "top_k": "5"}, 422, "top_k"),
    ({"question": "ok", "top_k": True}, 422, "top_k"),
    ({"question": "ok", "top_k": 2.5}, 422, "top_k"),
    ({"question": "ok", "filters": {"colour": "red"}}, 422, "unknown filter key"),
    ({"question": "ok", "filters": {"year": "2022"}}, 422, "filters.year"),
    ({"question": "ok", "filters": ["year"]}, 422, "filters"),
    ({"question": "ok", "mode": "poetry"}, 422, "mode"),
    ({"question": 42}, 422, "question"),
    ({"question": ["a"]}, 422, "question"),
    ({"question": "ok", "surprise": 1}, 422, "surprise"),
    ({"question": "ok", "stream": "yes"}, 422, "stream"),
]


@pytest.mark.parametrize("body,status,needle", BAD_ASK, ids=[f"ask-{i}" for i in range(len(BAD_ASK))])
def test_ask_rejects_bad_input_with_clear_json(cold_client, body, status, needle):
    body = assert_clean_error(cold_client.post("/v1/ask", json=body), status)
    assert needle in body["detail"], body


def test_search_and_feedback_and_chat_reject_bad_input(cold_client):
    assert "unknown filter key" in assert_clean_error(
        cold_client.post("/v1/search", json={"question": "x", "filters": {"nope": 1}}), 422)["detail"]
    assert_clean_error(cold_client.post("/v1/search", json={"question": "x", "top_k": 99}), 422)
    assert_clean_error(cold_client.post("/v1/feedback", json={"question": "q", "answer_id": "a", "rating": "meh"}), 422)
    assert_clean_error(cold_client.post("/v1/feedback", json={"question": "q", "answer_id": "a", "rating": True}), 422)
    assert_clean_error(cold_client.post("/v1/feedback", json={"question": " ", "answer_id": "a", "rating": 1}), 422)
    assert_clean_error(cold_client.post("/v1/chat/completions", json={"messages": []}), 422)
    assert "user" in assert_clean_error(cold_client.post(
        "/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]}), 422)["detail"]
    assert_clean_error(cold_client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "   "}]}), 422)


def test_malformed_and_oversized_bodies(cold_client):
    body = assert_clean_error(cold_client.post("/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"}), 400)
    assert body["error"] == "invalid_json"
    assert_clean_error(cold_client.post("/v1/ask", content=b"[1, 2]", headers={"content-type": "application/json"}), 422)
    assert_clean_error(cold_client.post("/v1/ask", content=b"question=hi", headers={"content-type": "text/plain"}), (400, 422))
    big = json.dumps({"question": "问" * 40000}).encode()  # > 64 KB
    assert assert_clean_error(cold_client.post("/v1/ask", content=big, headers={"content-type": "application/json"}), 413)["error"] == "payload_too_large"

    def chunks():  # no Content-Length: the limit must count streamed bytes
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    assert_clean_error(cold_client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert_clean_error(cold_client.get("/v1/nowhere"), 404)
    assert_clean_error(cold_client.delete("/v1/ask"), 405)


def test_not_ready_before_the_index_is_loaded(cold_client):
    assert cold_client.get("/healthz").status_code == 200
    r = cold_client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "not_ready"
    body = assert_clean_error(cold_client.post("/v1/ask", json={"question": BIKE_Q}), 503)
    assert body["error"] == "not_ready" and r.headers.get("retry-after")


def test_openapi_documents_the_api(cold_client):
    spec = cold_client.get("/openapi.json").json()
    for path in ("/v1/ask", "/v1/search", "/v1/documents/{doc_key}", "/v1/issues", "/v1/feedback",
                 "/v1/chat/completions", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    ask = spec["components"]["schemas"]["AskRequest"]["properties"]
    assert ask["question"]["maxLength"] == 2000
    assert "security" not in spec["paths"]["/v1/ask"]["post"]  # no key configured
    assert cold_client.get("/docs").status_code == 200


# ---------------------------------------------------------------- slow: the real service

@pytest.mark.slow
def test_ask_answers_with_cited_paragraphs(api_client):
    # Answer quality is the eval's job; this checks the contract with a real answer.
    r = api_client.post("/v1/ask", json={"question": AGE_Q})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["answered"] is True and d["answer_id"] and d["question"] == AGE_Q
    assert "[1]" in d["answer"] and d["citations"][0]["n"] == 1
    assert {f"[{c['n']}]" for c in d["citations"]} <= set(re.findall(r"\[\d+\]", d["answer"]))
    cited = [c for c in d["citations"] if c["doc_number"] == BIKE_DOC]
    assert cited, [c["doc_number"] for c in d["citations"]]
    squash = lambda t: re.sub(r"\s+", "", t)  # noqa: E731
    for c in d["citations"]:
        assert c["sentence"] and squash(c["sentence"]) in squash(c["cite_text"]), c
        # The cited line range really holds the cited text in the corpus file.
        lines = (CORPUS / c["source_file"]).read_text(encoding="utf-8").splitlines()
        span = squash("".join(lines[c["line_start"] - 1:c["line_end"]]))
        assert squash(c["cite_text"])[:20] in span, (c["source_file"], c["line_start"], c["cite_text"][:40])
    assert cited[0]["issue"] == "2022-03" and cited[0]["source_file"] == "2022-03.txt"


@pytest.mark.slow
def test_ask_english_question(api_client):
    d = api_client.post("/v1/ask", json={"question": f"What is document {BIKE_DOC} about?"}).json()
    assert d["answered"] and any(c["doc_number"] == BIKE_DOC for c in d["citations"])


@pytest.mark.slow
def test_ask_not_found_is_plain_and_not_an_error(api_client):
    r = api_client.post("/v1/ask", json={"question": NOT_FOUND_Q})
    assert r.status_code == 200
    d = r.json()
    assert d["answered"] is False and d["citations"] == [] and d["answer"]


@pytest.mark.slow
def test_ask_stream_sends_pieces_then_citations_then_done(api_client):
    plain = api_client.post("/v1/ask", json={"question": AGE_Q}).json()
    with api_client.stream("POST", "/v1/ask", json={"question": AGE_Q, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    names = [e for e, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"answer"} and len(names) > 3
    streamed = "".join(json.loads(d)["delta"] for e, d in events if e == "answer")
    done = json.loads(events[-1][1])
    assert streamed == done["answer"] == plain["answer"]
    cites = json.loads(events[-2][1])["citations"]
    assert [c["chunk_id"] for c in cites] == [c["chunk_id"] for c in plain["citations"]]


@pytest.mark.slow
def test_search_top_k_and_filters(api_client):
    hits = api_client.post("/v1/search", json={"question": "地质灾害防治", "top_k": 7}).json()["hits"]
    assert len(hits) == 7 and hits[0]["score"] >= hits[-1]["score"]
    assert len(api_client.post("/v1/search", json={"question": "地质灾害防治", "top_k": 1}).json()["hits"]) == 1
    for filters, check in [({"year": 2020}, lambda h: h["issue"].startswith("2020")),
                           ({"issue": "2022-03"}, lambda h: h["issue"] == "2022-03"),
                           ({"doc_number": BIKE_DOC}, lambda h: h["doc_number"] == BIKE_DOC)]:
        got = api_client.post("/v1/search", json={"question": "地质灾害防治", "filters": filters}).json()["hits"]
        assert got and all(check(h) for h in got), (filters, [h["issue"] for h in got])


@pytest.mark.slow
def test_documents_and_issues(api_client):
    issues = api_client.get("/v1/issues").json()["issues"]
    assert sorted(i["source_file"] for i in issues) == sorted(p.name for p in CORPUS.glob("*.txt"))
    bike = next(d for i in issues for d in i["documents"] if d["doc_number"] == BIKE_DOC)
    key = bike["doc_key"]
    assert "#" in key
    doc = api_client.get(f"/v1/documents/{quote(key, safe='')}").json()
    assert doc["doc_key"] == key and doc["doc_number"] == BIKE_DOC and doc["paragraphs"]
    p = doc["paragraphs"][0]
    assert {"text", "line_start", "line_end", "kind", "section_path"} <= set(p)
    assert any("16 周岁" in q["text"] for q in doc["paragraphs"])
    assert api_client.get(f"/v1/documents/{key.replace('#', '-')}").json()["doc_key"] == key
    assert_clean_error(api_client.get(f"/v1/documents/{quote('2099-01#01', safe='')}"), 404)
    assert "URL-encoded" in assert_clean_error(api_client.get("/v1/documents/2022-03#05"), 404)["detail"]


@pytest.mark.slow
def test_feedback_is_stored_in_the_data_dir(api_client, gazette_settings):
    q = f"反馈测试 {uuid.uuid4().hex[:8]}"
    answer = api_client.post("/v1/ask", json={"question": BIKE_Q}).json()
    r1 = api_client.post("/v1/feedback", json={"question": q, "answer_id": answer["answer_id"], "rating": "up",
                                               "comment": "引用准确"})
    r2 = api_client.post("/v1/feedback", json={"question": q, "answer_id": answer["answer_id"], "rating": -1})
    assert r1.status_code == r2.status_code == 201
    items = [i for i in api_client.get("/v1/feedback?limit=1000").json()["items"] if i["question"] == q]
    assert [(i["rating"], i["comment"]) for i in items] == [(-1, ""), (1, "引用准确")]
    db = Path(gazette_settings.data_dir) / "feedback.sqlite3"
    assert not (Path(gazette_settings.index_dir) / "feedback.sqlite3").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback WHERE question = ?", (q,)).fetchone()[0] == 2


@pytest.mark.slow
def test_odd_but_valid_inputs_never_5xx(api_client):
    bodies = [
        {"question": "？？？"}, {"question": "🚲🚲🚲"}, {"question": "tab\tand\nnewline"},
        {"question": "问" * 2000}, {"question": BIKE_Q, "top_k": 50},
        {"question": BIKE_Q, "filters": {"issue": "1999-01"}}, {"question": BIKE_Q, "filters": {"year": 1999}},
        {"question": BIKE_Q, "filters": {"category": "不存在的类别", "doc_number": "乱码〔9999〕1号"}},
        {"question": "SELECT * FROM chunks; --"}, {"question": "<script>alert(1)</script>"},
    ]
    for body in bodies:
        r = api_client.post("/v1/ask", json=body)
        assert r.status_code == 200, (body, r.status_code, r.text[:300])
        assert "answered" in r.json()
    # a NUL byte, and generative mode on a server without an LLM endpoint: clear 422s (tests/test_faults_api.py)
    for body in ({"question": "\u0000 null byte"}, {"question": BIKE_Q, "mode": "generative"}):
        assert_clean_error(api_client.post("/v1/ask", json=body), 422)
    for query in ["", " "]:
        assert_clean_error(api_client.post("/v1/search", json={"question": query}), 422)
    assert api_client.post("/v1/search", json={"question": "🚲", "top_k": 50}).status_code == 200


@pytest.mark.slow
def test_root_redirects_to_ui_and_ui_is_served(api_client):
    r = api_client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/ui/"
    ui = api_client.get("/ui/")
    assert ui.status_code == 200 and "阳泉市政府公报问答" in ui.text


@pytest.mark.slow
def test_readyz_turns_200_once_the_service_is_loaded(gazette_service, tmp_path):
    gate = threading.Event()

    def factory(settings):
        gate.wait(60)  # hold the load so the not-ready window can be observed
        return gazette_service

    app = create_app(factory, Settings(index_dir=tmp_path / "index"), ui=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        assert client.post("/v1/search", json={"question": "共享单车"}).status_code == 503
        gate.set()
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post("/v1/search", json={"question": "共享单车"}).json()["hits"]


@pytest.mark.slow
def test_openai_client_non_streaming_and_streaming(live_server):
    import openai

    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="not-needed", max_retries=0, timeout=120)
    assert [m.id for m in client.models.list().data] == ["gazette-qa"]
    resp = client.chat.completions.create(model="gazette-qa", messages=[
        {"role": "system", "content": "ignored"}, {"role": "user", "content": AGE_Q}])
    content = resp.choices[0].message.content
    assert resp.choices[0].message.role == "assistant" and resp.choices[0].finish_reason == "stop"
    assert "[1]" in content
    citations = resp.model_extra["citations"]
    assert citations and any(c["doc_number"] == BIKE_DOC for c in citations)

    chunks = list(client.chat.completions.create(model="gazette-qa", stream=True,
                                                 messages=[{"role": "user", "content": AGE_Q}]))
    assert len(chunks) > 2 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert [c["chunk_id"] for c in chunks[-1].model_extra["citations"]] == [c["chunk_id"] for c in citations]


@pytest.mark.slow
def test_api_key_guards_v1_and_the_ui(gazette_service, gazette_settings):
    import openai
    from api_support import ThreadedServer, free_port, wait_ready

    settings = gazette_settings.model_copy(update={"api_key": "s3cret-key"})
    with ThreadedServer(create_app(gazette_service, settings), free_port()) as srv:
        url = f"http://127.0.0.1:{srv.server.config.port}"
        wait_ready(url)  # health endpoints stay open
        body = {"question": "共享单车"}
        assert_clean_error(httpx.post(f"{url}/v1/search", json=body), 401)
        assert_clean_error(httpx.post(f"{url}/v1/search", json=body, headers={"Authorization": "Bearer wrong"}), 401)
        assert httpx.post(f"{url}/v1/search", json=body, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        spec = httpx.get(f"{url}/openapi.json").json()
        assert spec["paths"]["/v1/ask"]["post"]["security"] == [{"bearer": []}]

        ok = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret-key", max_retries=0, timeout=120)
        assert ok.chat.completions.create(model="gazette-qa", messages=[{"role": "user", "content": BIKE_Q}]).choices
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()

        # The UI asks for a login; the key is the password.
        assert httpx.get(f"{url}/ui/config").status_code == 401
        with httpx.Client(base_url=url) as browser:
            assert browser.post("/ui/login", data={"username": "staff", "password": "wrong"}).status_code >= 400
            assert browser.post("/ui/login", data={"username": "staff", "password": "s3cret-key"}).status_code == 200
            assert browser.get("/ui/config").status_code == 200


@pytest.mark.slow
def test_twenty_concurrent_clients_for_a_minute_get_no_errors(gazette_settings, gazette_service, tmp_path):
    """A separate uvicorn process (settings from the environment, like `qa serve`), 20 clients, 60 s."""
    import os

    from api_support import free_port, load_benchmark_module

    bench = load_benchmark_module()
    seconds = float(os.environ.get("QA_LOAD_TEST_SECONDS", "60"))
    port = free_port()
    proc = bench.start_server(port, Path(gazette_settings.index_dir), tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        bench.wait_ready(url, proc, 300)
        questions = bench.distinct_questions(bench.load_questions(), 20_000)  # as the benchmark asks: none twice

        async def run():
            probe_ms: list[float] = []

            async def probe():  # the event loop must stay free while models work in threads
                async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                    end = time.monotonic() + seconds
                    while time.monotonic() < end:
                        t0 = time.perf_counter()
                        assert (await c.get("/healthz")).status_code == 200
                        probe_ms.append((time.perf_counter() - t0) * 1000)
                        await asyncio.sleep(0.5)

            search, ask, _ = await asyncio.gather(
                bench.run_endpoint(url, "/v1/search", questions, 10, seconds, 100_000, cycle=False),
                bench.run_endpoint(url, "/v1/ask", questions[::-1], 10, seconds, 100_000, cycle=False),
                probe())
            return search, ask, probe_ms

        search, ask, probe_ms = asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not search.errors and not ask.errors, (search.errors[:3], ask.errors[:3])
    assert search.ok > 20 and ask.ok > 20
    for run in (search, ask):
        assert len(set(run.texts_sent)) == len(run.texts_sent)  # distinct questions: none sent twice
    assert max(probe_ms) < 2000, max(probe_ms)
    print(f"\nload: search {search.row()}  ask {ask.row()}  healthz max {max(probe_ms):.0f} ms")
