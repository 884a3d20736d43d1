"""Index and search layer: build/load/search, atomic writes under crashes, incremental updates,
routes (document numbers, person names), filters, fusion, retriever.

Fast tests use the toy gazette and hashed n-gram encoder of index_fixtures.py (the index code is the
real one); the tests marked slow run on the real corpus with the real chunker and E5 model."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_fixtures import ISSUES, HashEncoder, chunk_file, chunker_for, write_corpus  # noqa: E402

from qa.index import (  # noqa: E402
    FusionParams, HybridSearcher, IndexBuilder, IndexMismatchError, IndexNotFoundError, IndexParams, IndexStore,
    SearchConfig,
)
from qa.index.atomic import old_path  # noqa: E402
from qa.index.acronyms import corpus_acronyms, expand_acronyms  # noqa: E402
from qa.index.fusion import fuse, ranks  # noqa: E402
from qa.index.lexical import FIXED_STOPWORDS, JiebaTokenizer, derive_stopwords  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = "test/hash-ngrams"
TOKENIZER = JiebaTokenizer()  # one loaded jieba dictionary for the whole module (0.8 s each otherwise)


def make_builder(index_dir: Path, corpus: Path, enc: HashEncoder | None = None, version: str = "t1", **kw) -> IndexBuilder:
    kw.setdefault("tokenizer", TOKENIZER)
    return IndexBuilder(index_dir, enc or HashEncoder(), normalizer_version=version, chunk_file=chunker_for(corpus), **kw)


def build(index_dir: Path, corpus: Path, enc: HashEncoder | None = None, **kw) -> IndexBuilder:
    b = make_builder(index_dir, corpus, enc, **kw)
    b.build(corpus)
    return b


def open_searcher(index_dir: Path, enc: HashEncoder | None = None, **kw) -> HybridSearcher:
    enc = enc or HashEncoder()
    kw.setdefault("tokenizer", TOKENIZER)
    return HybridSearcher(IndexStore.load(index_dir, enc.model_name, enc.dim), enc, **kw)


def all_chunks(corpus: Path):
    return [c for p in sorted(corpus.glob("*.txt")) for c in chunk_file(p, corpus)]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def built(tmp_path: Path, corpus: Path) -> Path:
    build(tmp_path / "index", corpus)
    return tmp_path / "index"


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """A read-only index for the tests that only search."""
    base = tmp_path_factory.mktemp("shared")
    build(base / "index", write_corpus(base / "corpus"))
    return base / "index"


@pytest.fixture(scope="module")
def searcher(shared: Path) -> HybridSearcher:
    return open_searcher(shared)


# ---- build, load, manifest -----------------------------------------------------------------------


def test_build_load_search(built: Path, corpus: Path) -> None:
    store = IndexStore.load(built, MODEL, 64)
    expected = all_chunks(corpus)
    assert [c.chunk_id for c in store.chunks] == [c.chunk_id for c in expected]
    assert store.chunks == expected  # every field survives the SQLite round trip
    assert store.vectors.shape == (len(expected), 64)
    np.testing.assert_allclose(np.linalg.norm(store.vectors, axis=1), 1.0, rtol=1e-5)

    hits = HybridSearcher(store, HashEncoder()).search("共享单车停放秩序", top_k=3)
    assert len(hits) == 3
    assert "共享单车" in hits[0].chunk.text
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert set(hits[0].scores) >= {"dense", "bm25", "fused", "route"}


def test_manifest_records_model_files_and_params(built: Path, corpus: Path) -> None:
    import hashlib

    m = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert m["model_name"] == MODEL and m["dim"] == 64
    assert m["normalizer_version"] == "t1"
    assert m["chunk_count"] == len(all_chunks(corpus))
    assert m["index_type"] == "flat"
    assert m["files"] == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.glob("*.txt")}
    assert m["created"] and m["updated"]
    assert not any(p.suffix in (".pkl", ".pickle") for p in built.iterdir())


def test_load_mismatch_names_both_models_and_dims(shared: Path) -> None:
    with pytest.raises(IndexMismatchError) as e:
        IndexStore.load(shared, expected_model="intfloat/multilingual-e5-small", expected_dim=384)
    msg = str(e.value)
    assert MODEL in msg and "intfloat/multilingual-e5-small" in msg
    assert "64" in msg and "384" in msg
    store = IndexStore.load(shared)
    with pytest.raises(IndexMismatchError, match="other/model"):
        HybridSearcher(store, HashEncoder(model_name="other/model"))
    with pytest.raises(IndexMismatchError, match="32"):
        make_builder(shared, shared.parent / "corpus", HashEncoder(dim=32)).update(shared.parent / "corpus")


def test_load_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError):
        IndexStore.load(tmp_path / "nothing")


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_index_types_match_flat_on_small_corpus(tmp_path: Path, corpus: Path, kind: str) -> None:
    build(tmp_path / "flat", corpus)
    build(tmp_path / kind, corpus, params=IndexParams(index_type=kind, ivf_nlist=1024, ivf_nprobe=1024))
    m = json.loads((tmp_path / kind / "manifest.json").read_text())
    assert m["index_type"] == kind
    if kind == "ivf":
        assert m["index_params"]["ivf_nlist"] == 1  # 24 chunks cannot train 1024 lists: clamped
    flat, ann = IndexStore.load(tmp_path / "flat"), IndexStore.load(tmp_path / kind)
    q = HashEncoder().encode_queries(["清洁取暖覆盖率"])[0]
    ids_f, s_f = flat.dense_search(q, 10)
    ids_a, s_a = ann.dense_search(q, 10)
    assert list(ids_f) == list(ids_a)
    np.testing.assert_allclose(s_f, s_a, rtol=1e-5)


# ---- atomic writes ---------------------------------------------------------------------------------


class FailingEncoder(HashEncoder):
    def encode_passages(self, texts, show_progress=False):
        raise RuntimeError("embedding model crashed")


def _chunk_ids(index_dir: Path) -> list[str]:
    return [c.chunk_id for c in IndexStore.load(index_dir).chunks]


def test_failed_build_keeps_old_index(built: Path, corpus: Path, tmp_path: Path) -> None:
    before = _chunk_ids(built)
    (corpus / "2024-01.txt").write_text(ISSUES["2023-06.txt"].replace("2023-06", "2024-01"), encoding="utf-8")
    with pytest.raises(RuntimeError, match="crashed"):
        make_builder(built, corpus, FailingEncoder()).build(corpus)
    assert _chunk_ids(built) == before
    assert open_searcher(built).search("共享单车", 1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".index.tmp")) == []


def _spawn(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "index_fixtures.py"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _expect_line(proc: subprocess.Popen, prefix: str) -> None:
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        proc.kill()
        pytest.fail(f"expected {prefix!r} from the build process, got {line!r}; stderr: {proc.stderr.read()}")


def test_kill_9_during_build_keeps_old_index(built: Path, corpus: Path, tmp_path: Path) -> None:
    before = _chunk_ids(built)
    other = write_corpus(tmp_path / "other", {"2019-01.txt": ISSUES["2023-06.txt"].replace("2023-06", "2019-01")})
    proc = _spawn("build-slow", str(built), str(other))  # its encoder sleeps 60 s: killed while embedding
    try:
        _expect_line(proc, "starting")
        _expect_line(proc, "embedding")
        assert any(".tmp-" in p.name for p in tmp_path.iterdir()) is False  # temp dir comes after embedding
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _chunk_ids(built) == before
    hits = open_searcher(built).search("共享单车停放", 1)
    assert "共享单车" in hits[0].chunk.text
    # The next build clears what the killed one left and succeeds.
    build(built, other)
    assert [c.issue for c in IndexStore.load(built).chunks] == ["2019-01"] * len(all_chunks(other))
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or p.name.endswith(".old")]


def test_kill_9_at_random_moments_never_breaks_the_index(tmp_path: Path) -> None:
    """A process rebuilds the index in a loop, alternating two corpora; kill -9 it at random points
    (so also while writing files or swapping dirs). The index must always load, as one of the two."""
    a = write_corpus(tmp_path / "a")
    b = write_corpus(tmp_path / "b", {k: v.replace("城区", "主城区") for k, v in ISSUES.items()})
    index = tmp_path / "index"
    build(index, a)
    valid = {tuple(c.chunk_id for c in all_chunks(a)), tuple(c.chunk_id for c in all_chunks(b))}
    rng = random.Random(7)
    kills_after_builds = 0
    for _ in range(6):
        proc = _spawn("build-forever", str(index), str(a), str(b))
        try:
            _expect_line(proc, "built")  # the first full build has finished: builds now run back to back
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills_after_builds += 1
        assert tuple(_chunk_ids(index)) in valid
        assert open_searcher(index).search("电子围栏", 1)
    assert kills_after_builds == 6


def test_swap_cut_between_renames_is_recovered(built: Path, corpus: Path, tmp_path: Path) -> None:
    """State after a crash between `index -> index.old` and `tmp -> index`: readers use .old, the next
    build restores it first and removes leftovers."""
    before = _chunk_ids(built)
    stale_tmp = tmp_path / ".index.tmp-deadbeef"
    shutil.copytree(built, stale_tmp)
    (stale_tmp / "manifest.json").unlink()  # a half-written build
    os.rename(built, old_path(built))
    assert _chunk_ids(built) == before  # falls back to index.old
    report = make_builder(built, corpus).update(corpus)
    assert report.mode == "noop" and report.n_embedded == 0  # recovered the old index, nothing to do
    assert (built / "manifest.json").is_file()
    assert not old_path(built).exists() and not stale_tmp.exists()


def test_concurrent_builds_are_refused(built: Path, corpus: Path, tmp_path: Path) -> None:
    other = write_corpus(tmp_path / "other", {"2019-01.txt": ISSUES["2023-06.txt"]})
    proc = _spawn("build-slow", str(built), str(other))
    try:
        _expect_line(proc, "starting")
        _expect_line(proc, "embedding")
        with pytest.raises(RuntimeError, match="another build"):
            build(built, corpus)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


# ---- incremental updates -----------------------------------------------------------------------------


def _edit_corpus(corpus: Path) -> None:
    """Add one file, remove one, change one (one paragraph edited, one added, one removed, one title changed)."""
    (corpus / "2023-06.txt").unlink()
    (corpus / "2024-02.txt").write_text(
        "ISSUE 2024-02\n@@ 阳政办发〔2024〕7号 | 阳泉市人民政府办公室关于加强城市供水安全的通知 | 市政府办公室文件\n"
        "城市供水水质综合合格率保持在百分之九十九以上。\n应急备用水源每年至少演练一次。\n",
        encoding="utf-8",
    )
    p = corpus / "2022-03.txt"
    t = p.read_text(encoding="utf-8")
    t = t.replace("严禁占用盲道", "严禁占用盲道和消防通道")  # edited paragraph -> new id
    t = t.replace("确保群众温暖过冬。\n", "确保群众温暖过冬。\n农村地区清洁取暖改造资金由市县两级财政分担。\n")  # added
    t = t.replace("运营企业应当在每年3月31日前向市交通运输局报送车辆投放计划。\n", "")  # removed
    t = t.replace("关于加强粮食安全生产工作的通知", "关于进一步加强粮食安全生产工作的通知")  # same ids, new embed_text
    p.write_text(t, encoding="utf-8")


QUERIES = ["共享单车停放", "清洁取暖资金", "城市供水水质", "程建军", "阳政办发〔2022〕34号", "营商环境 企业开办", "粮食安全"]


def test_update_matches_full_rebuild_and_embeds_only_new_chunks(tmp_path: Path, corpus: Path) -> None:
    inc, full = tmp_path / "inc", tmp_path / "full"
    build(inc, corpus)
    old_pairs = {(c.chunk_id, c.embed_text) for c in all_chunks(corpus)}
    _edit_corpus(corpus)
    new_chunks = all_chunks(corpus)
    to_embed = [c.embed_text for c in new_chunks if (c.chunk_id, c.embed_text) not in old_pairs]
    assert 5 <= len(to_embed) < len(new_chunks) // 2  # the edit touches a few chunks, not most

    enc = HashEncoder()
    report = make_builder(inc, corpus, enc).update(corpus)
    assert report.mode == "update"
    assert report.files_added == ["2024-02.txt"] and report.files_removed == ["2023-06.txt"]
    assert report.files_changed == ["2022-03.txt"] and report.files_unchanged == ["2021-01.txt"]
    assert sorted(enc.passages_seen) == sorted(to_embed)
    assert enc.passage_calls == 1
    assert report.n_embedded == len(to_embed) and report.n_reused == len(new_chunks) - len(to_embed)

    build(full, corpus)
    s_inc, s_full = IndexStore.load(inc), IndexStore.load(full)
    assert s_inc.chunks == s_full.chunks == new_chunks
    np.testing.assert_allclose(s_inc.vectors, s_full.vectors, atol=1e-6)
    assert s_inc.tokens == s_full.tokens
    assert s_inc.manifest.files == s_full.manifest.files
    a, b = HybridSearcher(s_inc, HashEncoder()), HybridSearcher(s_full, HashEncoder())
    for q in QUERIES:
        ha, hb = a.search(q, 8), b.search(q, 8)
        assert [h.chunk.chunk_id for h in ha] == [h.chunk.chunk_id for h in hb], q
        np.testing.assert_allclose([h.score for h in ha], [h.score for h in hb], rtol=1e-6)
    assert "城市供水" in a.search("城市供水水质", 1)[0].chunk.text


def test_update_noop_and_index_type_change_reuse_vectors(built: Path, corpus: Path) -> None:
    created = json.loads((built / "manifest.json").read_text())["created"]
    enc = HashEncoder()
    r = make_builder(built, corpus, enc).update(corpus)
    assert r.mode == "noop" and enc.passages_seen == []
    r = make_builder(built, corpus, enc, params=IndexParams(index_type="hnsw")).update(corpus)
    assert r.mode == "update" and r.n_embedded == 0 and enc.passages_seen == []
    m = json.loads((built / "manifest.json").read_text())
    assert m["index_type"] == "hnsw" and m["created"] == created
    # A new normaliser version re-chunks every file but still reuses every unchanged vector.
    r = make_builder(built, corpus, enc, version="t2").update(corpus)
    assert r.files_changed == sorted(p.name for p in corpus.glob("*.txt")) and r.n_embedded == 0


def test_update_rechunks_an_index_of_an_older_chunker(built: Path, corpus: Path, tmp_path: Path) -> None:
    from qa.corpus.chunker import CHUNKER_VERSION

    work = tmp_path / "older-chunker"
    shutil.copytree(built, work)
    m = json.loads((work / "manifest.json").read_text())
    assert m["chunker_version"] == CHUNKER_VERSION
    m["chunker_version"] = ""  # as an index written before the version was recorded
    (work / "manifest.json").write_text(json.dumps(m))
    enc = HashEncoder()
    r = make_builder(work, corpus, enc).update(corpus)
    assert r.files_changed == sorted(p.name for p in corpus.glob("*.txt")) and r.n_embedded == 0
    assert json.loads((work / "manifest.json").read_text())["chunker_version"] == CHUNKER_VERSION
    assert make_builder(work, corpus, enc).update(corpus).mode == "noop"


def test_update_without_index_builds(tmp_path: Path, corpus: Path) -> None:
    enc = HashEncoder()
    r = make_builder(tmp_path / "new", corpus, enc).update(corpus)
    assert r.mode == "build" and r.n_embedded == len(all_chunks(corpus)) == len(enc.passages_seen)


def test_duplicate_chunk_ids_are_refused(tmp_path: Path, corpus: Path) -> None:
    (corpus / "copy.txt").write_text(ISSUES["2022-03.txt"], encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate chunk ids"):
        build(tmp_path / "index", corpus)


# ---- routes ------------------------------------------------------------------------------------------

DOCNO_FORMS = [
    "阳政办发〔2022〕34号",
    "阳政办发[2022]34号",
    "阳政办发(2022)34号",
    "阳政办发（2022）34号",
    "阳政办发2022年34号",
    "阳政办发 〔 2022 〕 34 号",
    "阳政办发 2022 年 34 号",
    "请问阳政办发［2022］34号是什么文件",
]


@pytest.mark.parametrize("query", DOCNO_FORMS)
def test_doc_number_route_all_forms(searcher: HybridSearcher, query: str) -> None:
    s = searcher
    hits = s.search(query, top_k=6)
    # Two documents of 2022-03 share this number: both cards first, then their 4 other chunks.
    assert {h.chunk.doc_key for h in hits[:6]} == {"2022-03#01", "2022-03#04"}
    assert [h.chunk.chunk_type for h in hits[:2]] == ["card", "card"]
    assert all(h.scores["route"] == 2 for h in hits)
    assert s.routes(query).doc_numbers == ["阳政办发〔2022〕34号"]


def test_doc_number_route_needs_the_right_number(searcher: HybridSearcher) -> None:
    s = searcher
    assert s.routes("阳政办发〔2022〕36号").doc_numbers == []
    assert s.routes("阳政发〔2022〕34号").doc_numbers == []  # another issuer's series
    assert s.routes("2022年3月31日前报送计划").doc_numbers == []
    assert s.routes("阳政办发〔2022〕35号").doc_numbers == ["阳政办发〔2022〕35号"]
    hits = s.search("阳政办发〔2022〕35号 孟县", 3)
    assert hits[0].chunk.chunk_type == "card" and hits[0].chunk.doc_number == "阳政办发〔2022〕35号"
    assert hits[1].chunk.doc_number == "阳政办发〔2022〕35号"


def test_name_route_boosts_personnel_chunks(searcher: HybridSearcher) -> None:
    s = searcher
    hits = s.search("程建军担任过什么职务", top_k=4)
    top2 = hits[:2]
    assert all("程建军" in h.chunk.persons for h in top2)
    assert {h.chunk.issue for h in top2} == {"2021-01", "2022-03"}
    assert all(h.scores["route"] == 1 for h in top2) and hits[2].scores["route"] == 0
    # The OCR space inside 武 浩 and a space in the query both vanish under normalisation.
    assert "武浩" in s.search("武 浩 是什么职务", 1)[0].chunk.persons
    assert s.routes("王伟明任组长吗").persons == ["王伟明"]
    assert s.routes("张三是谁").persons == []


def test_routes_can_be_switched_off(shared: Path) -> None:
    s = open_searcher(shared, config=SearchConfig(doc_number_route=False, name_route=False))
    assert s.routes("程建军 阳政办发〔2022〕34号").persons == []
    assert all(h.scores["route"] == 0 for h in s.search("程建军 阳政办发〔2022〕34号", 5))


# ---- filters -----------------------------------------------------------------------------------------


def test_filters(searcher: HybridSearcher) -> None:
    s = searcher
    q = "实施方案 工作 通知"
    assert {h.chunk.year for h in s.search(q, 20, {"year": 2021})} == {2021}
    assert {h.chunk.year for h in s.search(q, 20, {"year": "2023"})} == {2023}
    assert {h.chunk.issue for h in s.search(q, 20, {"issue": ["2021-01", "2023-06"]})} == {"2021-01", "2023-06"}
    assert {h.chunk.category for h in s.search(q, 20, {"category": "人事任免"})} == {"人事任免"}
    by_num = s.search(q, 20, {"doc_number": "阳政办发[2023]80号"})
    assert {h.chunk.doc_key for h in by_num} == {"2023-06#01"} and len(by_num) == 3
    both = s.search("程建军", 20, {"year": 2022, "category": "人事任免"})
    assert both and all(h.chunk.year == 2022 and h.chunk.category == "人事任免" for h in both)
    # A route match outside the filter is dropped too.
    assert all(h.chunk.year == 2021 for h in s.search("阳政办发〔2022〕34号", 5, {"year": 2021}))
    assert s.search(q, 5, {"year": 1999}) == []


def test_unknown_filter_key_names_allowed_ones(searcher: HybridSearcher) -> None:
    with pytest.raises(ValueError) as e:
        searcher.search("粮食", 5, {"yr": 2022})
    assert "yr" in str(e.value)
    for key in ("year", "issue", "category", "doc_number"):
        assert key in str(e.value)


def test_filtered_search_on_hnsw_is_exact(tmp_path: Path, corpus: Path) -> None:
    build(tmp_path / "hnsw", corpus, params=IndexParams(index_type="hnsw", hnsw_m=4))
    s = open_searcher(tmp_path / "hnsw")
    hits = s.search("城区 停放", 50, {"issue": "2023-06"})
    assert len(hits) == sum(c.issue == "2023-06" for c in all_chunks(corpus))


# ---- fusion, lexical, rerank ---------------------------------------------------------------------------


def test_acronyms_defined_in_the_corpus_expand_queries() -> None:
    texts = ["积极推进区域点数法总额预算和按病种分值付费（DIP）等支付方式", "每日对空气质量指数(AQI)进行预报",
             "预警统一以环境空气质量指数（AQI）为指标", "建成智慧交通(TOCC)", "建成包含交通运行监测调度指挥中心（TOCC）",
             "PM2.5 浓度(PM)"]
    acronyms = corpus_acronyms(texts)
    # the run before the bracket; several definitions keep their common end; none in common: left out
    assert acronyms == {"DIP": "积极推进区域点数法总额预算和按病种分值付费", "AQI": "空气质量指数"}
    assert expand_acronyms("DIP试点办公室设在哪", acronyms) == "DIP试点办公室设在哪 积极推进区域点数法总额预算和按病种分值付费"
    assert expand_acronyms("When is the aqi forecast made?", acronyms) == "When is the aqi forecast made?"  # not an acronym
    assert expand_acronyms("空气质量指数AQI", acronyms) == "空气质量指数AQI"  # already written out


def test_ranks_and_fusion() -> None:
    r = ranks(np.array([0.1, 0.9, 0.5, 0.0]), np.array([True, True, True, False]))
    assert list(r[:3]) == [3, 1, 2] and np.isinf(r[3])
    dense, bm25 = np.array([0.9, 0.8, 0.1]), np.array([0.0, 5.0, 4.0])
    rrf = fuse(dense, bm25, FusionParams("rrf", rrf_k=60))
    np.testing.assert_allclose(rrf, [1 / 61, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62])
    w = fuse(dense, bm25, FusionParams("weighted", dense_weight=1.0, bm25_weight=0.5))
    np.testing.assert_allclose(w, [1.0, 0.875 + 0.5, 0.0 + 0.4])
    dense_only = fuse(dense, bm25, FusionParams("weighted", dense_weight=1.0, bm25_weight=0.0))
    assert list(np.argsort(-dense_only)) == [0, 1, 2]
    with pytest.raises(ValueError):
        fuse(dense, bm25, FusionParams("max"))  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_both_fusion_methods_search(shared: Path, method: str) -> None:
    s = open_searcher(shared, config=SearchConfig(fusion=FusionParams(method=method)))
    assert "电子围栏" in s.search("电子围栏", 1)[0].chunk.text


def test_bm25_only_finds_lexical_match(shared: Path) -> None:
    s = open_searcher(shared, config=SearchConfig(fusion=FusionParams("weighted", dense_weight=0.0, bm25_weight=1.0)))
    top = s.search("日间照料中心", 1)[0]
    assert "日间照料中心" in top.chunk.text and top.scores["bm25"] > 0


def test_stopwords_from_document_frequency() -> None:
    docs = [["阳泉市", "人民政府", f"主题{i}", "的"] for i in range(30)]
    stop = derive_stopwords(docs, [f"d{i}" for i in range(30)], max_doc_ratio=0.5, min_docs=20)
    assert {"阳泉市", "人民政府", "的"} <= stop and "主题3" not in stop
    assert derive_stopwords(docs[:5], [f"d{i}" for i in range(5)]) == FIXED_STOPWORDS  # too few docs to judge
    # Many chunks of one document do not make a token common.
    chunks = [["阳泉市", "供水"]] * 25 + [["阳泉市", f"x{i}"] for i in range(25)]
    keys = ["big"] * 25 + [f"d{i}" for i in range(25)]
    stop = derive_stopwords(chunks, keys, 0.5, 20)
    assert "阳泉市" in stop and "供水" not in stop


class OverlapReranker:
    """A real (if crude) reranker: character overlap with the query."""

    def score(self, query, passages):
        return [len(set(query) & set(p)) / (1 + len(set(p))) for p in passages]


def test_reranker_reorders_within_tiers(shared: Path) -> None:
    plain = open_searcher(shared)
    rr = open_searcher(shared, reranker=OverlapReranker())
    q = "程建军 副局长"
    h_plain, h_rr = plain.search(q, 6), rr.search(q, 6)
    assert "rerank" in h_rr[0].scores and "rerank" not in h_plain[0].scores
    tiers = [h.scores["route"] for h in h_rr]
    assert tiers == sorted(tiers, reverse=True)
    for t in set(tiers):
        scores = [h.scores["rerank"] for h in h_rr if h.scores["route"] == t]
        assert scores == sorted(scores, reverse=True)


def test_empty_inputs(searcher: HybridSearcher) -> None:
    s = searcher
    assert s.search("   ", 5) == [] and s.search("粮食", 0) == []


# ---- LangChain retriever ---------------------------------------------------------------------------------

from langchain_tests.integration_tests import RetrieversIntegrationTests  # noqa: E402

from qa.index.retriever import GazetteRetriever  # noqa: E402


def test_retriever_documents(shared: Path) -> None:
    r = GazetteRetriever(searcher=open_searcher(shared), k=2)
    docs = r.invoke("电子围栏")
    assert len(docs) == 2
    d = docs[0]
    assert "电子围栏" in d.page_content
    assert d.metadata["source_file"] == "2022-03.txt" and d.metadata["line_start"] >= 2
    assert d.metadata["doc_number"] == "阳政办发〔2022〕34号"
    assert d.metadata["cite_text"] == d.page_content and d.id == d.metadata["chunk_id"]
    filtered = r.invoke("通知", filters={"year": 2023}, k=4)
    assert len(filtered) == 4 and {x.metadata["issue"] for x in filtered} == {"2023-06"}


class TestGazetteRetrieverStandard(RetrieversIntegrationTests):
    # The async standard test needs the mark (pytest-asyncio strict mode); the sync ones only warn about it.
    pytestmark = [
        pytest.mark.asyncio,
        pytest.mark.filterwarnings("ignore:.*marked with '@pytest.mark.asyncio' but it is not an async function"),
    ]

    @pytest.fixture(autouse=True)
    def _index(self, searcher: HybridSearcher) -> None:
        self._searcher = searcher

    @property
    def retriever_constructor(self) -> type[GazetteRetriever]:
        return GazetteRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"searcher": self._searcher}

    @property
    def retriever_query_example(self) -> str:
        return "清洁取暖覆盖率"


# ---- real corpus, real chunker, real model -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    chunker = pytest.importorskip("qa.corpus.chunker")
    embedder = pytest.importorskip("qa.embeddings.embedder")
    from qa.config import get_settings
    from qa.corpus.normalize import NORMALIZER_VERSION

    # two of the bundled issues (the bike-sharing rules' and the one the update test edits): the whole
    # corpus is built by `make test` itself (QA_TEST_INDEX_DIR) and by the service tests
    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    corpus.mkdir()
    bundled = get_settings().corpus_dir
    for name in ("2022-03.txt", "2023-06.txt"):
        shutil.copy(bundled / name, corpus / name)
    settings = get_settings().model_copy(update={"corpus_dir": corpus})
    enc = embedder.E5Embeddings(settings)
    index_dir = root / "index"
    report = IndexBuilder(index_dir, enc, normalizer_version=NORMALIZER_VERSION, chunk_file=chunker.chunk_file).build(
        settings.corpus_dir
    )
    return index_dir, enc, settings, report


@pytest.mark.slow
def test_real_corpus_build_and_search(real_index) -> None:
    index_dir, enc, settings, report = real_index
    store = IndexStore.load(index_dir, enc.model_name, enc.dim)
    assert report.n_chunks == len(store) > 100
    t0 = time.perf_counter()
    s = HybridSearcher(store, enc, settings)
    assert time.perf_counter() - t0 < 2.0  # BM25 rebuilt from stored tokens (~0.5 s here; slack for a busy box)
    stop = s.lexical.stopwords
    assert {"阳泉市", "人民政府"} <= stop
    hits = s.search("阳政办发〔2022〕34号", 3)
    assert hits[0].chunk.chunk_type == "card" and hits[0].chunk.doc_number == "阳政办发〔2022〕34号"
    hits = s.search("互联网租赁自行车的电子围栏怎么设置", 5)
    assert any("租赁自行车" in h.chunk.doc_title for h in hits)


@pytest.mark.slow
def test_real_corpus_update_reembeds_only_changed_file(real_index, tmp_path: Path) -> None:
    chunker = pytest.importorskip("qa.corpus.chunker")
    from qa.corpus.normalize import NORMALIZER_VERSION

    index_dir, enc, settings, _ = real_index
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    work = tmp_path / "index"
    shutil.copytree(index_dir, work)
    f = corpus / "2023-06.txt"
    text = f.read_text(encoding="utf-8")
    f.write_text(text + "\n", encoding="utf-8")  # same chunks, new sha256

    class Counting:
        def __init__(self, inner):
            self.inner, self.model_name, self.dim, self.seen = inner, inner.model_name, inner.dim, 0

        def encode_passages(self, texts, show_progress=False):
            self.seen += len(texts)
            return self.inner.encode_passages(texts, show_progress=show_progress)

        def encode_queries(self, texts):
            return self.inner.encode_queries(texts)

    counting = Counting(enc)
    b = IndexBuilder(work, counting, normalizer_version=NORMALIZER_VERSION, chunk_file=chunker.chunk_file)
    r = b.update(corpus)
    assert r.files_changed == ["2023-06.txt"] and counting.seen == r.n_embedded == 0
