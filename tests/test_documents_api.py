"""POST/DELETE /v1/documents through the real app and service, on a small index built with the real encoder
from notices these tests make (documents_support): upload, found and cited, delete, replace, and every refusal
(size, kind, empty, encrypted, damaged, collection name, conflict, busy, API key) leaving corpus and index as
they were, byte for byte."""
from __future__ import annotations

import io
import threading
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from documents_support import (
    COLLECTION, FIRE_FACT, FIRE_HTML, FIRE_Q, GAS_FACT, GAS_FILE, GAS_Q, HALL_FACT, HALL_LINES, HALL_Q, HALL_TITLE,
    SCAN_FACT, SCAN_Q, WATER_FACT, WATER_MD, WATER_Q, build_small_index, scanned_png, corpus_state, encrypted_pdf, index_state, small_service,
    write_docx,
)
from documents_support import real_encoder  # noqa: F401 - the session's encoder fixture

pytestmark = pytest.mark.slow

MAX_UPLOAD = 200_000


@pytest.fixture(scope="module")
def small(tmp_path_factory, real_encoder):
    root = tmp_path_factory.mktemp("docs-api")
    # Its own cache of extracted text, so the scan is read by OCR here, not found in an earlier run's cache.
    settings = build_small_index(root, real_encoder, max_upload_bytes=MAX_UPLOAD, reload_interval_s=0,
                                 cache_dir=root / "cache")
    return settings, small_service(settings, real_encoder)


@pytest.fixture(scope="module")
def client(small):
    from fastapi.testclient import TestClient

    from qa.api.app import create_app

    settings, service = small
    with TestClient(create_app(service, settings), raise_server_exceptions=True) as c:
        yield c


def _docx_bytes(tmp_path: Path) -> bytes:
    return write_docx(tmp_path / "hall.docx", HALL_TITLE, HALL_LINES).read_bytes()


def _search_files(client, query: str, collection: str | None = None) -> list[str]:
    body = {"question": query, "top_k": 5}
    r = client.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    return [h["source_file"] for h in r.json()["hits"]]


def _ask(client, question: str) -> dict:
    r = client.post("/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def test_upload_is_found_answered_with_a_citation_then_deleted(client, small, tmp_path) -> None:
    settings, _ = small
    files = [("files", ("饮水.md", WATER_MD.encode(), "text/markdown")),
             ("files", ("森林防火.html", FIRE_HTML.encode(), "text/html")),
             ("files", ("周末办理.docx", _docx_bytes(tmp_path), "application/octet-stream"))]
    r = client.post("/v1/documents", files=files, data={"collection": COLLECTION})
    assert r.status_code == 201, r.text
    out = r.json()
    names = {f"{COLLECTION}/饮水.md", f"{COLLECTION}/森林防火.html", f"{COLLECTION}/周末办理.docx"}
    assert set(out["added"]) == names and not out["replaced"] and out["chunks"] > 0 and out["embedded"] > 0
    assert {f["reader"] for f in out["files"]} == {"markdown", "html", "docx"}
    assert {f["title"] for f in out["files"]} >= {HALL_TITLE}
    assert all(f["collection"] == COLLECTION and f["kind"] == "document" for f in out["files"])
    for name in names:
        assert (Path(settings.corpus_dir) / name).is_file()

    # Answerable as soon as the upload returned: no restart, no wait.
    for question, fact, name in ((WATER_Q, WATER_FACT, "饮水.md"), (FIRE_Q, FIRE_FACT, "森林防火.html"),
                                 (HALL_Q, HALL_FACT, "周末办理.docx")):
        assert f"{COLLECTION}/{name}" in _search_files(client, question)
        answer = _ask(client, question)
        assert answer["answered"] and fact in answer["answer"], answer["answer"]
        assert answer["citations"][0]["source_file"] == f"{COLLECTION}/{name}"
        assert fact in answer["citations"][0]["cite_text"]
    counts = {c["name"]: c for c in client.get("/v1/collections").json()["collections"]}
    assert counts[COLLECTION]["files"] == 4 and counts[COLLECTION]["documents"] == 4

    # Delete by corpus file: the file moves to removed/, its passages leave the index.
    r = client.delete(f"/v1/documents/{COLLECTION}/饮水.md")
    assert r.status_code == 200, r.text
    assert r.json()["removed"] == [f"{COLLECTION}/饮水.md"]
    assert not (Path(settings.corpus_dir) / COLLECTION / "饮水.md").exists()
    assert (Path(settings.corpus_dir) / "removed" / COLLECTION / "饮水.md").read_text(encoding="utf-8") == WATER_MD
    assert f"{COLLECTION}/饮水.md" not in _search_files(client, WATER_Q)
    answer = _ask(client, WATER_Q)
    assert all(c["source_file"] != f"{COLLECTION}/饮水.md" for c in answer["citations"])
    assert client.delete(f"/v1/documents/{COLLECTION}/饮水.md").status_code == 404
    assert client.delete("/v1/documents/no-such-file.md").status_code == 404

    # Delete by document key (a document that is a file by itself), as /v1/documents/{id} names it.
    fire = _ask(client, FIRE_Q)["citations"][0]
    assert fire["source_file"] == f"{COLLECTION}/森林防火.html"
    assert client.get(f"/v1/documents/{fire['doc_key'].replace('#', '-')}").status_code == 200
    r = client.delete(f"/v1/documents/{fire['doc_key'].replace('#', '-')}")
    assert r.status_code == 200 and r.json()["removed"] == [f"{COLLECTION}/森林防火.html"], r.text
    assert f"{COLLECTION}/森林防火.html" not in _search_files(client, FIRE_Q)
    # The rest is still there.
    assert _ask(client, HALL_Q)["citations"][0]["source_file"] == f"{COLLECTION}/周末办理.docx"


def test_replace_is_refused_then_accepted_with_replace_true(client, small) -> None:
    settings, _ = small
    v1 = ("# 云溪县关于调整公共自行车租用时间的通告\n\n公共自行车每日租用时间为早上六时至晚上九时。\n")
    v2 = ("# 云溪县关于调整公共自行车租用时间的通告\n\n公共自行车每日租用时间调整为早上五时半至晚上十时。\n")
    name = f"{COLLECTION}/自行车通告.md"
    r = client.post("/v1/documents", files=[("files", ("自行车通告.md", v1.encode(), "text/markdown"))],
                    data={"collection": COLLECTION})
    assert r.status_code == 201, r.text
    corpus_before, index_before = corpus_state(Path(settings.corpus_dir)), index_state(Path(settings.index_dir))

    r = client.post("/v1/documents", files=[("files", ("自行车通告.md", v2.encode(), "text/markdown"))],
                    data={"collection": COLLECTION})
    assert r.status_code == 409 and "replace" in r.json()["detail"], r.text
    assert corpus_state(Path(settings.corpus_dir)) == corpus_before
    assert index_state(Path(settings.index_dir)) == index_before

    r = client.post("/v1/documents", files=[("files", ("自行车通告.md", v2.encode(), "text/markdown"))],
                    data={"collection": COLLECTION, "replace": "true"})
    assert r.status_code == 201, r.text
    assert r.json()["replaced"] == [name]
    assert (Path(settings.corpus_dir) / name).read_text(encoding="utf-8") == v2
    hits = client.post("/v1/search", json={"question": "公共自行车每日租用时间", "top_k": 5}).json()["hits"]
    texts = "\n".join(h["cite_text"] for h in hits if h["source_file"] == name)
    assert "五时半" in texts and "早上六时" not in texts


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "not a word document")
    return buf.getvalue()


def _bad_cases(tmp_path: Path) -> dict[str, tuple[list, dict, int]]:
    pdf = encrypted_pdf(tmp_path / "locked.pdf").read_bytes()
    good = ("饮水2.md", WATER_MD.replace("十八处", "二十处").encode(), "text/markdown")
    return {
        "too large": ([("files", ("big.txt", "水".encode() * (MAX_UPLOAD // 3 + 10), "text/plain"))], {}, 413),
        "zip, not Word": ([("files", ("report.docx", _zip_bytes(), "application/octet-stream"))], {}, 415),
        "binary": ([("files", ("tool.pdf", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "application/pdf"))],
                   {}, 415),
        "old Word .doc": ([("files", ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "application/msword"))],
                          {}, 415),
        "empty": ([("files", ("empty.md", b"", "text/markdown"))], {}, 422),
        "blank": ([("files", ("blank.txt", b" \n\n\t \n", "text/plain"))], {}, 422),
        "encrypted PDF": ([("files", ("locked.pdf", pdf, "application/pdf"))], {}, 422),
        "damaged PDF": ([("files", ("broken.pdf", pdf[:300], "application/pdf"))], {}, 422),
        "damaged Word": ([("files", ("broken.docx", _docx_bytes(tmp_path)[:700], "application/octet-stream"))], {}, 422),
        "collection removed": ([("files", good)], {"collection": "removed"}, 422),
        "collection with a path": ([("files", good)], {"collection": "../outside"}, 422),
        "collection hidden": ([("files", good)], {"collection": ".secret"}, 422),
        "good file with a bad one": ([("files", good), ("files", ("locked.pdf", pdf, "application/pdf"))], {}, 422),
    }


def test_bad_uploads_are_refused_with_a_clear_4xx_and_change_nothing(client, small, tmp_path) -> None:
    settings, service = small
    corpus, index = Path(settings.corpus_dir), Path(settings.index_dir)
    corpus_before, index_before = corpus_state(corpus), index_state(index)
    loaded = client.app.state.holder.get()
    for case, (files, data, status) in _bad_cases(tmp_path).items():
        r = client.post("/v1/documents", files=files, data=data)
        assert r.status_code == status, (case, r.status_code, r.text)
        body = r.json()
        assert body["error"] and body["detail"], (case, body)
        assert "/tmp" not in str(body["detail"]), (case, body)  # no server paths in the message
        assert corpus_state(corpus) == corpus_before, case
        assert index_state(index) == index_before, case
        assert client.app.state.holder.get() is loaded, case
    assert "二十处" not in "\n".join(h["cite_text"] for h in client.post(
        "/v1/search", json={"question": "农村集中供水工程", "top_k": 10}).json()["hits"])


def test_upload_while_the_index_is_busy_is_a_503_with_retry_after(client, small) -> None:
    from qa.index.atomic import build_lock

    settings, _ = small
    corpus_before, index_before = corpus_state(Path(settings.corpus_dir)), index_state(Path(settings.index_dir))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another writer (as `qa index update` would be), in a thread of its own
        with build_lock(Path(settings.index_dir)):
            held.set()
            release.wait(60)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    try:
        assert held.wait(10)
        r = client.post("/v1/documents", files=[("files", ("饮水3.md", WATER_MD.encode(), "text/markdown"))])
        assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
        r = client.delete(f"/v1/documents/{GAS_FILE}")
        assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
    finally:
        release.set()
        t.join(10)
    assert corpus_state(Path(settings.corpus_dir)) == corpus_before
    assert index_state(Path(settings.index_dir)) == index_before
    assert GAS_FACT in _ask(client, GAS_Q)["answer"]


def test_documents_endpoints_need_the_api_key_when_one_is_set(small) -> None:
    from fastapi.testclient import TestClient

    from qa.api.app import create_app

    settings, service = small
    keyed = settings.model_copy(update={"api_key": "k-docs-test"})
    corpus_before, index_before = corpus_state(Path(settings.corpus_dir)), index_state(Path(settings.index_dir))
    with TestClient(create_app(service, keyed)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.post("/v1/documents", files=[("files", ("饮水4.md", WATER_MD.encode(), "text/markdown"))],
                       headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
            assert c.delete(f"/v1/documents/{GAS_FILE}", headers=headers).status_code == 401
        assert corpus_state(Path(settings.corpus_dir)) == corpus_before
        assert index_state(Path(settings.index_dir)) == index_before
        # With the key, the same delete goes through (and the file comes back in through the upload).
        auth = {"Authorization": "Bearer k-docs-test"}
        assert c.delete(f"/v1/documents/{GAS_FILE}", headers=auth).status_code == 200
        gas = (Path(settings.corpus_dir) / "removed" / GAS_FILE).read_bytes()
        r = c.post("/v1/documents", files=[("files", ("燃气安全管理.md", gas, "text/markdown"))],
                   data={"collection": COLLECTION}, headers=auth)
        assert r.status_code == 201 and r.json()["added"] == [GAS_FILE], r.text


def test_admin_tab_upload_of_a_scan_reports_ocr_progress_and_is_answered(client, small, tmp_path) -> None:
    """The 文档管理 tab's upload handler (the browser test drives it through the page): a scanned page goes
    through OCR with a progress report per page, then the chat path answers from it."""
    from qa.ui.admin import AdminUI

    settings, _ = small
    heard: list[tuple[float, str]] = []
    status, table = AdminUI(client.app.state.holder).upload(
        [str(scanned_png(tmp_path / "供暖检查.png"))], COLLECTION, False,
        progress=lambda frac, desc=None: heard.append((frac, desc)))
    assert "已添加 1 个文件" in status and "OCR 1 页" in status, status
    assert any("文字识别第 1 页" in (desc or "") for _, desc in heard), heard
    assert [f for f, _ in heard] == sorted(f for f, _ in heard) and heard[-1][0] < 1
    assert any(row[0] == f"{COLLECTION}/供暖检查.png" for row in table)
    answer = _ask(client, SCAN_Q)
    assert SCAN_FACT in answer["answer"] and answer["citations"][0]["source_file"] == f"{COLLECTION}/供暖检查.png"


def _documents_schema():
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    from qa.api.app import create_app
    from qa.config import Settings
    from qa.service import GazetteService

    config = SchemathesisConfig.from_str("""
[checks]
negative_data_rejection.expected-statuses = [400, 401, 404, 409, 413, 415, 422]
""")
    spec = create_app(GazetteService, Settings(), ui=False).openapi()  # never started: nothing loads
    return schemathesis.openapi.from_dict(spec, config=config).include(path_regex="^/v1/documents",
                                                                       method=["POST", "DELETE"])


documents_schema = _documents_schema()


@documents_schema.parametrize()
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_documents_endpoints_conform_to_their_schema_and_never_fail(case, client, small) -> None:
    """Fuzzed uploads and deletions on this module's scratch index: no 5xx, responses as documented. Most
    bytes are no document: refused with 4xx (positive_data_acceptance cannot know which bytes a reader takes).
    Nor can a multipart upload hold "negative" data: every part arrives as text or bytes, so a `collection`
    fuzzed to the integer -9881 is the name "-9881" and a `files` part fuzzed to a JSON object is a text file
    (CI saw both accepted with 201, rightly); negative_data_rejection is checked on DELETE only."""
    from schemathesis.checks import negative_data_rejection, positive_data_acceptance

    excluded = [positive_data_acceptance] + ([negative_data_rejection] if case.method == "POST" else [])
    response = case.call_and_validate(app=client.app, excluded_checks=excluded)
    assert response.status_code < 500


def test_a_gazette_issue_uploads_whole_and_is_deleted_only_whole(client, small) -> None:
    """Another city's gazette issue (ingest_fixtures' layout, as text): three documents in one file. A document
    key inside it cannot be deleted alone (409 naming the file); the file can."""
    from ingest_fixtures import QINGLAN_GAZETTE

    settings, _ = small
    text = "\n".join(line for line in QINGLAN_GAZETTE if line is not None) + "\n"
    r = client.post("/v1/documents", files=[("files", ("公报.txt", text.encode(), "text/plain"))])
    assert r.status_code == 201, r.text
    (item,) = r.json()["files"]
    assert item["kind"] == "gazette" and item["documents"] == 3 and item["collection"] == "青岚市人民政府公报", item
    name = item["file"]
    answer = _ask(client, "青岚市月最低工资标准调整为多少元？")
    assert "2100" in answer["answer"] and answer["citations"][0]["source_file"] == name, answer
    key = answer["citations"][0]["doc_key"].replace("#", "-")
    r = client.delete(f"/v1/documents/{key}")
    assert r.status_code == 409 and name in r.json()["detail"], r.text
    assert (Path(settings.corpus_dir) / name).is_file()
    r = client.delete(f"/v1/documents/{name}")
    assert r.status_code == 200 and r.json()["removed"] == [name], r.text
    assert all(h != name for h in _search_files(client, "青岚市最低工资标准"))


def test_a_delete_key_with_a_line_break_reaches_the_delete_route(client, small) -> None:
    """Starlette's `path` convertor stops at a line break, so such a key used to fall through to the GET route
    (405, found by the schema fuzz in CI). It is no document: 404; too long: 422."""
    r = client.delete("/v1/documents/%22%5B36B%0Aabc")
    assert r.status_code == 404, r.text
    r = client.delete("/v1/documents/a%0A" + "%C3%B3" * 400)
    assert r.status_code == 422, r.text
