"""MilvusStore end to end on the bundled corpus, with the real encoder: Milvus Lite in-process on a
file (build -> search -> ask), and a Milvus Lite server (`milvus-lite server`, started here on a free
port and stopped by PID) shared by two `qa serve` replicas, where a document added or removed by an
indexing process is seen by both. The store contract itself is tests/test_stores.py."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite")

from qa.config import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
BIN = Path(sys.executable).parent
AGE_Q = "共享单车用户的年龄有什么要求？"
BIKE_FILE = "2022-03.txt"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port} after {timeout_s} s")


def stop(proc: subprocess.Popen) -> None:
    """By PID: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def local_index(tmp_path_factory) -> Path:
    """The shared test index (QA_TEST_INDEX_DIR, built by `make test`) or one built here."""
    from qa.service import build_index

    reuse = os.environ.get("QA_TEST_INDEX_DIR")
    index_dir = Path(reuse) if reuse else tmp_path_factory.mktemp("local") / "index"
    if not (index_dir / "manifest.json").exists():
        build_index(Settings(index_dir=index_dir), show_progress=False)
    return index_dir


def check_answers(service, corpus: Path = CORPUS) -> None:
    hits = service.search(AGE_Q, top_k=5)
    assert any(h.chunk.source_file == BIKE_FILE for h in hits)
    r = service.ask(AGE_Q)
    assert r.answered and "16" in r.answer
    cited = r.citations[0].hit.chunk
    assert cited.source_file == BIKE_FILE
    # documents and issues come from the store
    issues = service.issues()
    assert {i["source_file"] for i in issues} == {p.name for p in corpus.glob("*.txt")}
    doc = service.document(cited.doc_key)
    assert doc and doc["doc_number"] == cited.doc_number and doc["source_file"] == BIKE_FILE
    assert cited.collection  # the gazette's masthead (ingest)
    hits = service.search("阳泉", top_k=3, filters={"year": 2022, "collection": cited.collection})
    assert hits and all(h.chunk.year == 2022 and h.chunk.collection == cited.collection for h in hits)
    assert service.search("阳泉", top_k=3, filters={"collection": "no-such-collection"}) == []


def test_file_mode_build_search_ask(tmp_path):
    """`QA_STORE=milvus` with a file URI: the service builds the index into Milvus Lite from a corpus of two
    of the bundled issues (real chunker and encoder; two keep the embedding to a minute), then answers from
    it alone."""
    from qa.service import GazetteService

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (BIKE_FILE, "2021-01.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    settings = Settings(store="milvus", milvus_uri=str(tmp_path / "milvus.db"), index_dir=tmp_path / "unused",
                        corpus_dir=corpus)
    service = GazetteService.load(settings)
    assert not (tmp_path / "unused").exists()  # nothing written to a local index
    assert service.searcher.store.count() == service.searcher.store.manifest.chunk_count > 300
    check_answers(service, corpus)


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("milvus-server")
    port = free_port()
    proc = subprocess.Popen([str(BIN / "milvus-lite"), "server", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def qa_env(uri: str, corpus: Path) -> dict:
    return {**os.environ, "QA_STORE": "milvus", "QA_MILVUS_URI": uri, "QA_CORPUS_DIR": str(corpus),
            "QA_INDEX_DIR": str(corpus.parent / "no-local-index"), "PYTHONPATH": str(ROOT)}


def http_json(url: str, body: dict | None = None, timeout: float = 120) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


def cited_files(url: str) -> set[str]:
    d = http_json(url + "/v1/ask", {"question": AGE_Q})
    return {c["source_file"] for c in d["citations"]} if d["answered"] else set()


def eventually(fn, timeout_s: float = 30):
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(1.0)


def test_server_mode_two_replicas_see_each_others_changes(tmp_path, milvus_server, local_index):
    """One Milvus Lite server; the local test index copied in (no re-embedding); two `qa serve`
    replicas; an indexing process removes and adds the bike-sharing issue: both replicas follow."""
    from qa.index.milvus_store import MilvusStore
    from qa.index.store import LocalStore

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    MilvusStore.at(milvus_server).copy_from(LocalStore.load(local_index), corpus)
    env = qa_env(milvus_server, corpus)
    ports = [free_port(), free_port()]
    replicas = [subprocess.Popen([str(BIN / "qa"), "serve", "--port", str(p)], env=env, cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url, proc in zip(urls, replicas):
            wait_ready(url, proc)
        assert all(BIKE_FILE in cited_files(u) for u in urls)
        assert BIKE_FILE in {i["source_file"] for i in http_json(urls[1] + "/v1/issues")["issues"]}

        # An indexing job (a third process) removes the issue: neither replica cites it any more.
        subprocess.run([str(BIN / "qa"), "index", "remove", BIKE_FILE], env=env, check=True, cwd=tmp_path,
                       capture_output=True, timeout=300)
        for url in urls:
            assert eventually(lambda: BIKE_FILE not in cited_files(url)), url
            assert BIKE_FILE not in {i["source_file"] for i in http_json(url + "/v1/issues")["issues"]}
        # ... and adds it back (only its chunks embedded): both answer from it again.
        subprocess.run([str(BIN / "qa"), "index", "add", str(corpus / "removed" / BIKE_FILE)], env=env, check=True,
                       cwd=tmp_path, capture_output=True, timeout=600)
        for url in urls:
            assert eventually(lambda: BIKE_FILE in cited_files(url)), url
            assert BIKE_FILE in {i["source_file"] for i in http_json(url + "/v1/issues")["issues"]}
    finally:
        for proc in replicas:
            stop(proc)


def test_eval_figures_match_the_local_store_on_a_subset(tmp_path, local_index):
    """The same chunks and vectors in both stores answer a spread subset of the eval set (every 8th
    question) with the same figures: within 0.01, or one question where the subset is too small for
    0.01 to mean anything. benchmarks/store_compare.py runs the whole set (README)."""
    from qa.answer.similarity import CachedEncoder
    from qa.evaluation.items import load_items
    from qa.evaluation.runner import evaluate
    from qa.evaluation.systems import ServiceSystem
    from qa.index.milvus_store import MilvusStore
    from qa.index.search import HybridSearcher
    from qa.index.store import LocalStore
    from qa.service import GazetteService, make_encoder

    settings = Settings(index_dir=local_index)
    encoder = make_encoder(settings)
    local = LocalStore.load(local_index)
    milvus = MilvusStore.at(str(tmp_path / "milvus.db"))
    milvus.copy_from(local, CORPUS)
    items = load_items(ROOT / "eval" / "questions.jsonl")[::8]
    figures = {}
    for name, store in (("local", local), ("milvus", milvus)):
        cached = CachedEncoder(encoder)
        service = GazetteService(settings.model_copy(update={"store": name}), cached,
                                 HybridSearcher(store, cached, settings))
        figures[name] = evaluate(ServiceSystem(service), items, progress=False).figures()["overall"]
    n_ans = sum(i.answerable for i in items)
    one = {"hit@5": 1 / n_ans, "mrr@10": 1 / n_ans, "accuracy": 1 / len(items), "refusal_rate": 1 / (len(items) - n_ans)}
    for key, q in one.items():
        a, b = figures["local"][key], figures["milvus"][key]
        assert abs(a - b) <= max(0.01, q) + 1e-9, (key, a, b)
