"""Reading files (qa.ingest) and the single-document parser, on files the tests make (tests/ingest_fixtures.py):
kinds told by content, pages and lines of PDFs, title/文号/date/sections per kind, what is missing, gazette
issues as PDF, collections by folder, corpus names for incoming files, corpus changes with folders."""
from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import ingest_fixtures as fx  # noqa: E402

from qa.corpus.chunker import chunk_file  # noqa: E402
from qa.corpus.files import corpus_files  # noqa: E402
from qa.corpus.intake import IntakeError, check_collection, plan_additions  # noqa: E402
from qa.corpus.parser import parse_issue  # noqa: E402
from qa.corpus.sources import load_source  # noqa: E402
from qa.ingest import UnsupportedFile, detect_kind, read_file  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return fx.make_all(tmp_path_factory.mktemp("made"), ocr=False)


def _headings(sections, out=None) -> list[str]:
    out = [] if out is None else out
    for s in sections:
        out.append(s.heading)
        _headings(s.children, out)
    return out


# ---- kinds by content ---------------------------------------------------------------------------------

def test_kind_is_told_by_content_not_by_name(files, tmp_path):
    expected = {"pdf": "pdf", "docx": "docx", "html": "html", "md": "markdown", "txt": "text"}
    for key, kind in expected.items():
        assert detect_kind(files[key]) == kind
        disguised = tmp_path / f"{key}.dat"  # a misleading or missing extension changes nothing
        shutil.copyfile(files[key], disguised)
        assert detect_kind(disguised) == (kind if key != "md" else "markdown")
    png = fx.make_png(tmp_path / "x.bin", ["青岚"])
    assert detect_kind(png) == "image"
    gazette = CORPUS / "2023-06.txt"
    assert detect_kind(gazette) == "text"  # a gazette text with a stray HTML fragment is still text


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"\x00\x01\x02binary\x00junk" * 20, "not a supported kind"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old binary Office"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le"), "encrypted"),
])
def test_unsupported_files_say_why(tmp_path, content, needle):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(content)
    with pytest.raises(UnsupportedFile, match=needle):
        read_file(bad)


def test_encrypted_damaged_and_foreign_zip_files_are_refused(tmp_path):
    locked = fx.make_text_pdf(tmp_path / "locked.pdf", ["青岚市保密文件"], encrypt="secret")
    with pytest.raises(UnsupportedFile, match="encrypted"):
        read_file(locked)
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.7\n" + b"garbage" * 50)
    with pytest.raises(UnsupportedFile, match="PDF"):
        read_file(damaged)
    z = tmp_path / "archive.docx"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "not word")
    with pytest.raises(UnsupportedFile, match="not a Word document"):
        read_file(z)


# ---- PDF pages and lines ------------------------------------------------------------------------------

def test_text_pdf_keeps_pages_and_lines_on_each_page(files):
    text = read_file(files["pdf"])
    assert text.kind == "pdf" and text.n_pages == 2 and not text.ocr_pages
    n = next(i for i, ln in enumerate(text.lines, 1) if ln.startswith("（二）推进口袋公园建设"))
    assert text.page_of(n) == (2, 1)  # the first line of page 2
    n = next(i for i, ln in enumerate(text.lines, 1) if ln == "青政办发〔2024〕7号")
    assert text.page_of(n) == (1, 3)


def text_at(path: Path, chunk) -> str:
    """The PDF's own lines from (page_start, page_line_start) to (page_end, page_line_end), squashed."""
    text = read_file(path)
    keep = [ln for ln, p, n in zip(text.lines, text.pages, text.page_lines)
            if (chunk.page_start, chunk.page_line_start) <= (p, n) <= (chunk.page_end, chunk.page_line_end)]
    return "".join("".join(keep).split())


def test_pdf_chunks_cite_page_and_lines_on_the_page(files):
    chunks = chunk_file(files["pdf"])
    assert all(c.page_start >= 1 and c.page_end >= c.page_start for c in chunks)
    for c in chunks:  # page and lines point at exactly the cited text
        assert "".join(c.text.split()) in text_at(files["pdf"], c) or c.chunk_type == "card"
    hit = next(c for c in chunks if "口袋公园" in c.text and c.chunk_type != "card")
    assert hit.page_end == 2
    assert "每年新建口袋公园不少于20个" in text_at(files["pdf"], hit)


# ---- one parser, every kind ---------------------------------------------------------------------------

@pytest.mark.parametrize("key, title, number, date, issuer, addressee, headings", [
    ("pdf", "青岚市人民政府办公室关于加强城市绿化管理的通知", "青政办发〔2024〕7号", "2024-03-15", "青岚市人民政府办公室",
     "各区人民政府，市直各单位", ["一、总体要求", "二、工作措施", "（一）严格绿线管理", "三、监督考核"]),
    ("docx", "关于印发青岚市公共图书馆开放服务规定的通知", "青文旅发〔2024〕5号", "2024-02-20", "青岚市文化和旅游局",
     "各区文化和旅游局", ["第一章 总则", "第二章 开放时间"]),
    ("html", "关于做好城市节约用水工作的通知", "青水务发〔2024〕9号", "2024-06-03", "青岚市水务局",
     "各区水务局，市直各单位", ["1. 阶梯水价", "2. 节水器具", "（1）新建住宅必须安装节水型器具"]),
    ("md", "青岚市公共数据资源管理办法", "青政规〔2024〕2号", "2024-01-10", "青岚市人民政府", "",
     ["第一章 总则", "第二章 共享与开放"]),
])
def test_single_document_of_each_kind(files, key, title, number, date, issuer, addressee, headings):
    issue = load_source(files[key])
    assert issue.kind == "document" and len(issue.documents) == 1
    doc = issue.documents[0]
    assert (doc.title, doc.doc_number, doc.date, doc.issuer, doc.addressee) == (title, number, date, issuer, addressee)
    got = _headings(doc.sections)
    assert all(any(g.startswith(h) for g in got) for h in headings), got
    assert doc.missing == []
    assert doc.key.startswith("d") and doc.key.endswith("#01")
    chunks = chunk_issue_of(files[key])
    assert chunks[0].chunk_type == "card" and number in chunks[0].embed_text
    assert all(c.doc_key == doc.key and c.year == int(date[:4]) for c in chunks)


def chunk_issue_of(path: Path):
    return chunk_file(path)


def test_pdf_disclosure_and_word_roster(files):
    assert load_source(files["pdf"]).documents[0].disclosure == "此件公开发布"
    doc = load_source(files["docx"]).documents[0]
    rows = [p for p in doc.paragraphs if p.kind == "table"]
    assert any("组长" in p.readable and "林晓舟" in p.readable and "领导小组" in p.readable for p in rows)
    chunks = chunk_file(files["docx"])
    assert any(c.chunk_type == "table" and "林晓舟" in c.text for c in chunks)


def test_a_document_with_nothing_is_still_indexed_and_says_what_is_missing(files):
    issue = load_source(files["txt"])
    doc = issue.documents[0]
    assert doc.title == "会议通知" and doc.doc_number == "" and doc.date == "" and doc.sections == []
    assert doc.missing == ["标题", "文号", "日期", "章节"]
    chunks = chunk_file(files["txt"])
    body = [c for c in chunks if c.chunk_type != "card"]
    assert body and any("安全生产例会" in c.text for c in body) and all(c.year == 0 for c in chunks)


def test_chinese_numeral_signature_date(files):
    assert load_source(files["docx"]).documents[0].date == "2024-02-20"


def test_declared_headings_without_numbering_make_sections(tmp_path):
    md = tmp_path / "plan.md"
    md.write_text("# 青岚市旅游发展规划\n\n## 发展目标\n\n游客人数年均增长百分之八。\n\n## 保障措施\n\n设立旅游发展专项资金。\n",
                  encoding="utf-8")
    doc = load_source(md).documents[0]
    assert doc.title == "青岚市旅游发展规划"
    assert [s.heading for s in doc.sections] == ["发展目标", "保障措施"]
    para = next(p for p in doc.paragraphs if "专项资金" in p.text)
    assert para.section_path == ("保障措施",)


# ---- gazette issues as PDF -----------------------------------------------------------------------------

def test_another_citys_gazette_as_pdf(tmp_path):
    pdf = fx.make_text_pdf(tmp_path / "qinglan.pdf", fx.QINGLAN_GAZETTE)
    issue = load_source(pdf)
    assert issue.kind == "gazette" and issue.issue == "2024-02" and issue.total_number == 38
    assert issue.masthead == "青岚市人民政府公报" and issue.collection == "青岚市人民政府公报"
    assert issue.publish_date == "2024-04-30" and issue.n_pages == 3
    assert [d.doc_number for d in issue.documents] == ["青政发〔2024〕4号", "青政发〔2024〕6号", "青政办发〔2024〕11号"]
    wage = issue.documents[1]
    assert wage.title == "青岚市人民政府关于调整最低工资标准的通知" and wage.date == "2024-03-08"
    assert wage.category == "市政府文件"
    assert issue.documents[2].paragraphs[0].page == 3


def test_bundled_issue_as_pdf_parses_like_its_text(tmp_path):
    txt = CORPUS / "2023-06.txt"
    pdf = fx.make_text_pdf(tmp_path / "2023-06.pdf", fx.printed_lines(txt.read_text(encoding="utf-8")))
    from_pdf, from_txt = load_source(pdf), parse_issue(txt)
    assert from_pdf.kind == "gazette" and from_pdf.n_pages >= 1
    assert [d.doc_number for d in from_pdf.documents] == [d.doc_number for d in from_txt.documents]
    assert [d.title for d in from_pdf.documents] == [d.title for d in from_txt.documents]
    assert [d.date for d in from_pdf.documents] == [d.date for d in from_txt.documents]


# ---- collections and corpus names ----------------------------------------------------------------------

def test_collections_are_folders_and_the_bundled_gazette_is_one(tmp_path, files):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copyfile(CORPUS / "2023-06.txt", corpus / "2023-06.txt")
    (corpus / "本单位文件").mkdir()
    shutil.copyfile(files["docx"], corpus / "本单位文件" / "图书馆规定.docx")
    (corpus / "removed").mkdir()
    shutil.copyfile(files["md"], corpus / "removed" / "old.md")
    (corpus / ".undo-x").mkdir()
    shutil.copyfile(files["md"], corpus / ".undo-x" / "x.md")
    (corpus / "manifest.json").write_text("[]", encoding="utf-8")
    rels = [p.relative_to(corpus).as_posix() for p in corpus_files(corpus)]
    assert rels == ["2023-06.txt", "本单位文件/图书馆规定.docx"]
    by_file = {c.source_file: c for p in corpus_files(corpus) for c in chunk_file(p, corpus)}
    assert by_file["2023-06.txt"].collection == "阳泉市人民政府公报"
    assert by_file["2023-06.txt"].doc_key.startswith("2023-06#")  # bundled keys unchanged
    assert by_file["本单位文件/图书馆规定.docx"].collection == "本单位文件"


def test_incoming_files_get_corpus_names(tmp_path, files):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copyfile(CORPUS / "2023-06.txt", corpus / "2023-06.txt")
    qinglan = fx.make_text_pdf(tmp_path / "青岚公报.pdf", fx.QINGLAN_GAZETTE)
    same_city = tmp_path / "incoming.txt"
    same_city.write_text((CORPUS / "2023-06.txt").read_text(encoding="utf-8"), encoding="utf-8")
    plan = {p.src.name: p for p in plan_additions([qinglan, files["docx"], files["txt"], same_city], corpus)}
    assert plan["青岚公报.pdf"].name == "青岚市人民政府公报/2024-02.pdf"  # another gazette: its masthead's folder
    assert plan["青岚公报.pdf"].kind == "gazette" and plan["青岚公报.pdf"].pages == 3
    assert plan["图书馆规定.docx"].name == "本单位文件/图书馆规定.docx"  # default collection
    assert plan["会议通知.txt"].missing == ["标题", "文号", "日期", "章节"]
    assert plan["incoming.txt"].name == "2023-06.txt"  # the bundled gazette stays at the root
    as_pdf = fx.make_text_pdf(tmp_path / "2023-06.pdf", (CORPUS / "2023-06.txt").read_text(encoding="utf-8").split("\n")[:400])
    p = plan_additions([as_pdf], corpus)[0]
    assert p.name == "2023-06.pdf" and p.supersedes == ["2023-06.txt"]
    named = plan_additions([files["html"]], corpus, "青岚市政府网站")[0]
    assert named.name == "青岚市政府网站/节水通知.html" and named.collection == "青岚市政府网站"


def test_incoming_folders_and_refusals(tmp_path, files):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    shutil.copyfile(files["md"], folder / "sub" / "办法.md")
    shutil.copyfile(files["html"], folder / "网页.htm")
    (folder / "notes.xyz").write_text("ignored", encoding="utf-8")
    plan = plan_additions([folder], corpus, "收文")
    assert sorted(p.name for p in plan) == ["收文/办法.md", "收文/网页.htm"]
    for bad in ("", "a/b", "removed", ".hidden", "x" * 65):
        with pytest.raises(IntakeError):
            check_collection(bad)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(IntakeError, match="empty"):
        plan_additions([files["md"], empty], corpus)


# ---- corpus changes with collections (qa.index.manage on the real chunker, a hash encoder) -------------

def test_ingest_files_into_collections_replace_and_undo(tmp_path, files):
    from index_fixtures import HashEncoder

    from qa.index.builder import IndexBuilder
    from qa.index.manage import CorpusChangeError, ingest_files, remove_files
    from qa.index.store import IndexStore

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copyfile(CORPUS / "2023-06.txt", corpus / "2023-06.txt")

    def update(enc=None):
        return lambda: IndexBuilder(index, enc or HashEncoder(), normalizer_version="t").update(corpus)

    update()()
    plan, change = ingest_files(index, corpus, [files["docx"], files["md"]], update(), collection="青岚文件")
    assert change.added == ["青岚文件/图书馆规定.docx", "青岚文件/数据管理办法.md"]
    store = IndexStore.load(index)
    assert {c.collection for c in store.chunks} == {"阳泉市人民政府公报", "青岚文件"}
    # The same issue as a PDF supersedes the .txt: refused, then done with replace (the .txt kept in removed/).
    pdf = fx.make_text_pdf(tmp_path / "2023-06.pdf", fx.printed_lines((CORPUS / "2023-06.txt").read_text(encoding="utf-8")))
    with pytest.raises(CorpusChangeError, match="--replace"):
        ingest_files(index, corpus, [pdf], update())
    assert (corpus / "2023-06.txt").is_file() and not (corpus / "2023-06.pdf").exists()
    plan, change = ingest_files(index, corpus, [pdf], update(), replace=True)
    assert change.added == ["2023-06.pdf"] and change.removed == ["2023-06.txt"]
    assert (corpus / "removed" / "2023-06.txt").is_file()
    store = IndexStore.load(index)
    assert {c.source_file for c in store.chunks if c.collection == "阳泉市人民政府公报"} == {"2023-06.pdf"}
    assert all(c.page_start >= 1 for c in store.chunks if c.source_file == "2023-06.pdf")
    # A failing index step leaves the corpus as it was, new collection folder included.
    from test_index import FailingEncoder

    with pytest.raises(RuntimeError, match="crashed"):
        ingest_files(index, corpus, [files["html"]], update(FailingEncoder()), collection="新集合")
    assert not (corpus / "新集合").exists()
    change = remove_files(index, corpus, ["青岚文件/数据管理办法.md"], update())
    assert change.removed == ["青岚文件/数据管理办法.md"] and (corpus / "removed" / "青岚文件" / "数据管理办法.md").is_file()
    assert "青岚文件/数据管理办法.md" not in {c.source_file for c in IndexStore.load(index).chunks}


def test_ui_collection_filter_and_page_location():
    from qa.ui.gradio_app import ALL, NO_COLLECTION, GazetteUI
    from qa.ui.render import location

    assert GazetteUI._filters(ALL, ALL, ALL, "青岚市政府文件") == {"collection": "青岚市政府文件"}
    assert GazetteUI._filters(ALL, ALL, ALL, NO_COLLECTION) == {"collection": ""}
    assert GazetteUI._filters(ALL, ALL, ALL, ALL) is None
    paged = {"page_start": 2, "page_end": 2, "page_line_start": 3, "page_line_end": 7, "line_start": 40, "line_end": 44}
    assert location(paged) == "第2页第3–7行"
    assert location({**paged, "page_end": 3, "page_line_end": 1}) == "第2页第3行–第3页第1行"
    assert location({"page_start": 0, "line_start": 40, "line_end": 44}) == "第40–44行"
