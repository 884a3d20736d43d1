"""`qa index add` then search equals a full rebuild then search, ranking for ranking, with the real encoder.

Dynamic int8 used to quantise a whole batch with one activation scale, so a text's vector depended on the texts
it was embedded with: after an add, most vectors differed from a full rebuild's and so did rankings. Now every
vector depends on its text only. A two-issue subset of the bundled corpus keeps this to a minute or two."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.corpus.normalize import NORMALIZER_VERSION
from qa.index.builder import IndexBuilder
from qa.index.manage import add_issue_files, remove_files
from qa.index.search import HybridSearcher
from qa.index.store import IndexStore

ROOT = Path(__file__).resolve().parent.parent
ISSUES = ("2021-01.txt", "2022-03.txt")  # the smallest two issues: 509 chunks
ADDED = "2022-03.txt"


@pytest.fixture(scope="module")
def encoder():
    from qa.embeddings.embedder import E5Embeddings

    return E5Embeddings(Settings())  # the default: ONNX Runtime int8-full


def _questions(n: int = 20) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    picked = [r["question"] for r in rows if r.get("source_file") in ISSUES]
    return picked[:n]


@pytest.mark.slow
def test_add_then_search_equals_rebuild_then_search(encoder, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ISSUES:
        shutil.copyfile(ROOT / "corpus" / name, corpus / name)
    full, incr = tmp_path / "full", tmp_path / "incr"

    def builder(index_dir: Path) -> IndexBuilder:
        return IndexBuilder(index_dir, encoder, normalizer_version=NORMALIZER_VERSION)

    builder(full).build(corpus)  # both issues embedded together, in one call
    shutil.copytree(full, incr)
    # take the issue out and add it again: its chunks are embedded on their own, the rest reused
    remove_files(incr, corpus, [ADDED], lambda: builder(incr).update(corpus))
    kept = corpus / "removed" / ADDED
    change = add_issue_files(incr, corpus, [(kept, ADDED)], lambda: builder(incr).update(corpus))
    assert change.report.files_added == [ADDED] and change.report.n_embedded > 200

    a, b = IndexStore.load(full), IndexStore.load(incr)
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    assert np.array_equal(np.asarray(a.vectors), np.asarray(b.vectors))  # every vector, bit for bit
    sa, sb = HybridSearcher(a, encoder), HybridSearcher(b, encoder)
    questions = _questions()
    assert len(questions) == 20
    for q in questions:
        ha, hb = sa.search(q, top_k=10), sb.search(q, top_k=10)
        assert [h.chunk.chunk_id for h in ha] == [h.chunk.chunk_id for h in hb], q
        assert [h.score for h in ha] == pytest.approx([h.score for h in hb], abs=1e-6), q


def test_an_index_embedded_in_batches_is_told_apart() -> None:
    """Indexes written before (vectors embedded in batches) recorded `onnx/int8-full`: against the per-text
    encoder that is another variant, so `qa index update` re-embeds them once and the service warns."""
    from qa.index.store import Manifest, encoder_mismatch

    old = Manifest(model_name="intfloat/multilingual-e5-small", dim=384, normalizer_version="1", lexical_version="x",
                   chunk_count=0, index_type="flat", index_params={}, build_params={}, files={}, created="",
                   encoder="onnx/int8-full")
    problem = encoder_mismatch(old, "onnx/int8-full/per-text")
    assert problem and "'onnx/int8-full'" in problem and "qa index build" in problem
    assert encoder_mismatch(old, "onnx/int8-full") is None
