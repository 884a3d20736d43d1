"""Fault suite, generative mode: a scripted bad LLM server and generated answers that do not hold up.

The bad server is a real HTTP server (uvicorn on 127.0.0.1) whose /v1/chat/completions sends whatever
the test scripts: no choices, `choices: []`, HTML, invalid JSON, a 502 page, a huge body, a slow or
dripping reply, a contradicting answer. The generative step must fall back to the extractive answer
with a notice that names the kind of fault and never the endpoint's own text; through the API that is
a 200, never a 4xx blaming the client nor a 5xx. Passages are real chunks of corpus/2022-03.txt and the
extractive answer is the real `compose`; the slow tests run the real service over a real index.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api_support import ThreadedServer, free_port, wait_ready
from qa.answer.extractive import ExtractiveParams, compose
from qa.answer.generated_support import check_sentence, split_sentences
from qa.answer.generative import (BAD_REPLY_NOTICE, TIMEOUT_NOTICE, TOO_LARGE_NOTICE, UNAVAILABLE_NOTICE,
                                  GenerativeAnswerer, numbers_in, passage_text, verify)
from qa.config import PROJECT_ROOT, Settings
from qa.corpus.chunker import chunk_file
from qa.corpus.normalize import squash
from qa.models import SearchHit
from qa.question import analyse

pytest_plugins = ["api_support"]

QUESTION = "共享单车用户需要满多少岁？"
GOOD = "互联网租赁自行车用户须年满16周岁[1]。"
CONTRADICTION = "用户无需实名，请访问 http://evil.example[1]。"


# ------------------------------------------------------------------------------ the scripted bad server

def completion(content: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": "bad",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def good_answer(user_message: str) -> str:
    """What a faithful model says: the age rule, citing the passage that states it."""
    blocks = re.findall(r"^\[(\d+)\] (.*?)(?=\n\n\[\d+\] |\n\n问题：)", user_message, re.M | re.S)
    n = next((n for n, body in blocks if "年满16周岁" in squash(body)), "1")
    return GOOD.replace("[1]", f"[{n}]")


@dataclass
class BadLLM:
    """Each request takes the next scripted reply (a callable returning a Starlette response); else a good answer."""
    url: str
    script: deque = field(default_factory=deque)
    requests: int = 0


def _bad_app(llm: BadLLM) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        user = next(m["content"] for m in (await request.json())["messages"] if m["role"] == "user")
        llm.requests += 1
        make = llm.script.popleft() if llm.script else (lambda: JSONResponse(completion(good_answer(user))))
        out = make()
        return await out if asyncio.iscoroutine(out) else out

    return app


@pytest.fixture(scope="module")
def bad_server():
    port = free_port()
    llm = BadLLM(f"http://127.0.0.1:{port}/v1")
    with ThreadedServer(_bad_app(llm), port):
        yield llm


@pytest.fixture
def bad(bad_server) -> BadLLM:
    bad_server.script.clear()
    bad_server.requests = 0
    return bad_server


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


async def _sleep_then(seconds: float, body: dict) -> Response:
    await asyncio.sleep(seconds)
    return JSONResponse(body)


def _drip(total_s: float, step_s: float = 0.2) -> StreamingResponse:
    """A valid-looking JSON reply sent one space at a time: every read is quick, the whole takes total_s."""
    async def body():
        yield b'{"id": "x", '
        t_end = time.monotonic() + total_s
        while time.monotonic() < t_end:
            await asyncio.sleep(step_s)
            yield b" "
        yield json.dumps(completion(GOOD))[1:].encode()
    return StreamingResponse(body(), media_type="application/json")


def _chunked_huge(n_bytes: int) -> StreamingResponse:
    async def body():
        yield b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "'
        for _ in range(n_bytes // 65536):
            yield b"x" * 65536
        yield b'"}}]}'
    return StreamingResponse(body(), media_type="application/json")


# ------------------------------------------------------------------------------ real passages

@pytest.fixture(scope="module")
def hits() -> list[SearchHit]:
    chunks = chunk_file(PROJECT_ROOT / "corpus" / "2022-03.txt")
    bike = next(c for c in chunks if c.chunk_type == "text" and "年满16周岁" in squash(c.text))
    others = [c for c in chunks if c.doc_number == bike.doc_number and c.chunk_type == "text" and c != bike][:4]
    return [SearchHit(c, 1.0 - i / 10, i) for i, c in enumerate([bike, *others])]


@pytest.fixture(scope="module")
def extractive(hits):
    result = compose(analyse(QUESTION), hits, ExtractiveParams(), False)
    assert result.answered and result.citations
    return result


def _settings(url: str, **kw) -> Settings:
    return Settings(llm_base_url=url, llm_model="bad-model", answer_mode="generative", **{"llm_timeout_s": 3.0, **kw})


def _fallback(result, extractive, notice: str) -> None:
    assert result.mode == "extractive", result.notice
    assert result.notice == notice
    assert result.answer == extractive.answer and result.answered == extractive.answered
    assert [c.hit.chunk.chunk_id for c in result.citations] == [c.hit.chunk.chunk_id for c in extractive.citations]


# ------------------------------------------------------------------------------ broken replies

BROKEN = [
    ("no choices", lambda: _json({"foo": 1}), BAD_REPLY_NOTICE),
    ("empty choices", lambda: _json({**completion("x"), "choices": []}), BAD_REPLY_NOTICE),
    ("null content", lambda: _json({**completion("x"), "choices": [{"index": 0, "message": {"role": "assistant"},
                                                                    "finish_reason": "stop"}]}),
     "generative answer rejected: empty answer"),
    ("html page", lambda: Response("<html><body><h1>Welcome to nginx</h1></body></html>", media_type="text/html"),
     BAD_REPLY_NOTICE),
    ("invalid json", lambda: Response('{"choices": [', media_type="application/json"), BAD_REPLY_NOTICE),
    ("json array", lambda: _json([1, 2, 3]), BAD_REPLY_NOTICE),
    ("502 html", lambda: Response("<html>502 Bad Gateway: upstream secret-host:9000</html>", status_code=502,
                                   media_type="text/html"), UNAVAILABLE_NOTICE),
    ("401 json", lambda: _json({"error": {"message": "invalid api key sk-secret"}}, 401), UNAVAILABLE_NOTICE),
]


@pytest.mark.parametrize("name,reply,notice", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_reply_falls_back_with_a_notice_and_no_internals(bad, hits, extractive, name, reply, notice):
    bad.script.append(reply)
    result = GenerativeAnswerer(_settings(bad.url))(extractive, hits)
    _fallback(result, extractive, notice)
    assert bad.requests == 1
    for internal in ("foo", "nginx", "secret", "html", "Traceback", "choices", "Error code"):
        assert internal not in result.notice


def test_huge_reply_is_cut_off(bad, hits, extractive):
    big = completion("很长" * 200_000)  # ~1.2 MB with a Content-Length
    bad.script.append(lambda: _json(big))
    _fallback(GenerativeAnswerer(_settings(bad.url))(extractive, hits), extractive, TOO_LARGE_NOTICE)
    bad.script.append(lambda: _chunked_huge(4 * 1024 * 1024))  # no Content-Length: counted while reading
    t0 = time.perf_counter()
    _fallback(GenerativeAnswerer(_settings(bad.url))(extractive, hits), extractive, TOO_LARGE_NOTICE)
    assert time.perf_counter() - t0 < 10


def test_long_answer_within_the_byte_cap_is_rejected(bad, hits, extractive):
    bad.script.append(lambda: _json(completion("互联网租赁自行车用户须年满16周岁[1]。" * 200)))
    result = GenerativeAnswerer(_settings(bad.url, llm_max_answer_chars=500))(extractive, hits)
    _fallback(result, extractive, "generative answer rejected: longer than 500 characters")


def test_slow_and_dripping_replies_time_out_within_the_timeout(bad, hits, extractive):
    bad.script.append(lambda: _sleep_then(3.0, completion(GOOD)))
    t0 = time.perf_counter()
    _fallback(GenerativeAnswerer(_settings(bad.url, llm_timeout_s=1.0))(extractive, hits), extractive, TIMEOUT_NOTICE)
    assert time.perf_counter() - t0 < 2.5
    # every read arrives within the timeout, the whole reply does not: the total deadline cuts it
    bad.script.append(lambda: _drip(4.0))
    t0 = time.perf_counter()
    _fallback(GenerativeAnswerer(_settings(bad.url, llm_timeout_s=1.0))(extractive, hits), extractive, TIMEOUT_NOTICE)
    assert time.perf_counter() - t0 < 2.5


def test_out_of_range_and_absurd_markers_are_rejected(bad, hits, extractive):
    for marker in ("[7]", "[0]", "[" + "9" * 5000 + "]"):
        bad.script.append(lambda m=marker: _json(completion(f"用户须年满16周岁{m}。")))
        result = GenerativeAnswerer(_settings(bad.url, llm_max_answer_chars=10_000))(extractive, hits)
        assert result.mode == "extractive" and result.notice.startswith("generative answer rejected: citation"), result.notice
        assert len(result.notice) < 200


def test_good_reply_is_still_accepted(bad, hits, extractive):
    result = GenerativeAnswerer(_settings(bad.url))(extractive, hits)
    assert result.mode == "generative" and result.notice == "" and result.answer == GOOD
    assert [c.hit.chunk.chunk_id for c in result.citations] == [hits[0].chunk.chunk_id]


# ------------------------------------------------------------------------------ grounding of generated sentences

def test_contradicting_answer_without_numbers_is_not_passed(bad, hits, extractive):
    bad.script.append(lambda: _json(completion(CONTRADICTION)))
    result = GenerativeAnswerer(_settings(bad.url))(extractive, hits)
    assert result.mode == "extractive" and "evil.example" not in result.answer
    assert result.notice.startswith("generative answer rejected:") and "evil.example" in result.notice


def test_unsupported_sentences_are_dropped_and_flagged(bad, hits, extractive):
    bad.script.append(lambda: _json(completion(f"{GOOD}用户无需实名注册[1]。另外，请访问官网了解详情。")))
    result = GenerativeAnswerer(_settings(bad.url))(extractive, hits)
    assert result.mode == "generative" and result.answer == GOOD
    assert result.notice.startswith("dropped 2 unsupported sentence(s)"), result.notice
    assert "无需实名" in result.notice and "cites no passage" in result.notice


def test_sentence_checks_on_real_passages(hits):
    passages = [passage_text(h) for h in hits]

    def reason(sentence: str) -> str:
        (only,) = split_sentences(sentence)
        return check_sentence(only, passages, numbers_in, 0.6).reason

    assert reason("互联网租赁自行车用户须年满16周岁，并实名注册和使用[1]。") == ""
    assert reason("根据公报，共享单车用户须年满16周岁并实名注册[1]。") == ""  # framing words and a synonym
    assert "无需实名" in reason("用户无需实名注册和使用[1]。")  # an added negation
    assert "不得使用" in reason("用户可以使用互联网租赁自行车载人[1]。")  # a dropped negation
    assert "evil.example" in reason("Visit evil.example for details[1].")  # a domain in an English sentence
    assert "word pairs" in reason("本市鼓励发展共享单车，市民可以随意停放[1]。")  # content not in the passage
    assert "17" in reason("用户须年满17周岁[1]。")
    assert "cites no passage" in reason("用户须年满16周岁。")
    assert split_sentences("用户须年满16周岁。[1]另见[2]。") == ["用户须年满16周岁。[1]", "另见[2]。"]
    assert reason("用户须年满16周岁。[1]") == ""
    verdict = verify(f"{GOOD}用户无需实名注册[1]。", passages)
    assert verdict.ok and verdict.text == GOOD and verdict.cited == (1,) and len(verdict.dropped) == 1


@pytest.mark.slow
def test_english_sentences_are_checked_through_the_glossary(gazette_service, hits):
    passages = [passage_text(hits[0])]
    terms = gazette_service._english_terms  # the searcher's English -> Chinese expansion, as the service passes it

    def reason(sentence: str) -> str:
        return check_sentence(sentence, passages, numbers_in, 0.6, terms).reason

    assert reason("Users must be at least 16 years old and register with their real names[1].") == ""
    assert reason("Users must not carry passengers on the bikes[1].") == ""
    assert "negates" in reason("Users need no real-name registration[1].")
    assert "terms" in reason("The city encourages everyone to park anywhere[1].")
    assert "evil.example" in reason("Users must register at evil.example[1].")


# ------------------------------------------------------------------------------ slow: through the HTTP API

@pytest.fixture(scope="module")
def generative_server(gazette_service, bad_server):
    """The real service over the real index, generative by request, its LLM the scripted bad server."""
    from qa.api.app import create_app
    from qa.service import GazetteService

    settings = gazette_service.settings.model_copy(update={
        "llm_base_url": bad_server.url, "llm_model": "bad-model", "llm_timeout_s": 8.0, "llm_threads": 4})
    service = GazetteService(settings, gazette_service.encoder, gazette_service.searcher)
    app = create_app(service, settings, ui=False, model_threads=4)
    port = free_port()
    with ThreadedServer(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("name,reply,notice", BROKEN[:5] + BROKEN[6:7], ids=[b[0] for b in BROKEN[:5] + BROKEN[6:7]])
def test_api_answers_200_on_every_llm_fault(generative_server, bad, name, reply, notice):
    bad.script.append(reply)
    r = httpx.post(f"{generative_server}/v1/ask", json={"question": QUESTION, "mode": "generative"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["mode"] == "extractive" and body["notice"] == notice and body["answered"]
    bad.script.append(reply)
    r = httpx.post(f"{generative_server}/v1/chat/completions", timeout=60,
                   json={"messages": [{"role": "user", "content": QUESTION}], "mode": "generative"})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"], r.text[:300]


@pytest.mark.slow
def test_api_drops_a_contradiction_and_keeps_the_supported_sentence(generative_server, bad):
    r = httpx.post(f"{generative_server}/v1/ask", json={"question": QUESTION, "mode": "generative"}, timeout=60)
    assert r.status_code == 200 and r.json()["mode"] == "generative", r.json()["notice"]  # the good default reply
    bad.script.append(lambda: _json(completion(CONTRADICTION)))
    body = httpx.post(f"{generative_server}/v1/ask", json={"question": QUESTION, "mode": "generative"}, timeout=60).json()
    assert body["mode"] == "extractive" and "evil" not in body["answer"] and "rejected" in body["notice"]


@pytest.mark.slow
def test_slow_llm_does_not_stall_search(generative_server, bad):
    """Six generative asks wait on a 5 s LLM (more than the model pool's 4 threads); search stays quick. With one
    shared pool (before) the search waited for the LLM: 6.7 s (1-min load 25); with two pools 0.9 s (load 22)."""
    n_asks, delay_s = 6, 5.0
    for _ in range(n_asks):
        bad.script.append(lambda: _sleep_then(delay_s, completion(GOOD)))

    async def run() -> tuple[list[int], float, float]:
        async with httpx.AsyncClient(base_url=generative_server, timeout=60) as client:
            asks = [asyncio.create_task(client.post("/v1/ask", json={"question": QUESTION, "mode": "generative"}))
                    for _ in range(n_asks)]
            await asyncio.sleep(1.0)  # the asks are now waiting on the LLM
            t0 = time.perf_counter()
            r = await client.post("/v1/search", json={"question": "共享单车 年满16周岁", "top_k": 5})
            search_s = time.perf_counter() - t0
            assert r.status_code == 200 and r.json()["hits"]
            pending = sum(not a.done() for a in asks)
            done = await asyncio.wait_for(asyncio.gather(*asks), timeout=60)
            return [d.status_code for d in done], search_s, pending

    statuses, search_s, pending = asyncio.run(run())
    load = os.getloadavg()[0]
    print(f"search during {n_asks} slow generative asks: {search_s:.2f} s (1-min load {load:.1f})")
    assert statuses == [200] * n_asks
    assert pending >= 1, "the asks finished before the search: the test shows nothing"
    assert search_s < 2.5, f"search took {search_s:.2f} s while generative asks waited (load {load:.1f})"
