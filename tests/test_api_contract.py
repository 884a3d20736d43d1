"""The API's contract: one vocabulary (question/query alias, doc_number, timings_ms), responses that validate
against their declared models, every schema field described with an example, documents by number (文号), and
/docs and /redoc served with no internet.

Fast tests use the real app before its service is loaded (a request that passes validation gets 503 there, one
that fails it 422). `slow` tests use the real service over the real index (tests/api_support.py).
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.openai_compat import ChatResponse
from qa.api.schemas import (
    AnswerOut,
    CollectionsOut,
    DocumentOut,
    DocumentsOut,
    FeedbackListOut,
    FeedbackOut,
    IssuesOut,
    SearchOut,
)
from qa.config import Settings

pytest_plugins = ["api_support"]

BIKE_Q = "共享单车用户需要满多少岁？"
BIKE_DOC = "阳政办发〔2022〕34号"
SHARED_DOC = "阳政任字〔2021〕32号"  # two appointment notices of issue 2021-04 bear it (tests/test_corpus.py)


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """The real app and service class, never started: nothing loads."""
    from qa.service import GazetteService

    settings = Settings(index_dir=tmp_path_factory.mktemp("cold") / "index")
    return TestClient(create_app(GazetteService, settings, ui=False), raise_server_exceptions=True)


# ---------------------------------------------------------------- OpenAPI: every field described, with an example

def _undocumented(node, where: str = "") -> list[str]:
    """Every property of every schema in the document (components, inline request/response and event schemas,
    nested ones) lacking a description or an example."""
    out: list[str] = []
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, prop in props.items():
                if not isinstance(prop, dict):
                    continue
                if not str(prop.get("description", "")).strip():
                    out.append(f"{where}.{name}: no description")
                if "example" not in prop and not prop.get("examples"):
                    out.append(f"{where}.{name}: no example")
        for key, value in node.items():
            out += _undocumented(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _undocumented(value, f"{where}[{i}]")
    return out


def test_every_schema_field_and_parameter_has_a_description_and_an_example(cold):
    spec = cold.get("/openapi.json").json()
    missing = _undocumented(spec)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for p in op.get("parameters", []):
                if not p.get("description") or not (p.get("example") or p.get("examples")
                                                     or p.get("schema", {}).get("examples")):
                    missing.append(f"{method.upper()} {path}: parameter {p['name']}")
    assert not missing, "\n".join(missing)
    # The walk sees what it must: the models of the answer, a nested one and an event schema.
    assert {"AnswerOut", "CitationOut", "DocumentOut", "SectionOut", "DocumentsOut"} <= set(spec["components"]["schemas"])


def test_the_walk_finds_an_undocumented_field():
    spec = {"components": {"schemas": {"X": {"properties": {"a": {"type": "string", "description": "d"},
                                                            "b": {"type": "string", "examples": ["e"]}}}}}}
    assert _undocumented(spec) == ["/components/schemas/X.a: no example", "/components/schemas/X.b: no description"]


def test_the_schema_speaks_one_vocabulary(cold):
    schemas = cold.get("/openapi.json").json()["components"]["schemas"]
    for name in ("AskRequest", "SearchRequest"):
        s = schemas[name]
        assert {"question", "query"} <= set(s["properties"]) and s["additionalProperties"] is False, name
        assert s["oneOf"] == [{"required": ["question"]}, {"required": ["query"]}], name
        assert "alias" in s["properties"]["query"]["description"].lower()
    names = {name for s in schemas.values() for name in s.get("properties", {})}
    assert not names & {"document_number", "timings"}, names
    assert "doc_number" in schemas["HitOut"]["properties"] and "timings_ms" in schemas["AnswerOut"]["properties"]
    assert schemas["DocumentOut"]["additionalProperties"] is False


# ---------------------------------------------------------------- the alias, validated before anything loads

@pytest.mark.parametrize("path", ["/v1/ask", "/v1/search"])
def test_question_or_its_alias_query_and_not_both(cold, path):
    # Past validation the cold app answers 503 (not loaded): the body was accepted.
    assert cold.post(path, json={"question": BIKE_Q}).status_code == 503
    assert cold.post(path, json={"query": BIKE_Q}).status_code == 503
    for body, needle in [({"question": BIKE_Q, "query": BIKE_Q}, "not both"), ({}, "required"),
                         ({"top_k": 3}, "required"), ({"query": None}, "query"), ({"question": None}, "question"),
                         ({"query": "  "}, "empty"), ({"query": "x\u202e"}, "U+202E")]:
        r = cold.post(path, json=body)
        assert r.status_code == 422, (body, r.text)
        assert needle in r.json()["detail"], (body, r.json())


# ---------------------------------------------------------------- /docs and /redoc with no internet

class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]


@pytest.mark.parametrize("page,assets", [("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
                                         ("/redoc", {"redoc.standalone.js", "favicon.png"})])
def test_docs_pages_reference_only_local_assets_and_they_are_served(cold, page, assets):
    r = cold.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    # The page's policy keeps the browser on this server (ReDoc's bundle reaches for a logo on a CDN).
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data:" in csp and "frame-ancestors 'self'" in csp
    html = r.text
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), "an absolute URL in " + page
    parser = _Refs()
    parser.feed(html)
    refs = parser.refs + re.findall(r"url:\s*'([^']+)'", html)  # Swagger UI's spec URL sits in its script
    assert {ref.rsplit("/", 1)[-1] for ref in refs} >= assets | {"openapi.json"}, refs
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        got = cold.get(ref)
        assert got.status_code == 200 and len(got.content) > 100, (ref, got.status_code)
    bundle = next(ref for ref in refs if ref.endswith(".js"))
    assert len(cold.get(bundle).content) > 500_000  # the real bundle, not a stub


# ---------------------------------------------------------------- slow: the real service

@pytest.mark.slow
def test_search_takes_question_and_query_alike(api_client):
    a = api_client.post("/v1/search", json={"question": "地质灾害防治", "top_k": 5})
    b = api_client.post("/v1/search", json={"query": "地质灾害防治", "top_k": 5})
    assert a.status_code == b.status_code == 200
    hits = SearchOut.model_validate(a.json()).hits
    assert hits and [h.chunk_id for h in hits] == [h["chunk_id"] for h in b.json()["hits"]]
    assert all("document_number" not in h and "doc_number" in h for h in a.json()["hits"])


@pytest.mark.slow
def test_ask_answers_with_doc_number_and_timings_ms_and_validates(api_client):
    by_question = api_client.post("/v1/ask", json={"question": BIKE_Q})
    by_query = api_client.post("/v1/ask", json={"query": BIKE_Q})
    assert by_question.status_code == by_query.status_code == 200
    for r in (by_question, by_query):
        d = r.json()
        AnswerOut.model_validate(d)  # no key undeclared, none missing
        assert d["answered"] and d["question"] == BIKE_Q
        assert any(c["doc_number"] == BIKE_DOC for c in d["citations"]), d["citations"]
        assert "timings" not in d and set(d["timings_ms"]) >= {"retrieve", "answer", "total"}
    assert by_question.json()["answer"] == by_query.json()["answer"]

    r = api_client.post("/v1/ask", json={"query": BIKE_Q, "stream": True})
    events = [b for b in r.text.strip().split("\n\n") if b.startswith("event: done")]
    done = json.loads(events[0].split("data: ", 1)[1])
    assert "timings_ms" in done and "timings" not in done


@pytest.mark.slow
def test_every_response_validates_against_its_model(api_client):
    IssuesOut.model_validate(api_client.get("/v1/issues").json())
    CollectionsOut.model_validate(api_client.get("/v1/collections").json())
    doc = api_client.get("/v1/documents/2022-03-05").json()
    DocumentOut.model_validate(doc)
    assert len(doc) == len(DocumentOut.model_fields)  # every declared key is sent, and nothing else
    chat = api_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": BIKE_Q}]})
    assert chat.status_code == 200
    ChatResponse.model_validate(chat.json())
    assert any(c["doc_number"] == BIKE_DOC for c in chat.json()["citations"])
    answer_id = api_client.post("/v1/ask", json={"question": BIKE_Q}).json()["answer_id"]
    fb = api_client.post("/v1/feedback", json={"question": BIKE_Q, "answer_id": answer_id, "rating": "up"})
    assert fb.status_code == 201
    FeedbackOut.model_validate(fb.json())
    FeedbackListOut.model_validate(api_client.get("/v1/feedback?limit=5").json())


@pytest.mark.slow
def test_a_document_is_found_by_its_number(api_client):
    (key,) = [d["doc_key"] for i in api_client.get("/v1/issues").json()["issues"] for d in i["documents"]
              if d["doc_number"] == BIKE_DOC]
    by_key = api_client.get(f"/v1/documents/{key.replace('#', '-')}")
    assert by_key.status_code == 200 and by_key.json()["doc_number"] == BIKE_DOC
    for form in (BIKE_DOC, "阳政办发[2022]34号", "阳政办发（2022）34号", f" {BIKE_DOC}"):
        r = api_client.get(f"/v1/documents/{quote(form, safe='')}")
        assert r.status_code == 200, (form, r.text[:300])
        assert r.json() == by_key.json(), form  # the same document, the same shape
    # A citation's doc_number leads to its document.
    cited = api_client.post("/v1/ask", json={"question": BIKE_Q}).json()["citations"][0]
    r = api_client.get(f"/v1/documents/{quote(cited['doc_number'], safe='')}")
    assert r.status_code == 200 and r.json()["doc_key"] == cited["doc_key"]


@pytest.mark.slow
def test_a_number_two_documents_share_gives_both(api_client):
    r = api_client.get(f"/v1/documents/{quote(SHARED_DOC, safe='')}")
    assert r.status_code == 200, r.text[:300]
    out = DocumentsOut.model_validate(r.json())
    assert out.doc_number == SHARED_DOC
    assert [d.doc_key for d in out.documents] == ["2021-04#01", "2021-04#02"]
    assert all(d.doc_number == SHARED_DOC and d.paragraphs for d in out.documents)
    assert "黄慧文" in out.documents[0].title and "王晓峰" in out.documents[1].title
    # Each is still reachable by its key alone.
    assert api_client.get("/v1/documents/2021-04-02").json()["title"] == out.documents[1].title


@pytest.mark.slow
def test_an_unknown_number_is_a_404(api_client):
    for missing in ("阳政发〔2099〕1号", "阳政办发〔2022〕9999号", "不是文号"):
        r = api_client.get(f"/v1/documents/{quote(missing, safe='')}")
        assert r.status_code == 404 and r.json()["error"] == "not_found", (missing, r.text[:300])


def test_an_upload_form_boolean_is_true_or_false_only(cold):
    """The schema says boolean: "0", "1", "yes" are refused, not guessed (the schema fuzz sent "0"); an empty
    field is no value (the default), as for every form field."""
    files = [("files", ("a.txt", "公告".encode(), "text/plain"))]
    for value in ("0", "1", "yes"):
        r = cold.post("/v1/documents", files=files, data={"replace": value})
        assert r.status_code == 422 and "replace" in r.json()["detail"], (value, r.text)
    for value in ("true", "False"):
        assert cold.post("/v1/documents", files=files, data={"replace": value}).status_code == 503  # past validation
