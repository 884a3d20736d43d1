"""Answer-sentence vectors computed at index build time (qa/index/sentence_store.py): stored with the
index, equal to the vectors the answerer would compute on the fly, reused by updates, and a format-1
index without them still answers (embedding per request) and gets them from `qa index update`.

Fast tests use the toy gazette and the hashed n-gram encoder of index_fixtures.py with the real
builder, store and answerer code; the slow ones use the real corpus and model."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_fixtures import HashEncoder, chunk_file, chunker_for, write_corpus  # noqa: E402

from qa.answer.precompute import sentence_texts  # noqa: E402
from qa.answer.similarity import CachedEncoder  # noqa: E402
from qa.index import IndexBuilder, IndexStore  # noqa: E402
from qa.index.atomic import MANIFEST  # noqa: E402
from qa.index.lexical import JiebaTokenizer  # noqa: E402
from qa.index.sentence_store import SENTENCE_TEXTS, SENTENCE_VECTORS, encode_each  # noqa: E402
from qa.index.integrity import IndexCorruptError  # noqa: E402
from qa.index.store import FORMAT_VERSION  # noqa: E402

TOKENIZER = JiebaTokenizer()


def builder(index: Path, corpus: Path, enc=None, texts=sentence_texts) -> IndexBuilder:
    return IndexBuilder(index, enc or HashEncoder(), normalizer_version="t1", chunk_file=chunker_for(corpus),
                        tokenizer=TOKENIZER, sentence_texts=texts)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


def test_the_build_stores_a_vector_for_every_sentence_the_answerer_embeds(tmp_path, corpus):
    report = builder(tmp_path / "index", corpus).build(corpus)
    store = IndexStore.load(tmp_path / "index")
    assert store.manifest.format_version == FORMAT_VERSION >= 2
    expected = list(dict.fromkeys(t for p in sorted(corpus.glob("*.txt")) for c in chunk_file(p, corpus)
                                  for t in sentence_texts(c)))
    assert store.sentences is not None and store.sentences.texts == expected
    assert store.manifest.sentence_count == len(expected) == report.n_sentences_embedded > 0
    # Stored = what the answerer computes on the fly for a sentence the index lacks (each text alone).
    fresh = CachedEncoder(HashEncoder()).sentence_vectors(expected)
    assert np.array_equal(np.asarray(store.sentences.vectors), fresh)


def test_the_answerer_reads_stored_vectors_and_embeds_no_sentence(tmp_path, corpus):
    builder(tmp_path / "index", corpus).build(corpus)
    store = IndexStore.load(tmp_path / "index")
    enc = HashEncoder()
    cached = CachedEncoder(enc)
    texts = store.sentences.texts[:5]
    got = cached.similarity("共享单车停放秩序", texts, store.sentences)
    assert enc.passage_calls == 0
    assert np.allclose(got, CachedEncoder(HashEncoder()).similarity("共享单车停放秩序", texts))
    # A sentence the index does not hold is embedded, alone.
    cached.similarity("共享单车停放秩序", ["一句索引里没有的话。", texts[0]], store.sentences)
    assert enc.passages_seen == ["一句索引里没有的话。"]


def test_an_update_reuses_the_vectors_of_unchanged_sentences(tmp_path, corpus):
    builder(tmp_path / "index", corpus).build(corpus)
    (corpus / "2023-06.txt").write_text((corpus / "2023-06.txt").read_text(encoding="utf-8")
                                        + "养老服务补贴标准为每人每月二百元。\n", encoding="utf-8")
    enc = HashEncoder()
    report = builder(tmp_path / "index", corpus, enc).update(corpus)
    assert report.mode == "update"
    assert report.n_sentences_embedded == 1
    assert "养老服务补贴标准为每人每月二百元。" in enc.passages_seen
    store = IndexStore.load(tmp_path / "index")
    assert "养老服务补贴标准为每人每月二百元。" in store.sentences.texts


def test_a_format_1_index_loads_without_them_and_an_update_adds_them(tmp_path, corpus):
    index = tmp_path / "index"
    builder(index, corpus, texts=None).build(corpus)  # as an index written before format 2 looks
    manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    manifest["format_version"] = 1
    manifest.pop("sentence_count")
    (index / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert not (index / SENTENCE_TEXTS).exists() and not (index / SENTENCE_VECTORS).exists()
    old = IndexStore.load(index)
    assert old.sentences is None and old.manifest.sentence_count == 0
    report = builder(index, corpus).update(corpus)  # nothing in the corpus changed: still not a no-op
    assert report.mode == "update" and report.n_sentences_embedded > 0
    store = IndexStore.load(index)
    assert store.manifest.format_version == FORMAT_VERSION and len(store.sentences) == store.manifest.sentence_count > 0
    assert builder(index, corpus).update(corpus).mode == "noop"


def test_a_sentence_file_that_disagrees_with_the_manifest_is_an_error(tmp_path, corpus):
    index = tmp_path / "index"
    builder(index, corpus).build(corpus)
    texts = json.loads((index / SENTENCE_TEXTS).read_text(encoding="utf-8"))
    (index / SENTENCE_TEXTS).write_text(json.dumps(texts[:-1], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="sentence"):  # its checksum (format 3) no longer matches
        IndexStore.load(index)


# ---- the real model ------------------------------------------------------------------------------


@pytest.mark.slow
def test_precomputed_sentence_vectors_equal_the_real_models_on_the_fly_ones(tmp_path):
    """One real gazette issue, the real chunker and model: stored vectors are bit-identical to those the
    answerer computes when the index lacks them, and answers read them instead of calling the model."""
    from qa.config import Settings
    from qa.corpus.chunker import chunk_file as real_chunk_file
    from qa.corpus.normalize import NORMALIZER_VERSION
    from qa.embeddings.embedder import E5Embeddings

    root = Path(__file__).resolve().parent.parent
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(root / "corpus" / "2023-06.txt", corpus / "2023-06.txt")
    enc = E5Embeddings(Settings())
    chunks = real_chunk_file(corpus / "2023-06.txt")[:12]  # a dozen passages keep it to seconds
    IndexBuilder(tmp_path / "index", enc, normalizer_version=NORMALIZER_VERSION, chunk_file=lambda p: chunks,
                 sentence_texts=sentence_texts).build(corpus)
    store = IndexStore.load(tmp_path / "index")
    texts = store.sentences.texts
    assert len(texts) >= 20
    on_the_fly = CachedEncoder(enc).sentence_vectors(texts)
    assert np.array_equal(np.asarray(store.sentences.vectors), on_the_fly)
    # Each text alone: the same vector whatever else is asked at the same time.
    assert np.array_equal(encode_each(enc.encode_passages, texts[3:6], enc.dim), on_the_fly[3:6])


@pytest.mark.slow
def test_the_service_answers_a_distinct_question_without_embedding_sentences(gazette_service):
    """The real index (format 2) holds every sentence the answerer compares: a new question costs query
    encodings only."""
    store = gazette_service.searcher.store
    assert store.sentences is not None and len(store.sentences) > 1000
    inner = gazette_service.encoder.inner
    calls: list[int] = []
    original = inner.encode_passages

    def counting(texts, show_progress=False):
        calls.append(len(texts))
        return original(texts, show_progress=show_progress)

    inner.encode_passages = counting
    try:
        result = gazette_service.ask("共享单车的用户需要满多少周岁才能注册？这是一个新问法")
    finally:
        del inner.encode_passages
    assert result.answer
    assert calls == []
