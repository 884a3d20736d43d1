"""Generative answer mode against a local OpenAI-compatible server (a stand-in for the external LLM).

The server is a tiny FastAPI app under uvicorn on 127.0.0.1: /v1/chat/completions pops the next
scripted reply from a queue the test fills (or, with an empty queue, quotes the first numbered
sentence of passage [1], like an obedient model). The passages are real chunks of corpus/2022-03.txt;
the extractive answer they are compared with is the real `compose`. One slow test runs the whole
GazetteService over a real index.
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api_support import ThreadedServer, free_port
from qa.answer.chain import NO_LLM_NOTICE, AskRequest, build_answer_chain
from qa.answer.extractive import ExtractiveParams, compose, split_sentences
from qa.answer.generative import (SYSTEM_PROMPT, TIMEOUT_NOTICE, UNAVAILABLE_NOTICE, GenerativeAnswerer, chinese_to_int,
                                  normalize_markers, numbers_in, passage_text, verify)
from qa.question import analyse
from qa.config import PROJECT_ROOT, Settings
from qa.corpus.chunker import chunk_file
from qa.corpus.normalize import squash
from qa.models import Chunk, SearchHit

QUESTION = "阳泉市非煤矿山整合的范围是多少座发证非煤矿山？"


# ------------------------------------------------------------------------------ the scripted LLM server

@dataclass
class ScriptedLLM:
    url: str
    replies: deque = field(default_factory=deque)
    requests: list = field(default_factory=list)
    delay_s: float = 0.0
    status: int = 200

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.delay_s, self.status = 0.0, 200


def _passages(user_message: str) -> dict[int, str]:
    blocks = re.findall(r"^\[(\d+)\] (.*?)(?=\n\n\[\d+\] |\n\n问题：)", user_message, re.M | re.S)
    return {int(n): body for n, body in blocks}


def _quote_passage_one(user_message: str) -> str:
    """What a faithful model would say: a sentence of passage [1] (one with a number if any), cited."""
    body = _passages(user_message)[1].split("\n", 1)[-1]
    sentences = split_sentences(body)
    pick = next((s for s in sentences if re.search(r"\d", s)), sentences[0])
    return f"{pick}[1]"


def _llm_app(llm: ScriptedLLM) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> JSONResponse:  # sync: runs in the threadpool, so a delay does not block the loop
        llm.requests.append(body)
        # Decide before any delay: a timed-out request must not take a reply queued by a later test.
        status, delay_s = llm.status, llm.delay_s
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        reply = llm.replies.popleft() if llm.replies else _quote_passage_one(user)
        time.sleep(delay_s)
        if status != 200:
            return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, status_code=status)
        return JSONResponse({
            "id": f"chatcmpl-{len(llm.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    return app


@pytest.fixture(scope="module")
def llm_server():
    port = free_port()
    llm = ScriptedLLM(f"http://127.0.0.1:{port}/v1")
    with ThreadedServer(_llm_app(llm), port):
        yield llm


@pytest.fixture
def llm(llm_server) -> ScriptedLLM:
    llm_server.reset()
    return llm_server


def _settings(url: str, timeout_s: float = 10.0) -> Settings:
    return Settings(llm_base_url=url, llm_model="scripted-model", llm_timeout_s=timeout_s, answer_mode="generative")


# ------------------------------------------------------------------------------ real passages

@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return chunk_file(PROJECT_ROOT / "corpus" / "2022-03.txt")


def _find(chunks: list[Chunk], needle: str) -> Chunk:
    return next(c for c in chunks if c.chunk_type == "text" and needle in squash(c.text))


@pytest.fixture(scope="module")
def hits(chunks) -> list[SearchHit]:
    """Five passages of 阳政办发〔2022〕35号 as retrieval would rank them for QUESTION, plus one more."""
    scope = _find(chunks, "全市108座市级发证非煤矿山")  # [1]: 108座, 50%
    stages = _find(chunks, "整合分三个阶段进行")  # [2]: 三个阶段, 2022年4月-5月
    others = [c for c in chunks if c.doc_number == "阳政办发〔2022〕35号" and c.chunk_type == "text"
              and c not in (scope, stages)][:4]
    return [SearchHit(c, 1.0 - i / 10, i) for i, c in enumerate([scope, stages, *others])]


@pytest.fixture(scope="module")
def extractive(hits):
    result = compose(analyse(QUESTION), hits[:5], ExtractiveParams(), False)
    assert result.answered and result.citations  # the real extractive answerer finds it
    return result


def _ask(settings: Settings, extractive, hits):
    before = (extractive.answer, [c.n for c in extractive.citations], extractive.notice, extractive.mode)
    result = GenerativeAnswerer(settings)(extractive, hits)
    assert (extractive.answer, [c.n for c in extractive.citations], extractive.notice, extractive.mode) == before
    return result


def _assert_fallback(result, extractive, notice: str) -> None:
    assert result.mode == "extractive"
    assert result.notice == notice
    assert result.answer == extractive.answer and result.answered == extractive.answered
    assert [(c.n, c.hit.chunk.chunk_id) for c in result.citations] == [(c.n, c.hit.chunk.chunk_id) for c in extractive.citations]
    assert [h.chunk.chunk_id for h in result.related] == [h.chunk.chunk_id for h in extractive.related]


# ------------------------------------------------------------------------------ verification (pure)

def test_numbers_in_reads_arabic_chinese_and_layout_variants():
    assert chinese_to_int("一百零八") == 108 and chinese_to_int("二〇二二") == 2022 and chinese_to_int("三万五千") == 35000
    assert numbers_in("市级 108 座，分三个阶段（2022 年 4 月-5 月），不低于50％，1,000元，3.50吨") == \
        {"108", "3", "2022", "4", "5", "50", "1000", "3.5"}
    assert numbers_in("统一规划，一是加强领导") == set()  # 一 without a measure word is not a number
    assert numbers_in("1\t2") == {"1", "2"}  # table cells stay apart after squashing


def test_verify_checks_markers_and_numbers_against_cited_passages(hits):
    passages = [passage_text(h) for h in hits[:5]]
    assert verify("全市108座市级发证非煤矿山参与整合[1]。", passages).ok
    assert verify("整合分3个阶段[2]，共108座[1]。", passages).cited == (2, 1)
    assert "[6]" in verify("共108座[6]。", passages).reason
    assert not verify("共108座。", passages).ok  # no marker: unverifiable
    # 108 is in passage 1 only: citing passage 2 for it does not verify
    assert "108" in verify("整合范围为108座[2]。", passages).reason
    assert "8" not in numbers_in(passages[1]) and not verify("整合分八个阶段进行[2]。", passages).ok
    assert normalize_markers("共108座【1】，分三个阶段[1,2]") == "共108座[1]，分三个阶段[1][2]"


# ------------------------------------------------------------------------------ against the scripted server

def test_good_answer_is_accepted_with_its_citation(llm, hits, extractive):
    llm.replies.append("全市108座市级发证非煤矿山纳入整合，压减比例不低于50%[1]。")
    result = _ask(_settings(llm.url), extractive, hits)
    assert result.mode == "generative" and result.notice == "" and result.answered
    assert result.answer == "全市108座市级发证非煤矿山纳入整合，压减比例不低于50%[1]。"
    assert [(c.n, c.hit.chunk.chunk_id) for c in result.citations] == [(1, hits[0].chunk.chunk_id)]
    assert "108座" in squash(result.citations[0].sentence)
    assert [h.chunk.chunk_id for h in result.related] == [h.chunk.chunk_id for h in hits[1:]]
    # what the endpoint received: model name, the Chinese system prompt, passages [1]..[5] with their source
    (req,) = llm.requests
    assert req["model"] == "scripted-model"
    system, user = req["messages"][0], req["messages"][1]
    assert system["role"] == "system" and system["content"] == SYSTEM_PROMPT and "公报中未找到" in system["content"]
    shown = _passages(user["content"])
    assert sorted(shown) == [1, 2, 3, 4, 5] and QUESTION in user["content"]
    assert hits[0].chunk.text in shown[1] and "阳政办发〔2022〕35号" in shown[1] and "2022年第3期" in shown[1]
    assert hits[5].chunk.text not in user["content"]  # only the top five passages are given


def test_markers_are_renumbered_in_order_of_mention(llm, hits, extractive):
    llm.replies.append("整合分三个阶段进行[2]，涉及全市108座市级发证非煤矿山[1]。")
    result = _ask(_settings(llm.url), extractive, hits)
    assert result.mode == "generative"
    assert result.answer == "整合分三个阶段进行[1]，涉及全市108座市级发证非煤矿山[2]。"
    assert [(c.n, c.hit.chunk.chunk_id) for c in result.citations] == [(1, hits[1].chunk.chunk_id), (2, hits[0].chunk.chunk_id)]
    assert "三个阶段" in result.citations[0].sentence


def test_citation_to_a_passage_not_given_is_rejected(llm, hits, extractive):
    llm.replies.append("全市108座市级发证非煤矿山参与整合[7]。")
    result = _ask(_settings(llm.url), extractive, hits)
    _assert_fallback(result, extractive, "generative answer rejected: citation [7] points to no given passage (1..5)")


def test_invented_number_is_rejected(llm, hits, extractive):
    llm.replies.append("全市非煤矿山共计 999 处，纳入整合范围[1]。")
    result = _ask(_settings(llm.url), extractive, hits)
    _assert_fallback(result, extractive, "generative answer rejected: number 999 not in the cited passages")


def test_not_found_reply_is_unanswered(llm, hits, extractive):
    llm.replies.append("公报中未找到。")
    result = _ask(_settings(llm.url), extractive, hits)
    assert result.mode == "generative" and not result.answered
    assert result.citations == [] and "公报中未找到" in result.answer
    assert [h.chunk.chunk_id for h in result.related] == [h.chunk.chunk_id for h in hits]


def test_closed_port_falls_back_to_extractive(hits, extractive):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    t0 = time.perf_counter()
    result = _ask(_settings(url), extractive, hits)
    _assert_fallback(result, extractive, UNAVAILABLE_NOTICE)
    assert time.perf_counter() - t0 < 5  # max_retries=0: no backoff loop


def test_http_error_and_timeout_fall_back_to_extractive(llm, hits, extractive):
    llm.status = 500
    _assert_fallback(_ask(_settings(llm.url), extractive, hits), extractive, UNAVAILABLE_NOTICE)
    assert len(llm.requests) == 1  # no retries
    llm.reset()
    llm.delay_s = 2.0
    t0 = time.perf_counter()
    _assert_fallback(_ask(_settings(llm.url, timeout_s=0.5), extractive, hits), extractive, TIMEOUT_NOTICE)
    assert time.perf_counter() - t0 < 1.8


# ------------------------------------------------------------------------------ in the answer chain

@dataclass
class _Routes:
    doc_numbers: list = field(default_factory=list)
    persons: list = field(default_factory=list)


def _chain(hits, generative):
    # The index is replaced by a fixed ranking of real chunks; the chain and answerers are the real ones.
    return build_answer_chain(lambda q, k, f: hits[:k], lambda q: _Routes(), ExtractiveParams(), None, generative)


def test_chain_uses_generative_only_when_asked(llm, hits):
    chain = _chain(hits, GenerativeAnswerer(_settings(llm.url)))
    llm.replies.append("全市108座市级发证非煤矿山纳入整合[1]。")
    extractive = chain.invoke(AskRequest(QUESTION, top_k=5, mode="extractive"))
    assert extractive.mode == "extractive" and llm.requests == []
    generated = chain.invoke(AskRequest(QUESTION, top_k=5, mode="generative"))
    assert generated.mode == "generative" and len(llm.requests) == 1
    assert generated.answer == "全市108座市级发证非煤矿山纳入整合[1]。"
    assert [c.hit.chunk.chunk_id for c in generated.citations] == [hits[0].chunk.chunk_id]
    assert generated.answer_id and "answer" in generated.timings_ms


def test_chain_without_endpoint_says_so(hits):
    chain = _chain(hits, None)
    result = chain.invoke(AskRequest(QUESTION, top_k=5, mode="generative"))
    assert result.mode == "extractive" and result.answered and result.notice == NO_LLM_NOTICE
    assert chain.invoke(AskRequest(QUESTION, top_k=5, mode="extractive")).notice == ""


# ------------------------------------------------------------------------------ slow: the whole service

@pytest.fixture(scope="module")
def service(tmp_path_factory, llm_server):
    from qa.service import GazetteService  # noqa: PLC0415

    reuse = os.environ.get("QA_TEST_INDEX_DIR")
    index_dir = Path(reuse) if reuse else tmp_path_factory.mktemp("generative-index") / "index"
    settings = Settings(index_dir=index_dir, llm_base_url=llm_server.url, llm_model="scripted-model",
                        answer_mode="generative")
    return GazetteService.load(settings, build_if_missing=not reuse)


@pytest.mark.slow
def test_service_answers_generatively_end_to_end(service, llm):
    from qa.service import GazetteService  # noqa: PLC0415

    result = service.ask(QUESTION)  # answer_mode="generative" from settings; the server quotes passage [1]
    assert len(llm.requests) == 1 and result.mode == "generative", result.notice
    shown = _passages(next(m["content"] for m in llm.requests[0]["messages"] if m["role"] == "user"))
    first = service.search(QUESTION, 5)[0]
    assert first.chunk.text in shown[1]
    assert result.answered and result.answer.endswith("[1]") and result.answer[:-3] in first.chunk.text
    assert [c.hit.chunk.chunk_id for c in result.citations] == [first.chunk.chunk_id]
    assert "108" in result.answer  # the right passage came first: the number the question asks for

    assert service.ask(QUESTION, mode="extractive").mode == "extractive" and len(llm.requests) == 1
    # the same index and encoder, no endpoint configured
    plain = GazetteService(Settings(index_dir=service.settings.index_dir), service.encoder, service.searcher)
    fallback = plain.ask(QUESTION, mode="generative")
    assert fallback.mode == "extractive" and fallback.notice == NO_LLM_NOTICE and len(llm.requests) == 1
