"""The contract every ChunkStore passes (Haystack's DocumentStore test mixins in spirit): CRUD, filters,
dense / BM25 / hybrid ranking, incremental add and remove, atomic replacement of a collection.

A backend's test class inherits ChunkStoreContract and provides a `make_store(tmp_path, manifest)` that
returns an empty store holding `manifest`. Rankings are asserted, never raw BM25 scores (they differ
between backends and Milvus builds). Vectors come from index_fixtures.HashEncoder (deterministic
hashed n-grams); the stores and the searcher are the real ones.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_fixtures import HashEncoder  # noqa: E402

from qa.corpus.normalize import normalize_for_search  # noqa: E402
from qa.index.chunkstore import (  # noqa: E402
    BM25Query, ChunkStore, StoredChunks, delete_chunks, replace_collection, write_chunks,
)
from qa.index.lexical import JiebaTokenizer, doc_tokens  # noqa: E402
from qa.index.search import HybridSearcher  # noqa: E402
from qa.index.store import Manifest, utc_now  # noqa: E402
from qa.models import Chunk  # noqa: E402

TOKENIZER = JiebaTokenizer()
ENC = HashEncoder(dim=32)

# (id, text, year, issue, category, doc_number, collection, persons, chunk_type)
ROWS = [
    ("a1", "共享单车管理办法：用户应当年满十六周岁，注册后方可使用。", 2021, "2021-01", "规章", "阳政发〔2021〕1号", "", (), "text"),
    ("b1", "关于调整重污染天气预警分级标准的通知", 2022, "2022-03", "通知", "阳政办发〔2022〕34号", "", (), "card"),
    ("b2", "空气质量指数达到预警标准时，启动重污染天气应急响应。", 2022, "2022-03", "通知", "阳政办发〔2022〕34号", "", (), "text"),
    ("c1", "任命程建军为市教育局局长。", 2022, "2022-05", "人事任免", "阳政任〔2022〕5号", "hr", ("程建军",), "personnel"),
    ("d1", "大气污染防治：空气质量持续改善，空气质量优良天数增加。", 2023, "2023-02", "规划", "", "hr", (), "text"),
    ("e1", "城市供水管网改造工程年内完工，保障居民用水。", 2023, "2023-02", "规划", "", "archive", (), "text"),
]


def make_chunk(cid, text, year, issue, category, doc_number, collection="", persons=(), chunk_type="text") -> Chunk:
    return Chunk(chunk_id=cid, text=text, embed_text=f"{category}\n{text}", search_text=normalize_for_search(text),
                 source_file=f"{issue}.txt", line_start=1, line_end=2, issue=issue, year=year,
                 doc_key=f"{issue}#{cid[0]}", doc_number=doc_number, doc_title=text[:12], category=category,
                 chunk_type=chunk_type, persons=tuple(persons), collection=collection)


def batch(chunks: list[Chunk]) -> StoredChunks:
    vecs = ENC.encode_passages([c.embed_text for c in chunks]) if chunks else np.zeros((0, ENC.dim), np.float32)
    return StoredChunks(chunks, np.asarray(vecs, np.float32), [doc_tokens(TOKENIZER, c.search_text, c.persons) for c in chunks],
                        [hashlib.sha256(c.embed_text.encode()).hexdigest() for c in chunks])


def manifest(dim: int = ENC.dim) -> Manifest:
    return Manifest(model_name=ENC.model_name, dim=dim, normalizer_version="t", lexical_version="t", chunk_count=0,
                    index_type="flat", index_params={}, build_params={"index_type": "flat"}, files={}, created=utc_now())


def ids(store: ChunkStore, rows) -> list[str]:
    return [c.chunk_id for c in store.chunks_at([int(r) for r in rows])]


class ChunkStoreContract:
    """Inherit and define make_store(tmp_path, manifest) -> an empty store."""

    def make_store(self, tmp_path: Path, m: Manifest) -> ChunkStore:
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> ChunkStore:
        s = self.make_store(tmp_path, manifest())
        write_chunks(s, batch([make_chunk(*r) for r in ROWS]))
        return s

    # ---- write, count, get -------------------------------------------------------------------------

    def test_is_a_chunk_store(self, store):
        assert isinstance(store, ChunkStore)

    def test_write_count_get(self, store):
        assert store.count() == len(ROWS)
        got = store.get(["c1", "nope", "a1"])
        assert [c.chunk_id for c in got] == ["c1", "a1"]
        assert got[0] == make_chunk(*ROWS[3])  # every field survives the round trip, collection included
        assert got[0].collection == "hr"

    def test_stored_round_trip(self, store):
        data = store.stored()
        assert [c.chunk_id for c in data.chunks] == [r[0] for r in ROWS]
        np.testing.assert_allclose(data.vectors, batch([make_chunk(*r) for r in ROWS]).vectors, atol=1e-6)
        assert data.tokens[3][-1] == "程建军"  # the person's name kept whole

    def test_generation_changes_on_write(self, store):
        g = store.generation
        write_chunks(store, batch([make_chunk("f1", "新建体育公园一座。", 2024, "2024-01", "通知", "")]))
        assert store.generation != g

    # ---- filters -----------------------------------------------------------------------------------

    def test_filters(self, store):
        assert store.count({"year": 2022}) == 3
        assert store.count({"year": [2021, 2023]}) == 3
        assert store.count({"issue": "2022-03"}) == 2
        assert store.count({"category": "规划"}) == 2
        assert store.count({"doc_number": "阳政办发[2022]34号"}) == 2  # any bracket form
        assert store.count({"collection": "hr"}) == 2
        assert store.count({"collection": ""}) == 3
        assert store.count({"collection": "hr", "year": 2023}) == 1
        assert sorted(c.chunk_id for c in store.iter_chunks({"collection": ["hr", "archive"]})) == ["c1", "d1", "e1"]
        assert store.select([0, 3, 4, 5], {"collection": "hr"}) == [3, 4]

    def test_unknown_filter_is_an_error(self, store):
        with pytest.raises(ValueError, match="unknown filter"):
            store.count({"colour": "red"})

    # ---- ranking -----------------------------------------------------------------------------------

    def test_dense_ranking(self, store):
        q = ENC.encode_queries(["共享单车用户年满十六周岁"])[0]
        rows, _ = store.dense_search(q, 3)
        assert ids(store, rows)[0] == "a1"
        rows, _ = store.dense_search(q, 3, {"collection": "hr"})
        assert set(ids(store, rows)) <= {"c1", "d1"}
        exact = store.dense_scores(q, rows)
        assert list(np.argsort(-exact, kind="stable")) == list(range(len(rows)))  # search order = exact cosine order

    def test_bm25_ranking(self, store):
        q = BM25Query(normalize_for_search("空气质量"))
        rows, _ = store.bm25_search(q, 5)
        assert ids(store, rows) == ["d1", "b2"]  # twice in d1, once in b2; no other chunk matches
        rows, _ = store.bm25_search(q, 5, {"year": 2022})
        assert ids(store, rows) == ["b2"]
        s = store.bm25_scores(q, [0, 2, 4])
        assert s[0] == 0 and s[2] > s[1] > 0

    def test_hybrid_ranking_and_routes(self, store):
        searcher = HybridSearcher(store, ENC, tokenizer=TOKENIZER)
        assert [h.chunk.chunk_id for h in searcher.search("空气质量持续改善", top_k=2)][0] == "d1"
        # 文号 route: the document's card first, then its text.
        assert [h.chunk.chunk_id for h in searcher.search("阳政办发〔2022〕34号说了什么", top_k=2)] == ["b1", "b2"]
        # person route
        assert searcher.search("程建军任什么职务", top_k=1)[0].chunk.chunk_id == "c1"
        hits = searcher.search("空气质量", top_k=5, filters={"collection": "hr"})
        assert [h.chunk.chunk_id for h in hits][0] == "d1"
        assert {h.chunk.collection for h in hits} == {"hr"}
        assert searcher.search("空气质量", filters={"collection": "none"}) == []

    # ---- incremental add / remove, replacement -------------------------------------------------------

    def test_add_then_remove(self, store):
        new = make_chunk("g1", "全市新建公共充电桩五百个。", 2024, "2024-02", "通知", "", "archive")
        write_chunks(store, batch([new]))
        assert store.count() == len(ROWS) + 1
        rows, _ = store.bm25_search(BM25Query("充电桩"), 3)
        assert ids(store, rows) == ["g1"]
        assert delete_chunks(store, ["g1", "a1", "missing"]) == 2
        assert store.count() == len(ROWS) - 1
        assert store.get(["g1", "a1"]) == []
        rows, _ = store.bm25_search(BM25Query("充电桩"), 3)
        assert len(rows) == 0
        q = ENC.encode_queries(["共享单车用户年满十六周岁"])[0]
        rows, _ = store.dense_search(q, 10)
        assert "a1" not in ids(store, rows)

    def test_overwrite_by_id(self, store):
        changed = make_chunk("e1", "城市燃气管道改造工程年内完工。", 2023, "2023-02", "规划", "", "archive")
        write_chunks(store, batch([changed]))
        assert store.count() == len(ROWS)
        assert store.get(["e1"])[0].text == changed.text
        rows, _ = store.bm25_search(BM25Query("燃气管道"), 3)
        assert ids(store, rows) == ["e1"]
        rows, _ = store.bm25_search(BM25Query("供水管网"), 3)
        assert len(rows) == 0

    def test_replace_collection(self, store):
        fresh = [make_chunk("h1", "人才引进补贴标准调整。", 2024, "2024-03", "通知", "", "hr"),
                 make_chunk("c1", "任命程建军为市文化局局长。", 2024, "2024-03", "人事任免", "", "hr", ("程建军",))]
        replace_collection(store, "hr", batch(fresh))
        assert sorted(c.chunk_id for c in store.iter_chunks({"collection": "hr"})) == ["c1", "h1"]
        assert store.get(["c1"])[0].text == fresh[1].text
        assert store.get(["d1"]) == []
        # other collections untouched
        assert sorted(c.chunk_id for c in store.iter_chunks({"collection": ["", "archive"]})) == ["a1", "b1", "b2", "e1"]

    def test_failed_replacement_leaves_the_store_as_it_was(self, store):
        before = (store.count(), store.generation, [c.chunk_id for c in store.iter_chunks()])
        bad = batch([make_chunk("h1", "人才引进补贴标准调整。", 2024, "2024-03", "通知", "", "hr")])
        bad.vectors = np.ones((1, ENC.dim + 1), np.float32)
        with pytest.raises(ValueError, match="dim"):
            replace_collection(store, "hr", bad)
        wrong = batch([make_chunk("h1", "人才引进补贴标准调整。", 2024, "2024-03", "通知", "", "archive")])
        with pytest.raises(ValueError, match="collection"):
            replace_collection(store, "hr", wrong)
        assert (store.count(), store.generation, [c.chunk_id for c in store.iter_chunks()]) == before
