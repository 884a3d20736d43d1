"""Round trips through the real path: files the test makes (text PDF, scanned PDF, PNG, Word, web page, Markdown,
plain text, another city's gazette as PDF) added with `qa index add` into collections of a small corpus beside one
bundled issue, embedded by the real model, found by search, answered with citations that name file, page and
lines, filtered by collection, served by the API (documents with sections, collections with counts)."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import ingest_fixtures as fx  # noqa: E402

from qa.cli import app  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.ingest import read_file  # noqa: E402

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
runner = CliRunner()


def _cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, (args, result.output)
    return result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("roundtrip")
    made = fx.make_all(base / "made")
    made["gazette"] = fx.make_text_pdf(base / "made" / "青岚公报2024第2期.pdf", fx.QINGLAN_GAZETTE)
    corpus, index = base / "corpus", base / "index"
    corpus.mkdir()
    shutil.copyfile(CORPUS / "2023-06.txt", corpus / "2023-06.txt")  # the bundled layout: an issue at the root
    common = ["--corpus", str(corpus), "--index", str(index)]
    _cli("index", "build", *common)
    out = _cli("index", "add", str(made["pdf"]), str(made["docx"]), str(made["html"]), str(made["md"]),
               "--collection", "青岚市政府文件", *common)
    assert "青岚市政府文件/绿化通知.pdf" in out
    _cli("index", "add", str(made["scan"]), str(made["png"]), "--collection", "扫描件", *common)
    out = _cli("index", "add", str(made["gazette"]), str(made["txt"]), *common)  # no collection given
    assert "青岚市人民政府公报/2024-02.pdf" in out and "本单位文件/会议通知.txt" in out
    from qa.service import GazetteService

    settings = Settings(corpus_dir=corpus, index_dir=index)
    service = GazetteService.load(settings, build_if_missing=False)
    return {"made": made, "corpus": corpus, "index": index, "common": common, "service": service, "settings": settings}


def _squash(text: str) -> str:
    return "".join(text.split())


def _at(corpus: Path, hit: dict) -> str:
    """The file's own text at the cited place: page/lines for paged sources, else lines."""
    text = read_file(corpus / hit["source_file"])
    if hit["page_start"]:
        span = [(hit["page_start"], hit["page_line_start"]), (hit["page_end"], hit["page_line_end"])]
        keep = [ln for ln, p, n in zip(text.lines, text.pages, text.page_lines) if span[0] <= (p, n) <= span[1]]
    else:
        keep = text.lines[hit["line_start"] - 1: hit["line_end"]]
    return _squash("".join(keep))


QUESTIONS = [  # question, corpus file, words the answer must give, collection
    ("青岚市建成区绿化覆盖率要达到多少？", "青岚市政府文件/绿化通知.pdf", "45%", "青岚市政府文件"),
    ("青岚市每年新建多少个口袋公园？", "青岚市政府文件/绿化通知.pdf", "20", "青岚市政府文件"),
    ("青岚市图书馆每周开放多少小时？", "青岚市政府文件/图书馆规定.docx", "72", "青岚市政府文件"),
    ("青岚市居民生活用水第一阶梯年用水量是多少？", "青岚市政府文件/节水通知.html", "180", "青岚市政府文件"),
    ("青岚市公共数据开放目录由哪个单位发布？", "青岚市政府文件/数据管理办法.md", "大数据中心", "青岚市政府文件"),
    ("青岚市大气污染防治专项检查什么时候开始？", "扫描件/大气检查扫描件.pdf", "5月6日", "扫描件"),
    ("青岚市月最低工资标准调整为多少？", "青岚市人民政府公报/2024-02.pdf", "2100", "青岚市人民政府公报"),
]


@pytest.mark.parametrize("question, source, words, collection", QUESTIONS)
def test_made_documents_are_answered_with_page_and_line_citations(world, question, source, words, collection):
    result = world["service"].ask(question).to_dict()
    assert result["answered"], result["answer"]
    assert words in _squash(result["answer"]), result["answer"]
    cited = [c for c in result["citations"] if c["source_file"] == source]
    assert cited, [c["source_file"] for c in result["citations"]]
    c = cited[0]
    assert c["collection"] == collection
    assert _squash(c["cite_text"]) in _at(world["corpus"], c)  # the cited place holds the cited text
    if source.endswith(".pdf"):
        assert c["page_start"] >= 1 and c["page_line_start"] >= 1


def test_scan_and_image_were_read_by_ocr_and_found(world):
    hits = world["service"].search("周启明 任命 水务局副局长", top_k=5)
    top = next(h for h in hits if h.chunk.source_file == "扫描件/任免通知.png")
    assert top.chunk.page_start == 1 and top.chunk.collection == "扫描件"
    stats = json.loads(_cli("corpus", "stats", "--json", "--corpus", str(world["corpus"])))
    ocr = {s["source_file"]: s for s in stats["per_issue"] if s["ocr_pages"]}
    assert set(ocr) == {"扫描件/大气检查扫描件.pdf", "扫描件/任免通知.png"}
    memo = next(s for s in stats["per_issue"] if s["source_file"] == "本单位文件/会议通知.txt")
    assert memo["missing"] == ["标题", "文号", "日期", "章节"] and stats["missing"]["文号"] == 1


def test_collection_filter_in_search_ask_and_cli(world):
    service = world["service"]
    q = "青岚市月最低工资标准调整为多少？"
    hits = service.search(q, top_k=5, filters={"collection": "青岚市人民政府公报"})
    assert hits and all(h.chunk.collection == "青岚市人民政府公报" for h in hits)
    other = service.ask(q, filters={"collection": "阳泉市人民政府公报"}).to_dict()
    assert all(c["collection"] == "阳泉市人民政府公报" for c in other["citations"] + other["related"])
    assert "2100" not in other["answer"]
    out = json.loads(_cli("search", q, "--collection", "青岚市人民政府公报", "--json", "--index", str(world["index"])))
    assert out["hits"] and {h["collection"] for h in out["hits"]} == {"青岚市人民政府公报"}
    yq = service.search("电动汽车充电基础设施", top_k=3, filters={"collection": "阳泉市人民政府公报"})
    assert yq and yq[0].chunk.source_file == "2023-06.txt" and yq[0].chunk.page_start == 0


def test_index_stats_and_api_list_collections_and_documents(world):
    stats = json.loads(_cli("index", "stats", "--json", "--index", str(world["index"])))
    names = {c["name"]: c for c in stats["collections"]}
    assert set(names) == {"阳泉市人民政府公报", "青岚市政府文件", "扫描件", "青岚市人民政府公报", "本单位文件"}
    assert names["阳泉市人民政府公报"]["documents"] == 16 and names["青岚市政府文件"]["files"] == 4
    assert names["青岚市人民政府公报"]["documents"] == 3

    from fastapi.testclient import TestClient

    from qa.api.app import create_app

    with TestClient(create_app(world["service"], world["settings"]), raise_server_exceptions=True) as client:
        got = client.get("/v1/collections").json()["collections"]
        assert {c["name"]: c["chunks"] for c in got} == {n: c["chunks"] for n, c in names.items()}
        hits = client.post("/v1/search", json={"question": "图书馆开放时间", "filters": {"collection": "青岚市政府文件"}}).json()["hits"]
        assert hits and all(h["collection"] == "青岚市政府文件" for h in hits)
        key = next(h["doc_key"] for h in hits if h["source_file"].endswith(".docx"))
        doc = client.get(f"/v1/documents/{quote(key, safe='')}").json()
        assert doc["doc_number"] == "青文旅发〔2024〕5号" and doc["kind"] == "document" and doc["collection"] == "青岚市政府文件"
        assert [s["heading"] for s in doc["sections"]][:2] == ["第一章 总则", "第二章 开放时间"]
        assert client.get(f"/v1/documents/{key.replace('#', '-')}").json()["doc_key"] == key
        pdf_hit = client.post("/v1/search", json={"question": "口袋公园", "filters": {"collection": "青岚市政府文件"}}).json()["hits"][0]
        pdf_doc = client.get(f"/v1/documents/{quote(pdf_hit['doc_key'], safe='')}").json()
        assert {p["page"] for p in pdf_doc["paragraphs"]} == {1, 2}
        issues = client.get("/v1/issues").json()["issues"]
        assert sorted(i["source_file"] for i in issues) == ["2023-06.txt", "青岚市人民政府公报/2024-02.pdf"]
        assert client.get("/v1/ask", params={}).status_code in (404, 405)
        bad = client.post("/v1/search", json={"question": "x", "filters": {"collection": 5}})
        assert bad.status_code == 422


def test_source_panel_shows_page_and_lines(world):
    from qa.ui.render import sources_html

    result = world["service"].ask("青岚市每年新建多少个口袋公园？").to_dict()
    html = sources_html(result, 1, world["service"].document)
    assert "青岚市政府文件/绿化通知.pdf 第" in html and "页第" in html and "青岚市政府文件" in html


def test_replacing_needs_replace_and_keeps_the_old_file(world, tmp_path):
    made, corpus, common = world["made"], world["corpus"], world["common"]
    changed = tmp_path / "节水通知.html"
    changed.write_text(fx.WATER_HTML.replace("180", "200"), encoding="utf-8")
    before = (corpus / "青岚市政府文件" / "节水通知.html").read_bytes()
    out = _cli("index", "add", str(changed), "--collection", "青岚市政府文件", *common, code=2)
    assert "--replace" in out and (corpus / "青岚市政府文件" / "节水通知.html").read_bytes() == before
    _cli("index", "add", str(made["html"]), "--collection", "青岚市政府文件", *common)  # same bytes: nothing to do
    bad = tmp_path / "坏文件.pdf"
    bad.write_bytes(b"%PDF-1.4\nbroken")
    out = _cli("index", "add", str(made["md"]), str(bad), "--collection", "收文", *common, code=2)
    assert "坏文件.pdf" in out and not (corpus / "收文").exists()
