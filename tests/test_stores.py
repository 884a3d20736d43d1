"""Every ChunkStore backend against the shared contract (tests/store_mixin.py): a new backend is a
new store file plus one class here."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_mixin import ChunkStoreContract  # noqa: E402

from qa.index.chunkstore import StoredChunks  # noqa: E402
from qa.index.store import LocalStore, Manifest  # noqa: E402


class TestLocalStore(ChunkStoreContract):
    def make_store(self, tmp_path: Path, m: Manifest):
        return LocalStore.create(tmp_path / "index", m)


class TestMilvusLiteStore(ChunkStoreContract):
    """Milvus Lite in-process on a file (pymilvus + milvus-lite from PyPI)."""

    def make_store(self, tmp_path: Path, m: Manifest):
        pytest.importorskip("milvus_lite")
        from qa.index.milvus_store import MilvusStore

        store = MilvusStore.at(str(tmp_path / "milvus.db"), "contract")
        store.sync(StoredChunks([], np.zeros((0, m.dim), np.float32), [], []), m)
        return store


def test_builder_writes_into_milvus_incrementally(tmp_path):
    """IndexBuilder over a MilvusStore: a build, then an update after a file is removed and another
    changed, embeds only the changed chunks and keeps the parsed documents in step."""
    pytest.importorskip("milvus_lite")
    from index_fixtures import HashEncoder, chunker_for, write_corpus

    from qa.index.builder import IndexBuilder
    from qa.index.milvus_store import MilvusStore
    from store_mixin import TOKENIZER

    corpus = write_corpus(tmp_path / "corpus")
    store = MilvusStore.at(str(tmp_path / "m.db"), "built")
    enc = HashEncoder()

    def builder():
        return IndexBuilder(tmp_path / "unused", enc, normalizer_version="t1", chunk_file=chunker_for(corpus),
                            tokenizer=TOKENIZER, store=store,
                            document_file=lambda p: {"source_file": p.name, "documents": [], "lines": len(p.read_text().splitlines())})

    report = builder().build(corpus)
    files = sorted(p.name for p in corpus.glob("*.txt"))
    assert store.count() == report.n_chunks > 0 and not (tmp_path / "unused").exists()
    assert sorted(r["source_file"] for r in store.issue_records()) == files
    gen = store.generation
    seen = len(enc.passages_seen)
    (corpus / files[0]).unlink()
    changed = corpus / files[1]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n新增一段：本办法自发布之日起施行。\n", encoding="utf-8")
    report = builder().update(corpus)
    assert report.files_removed == [files[0]] and report.files_changed == [files[1]]
    assert 0 < report.n_embedded < report.n_chunks  # only the changed file's new chunks
    assert len(enc.passages_seen) - seen == report.n_embedded
    assert store.generation != gen and store.count() == report.n_chunks
    assert {c.source_file for c in store.iter_chunks()} == set(files[1:])
    assert sorted(r["source_file"] for r in store.issue_records()) == files[1:]
    assert builder().update(corpus).mode == "noop"
