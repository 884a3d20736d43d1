"""The index manifest records the encoder variant (runtime/quantisation) that made its vectors: an
update with another variant re-embeds everything, and a service querying with another one warns.
Toy corpus and hashed n-gram encoder of index_fixtures.py; the index code is the real one."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_fixtures import HashEncoder, chunker_for, write_corpus  # noqa: E402

from qa.answer.similarity import CachedEncoder  # noqa: E402
from qa.index import IndexBuilder, IndexStore  # noqa: E402
from qa.index.lexical import JiebaTokenizer  # noqa: E402
from qa.index.store import Manifest, encoder_mismatch, encoder_variant, warn_if_encoder_differs  # noqa: E402

TOKENIZER = JiebaTokenizer()


class VariantEncoder(HashEncoder):
    """The hashed n-gram encoder, saying which runtime it stands for; `scale` makes the vectors of two
    variants measurably different, as int8 and fp32 vectors are."""

    def __init__(self, variant: str, scale: float = 1.0) -> None:
        super().__init__()
        self.variant = variant
        self.scale = scale

    def _vec(self, text: str) -> np.ndarray:
        v = super()._vec(text)
        v[0] *= self.scale
        return v / np.linalg.norm(v)


def builder(index: Path, corpus: Path, enc) -> IndexBuilder:
    return IndexBuilder(index, enc, normalizer_version="t1", chunk_file=chunker_for(corpus), tokenizer=TOKENIZER)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


def test_manifest_records_the_encoder_variant(tmp_path: Path, corpus: Path) -> None:
    builder(tmp_path / "a", corpus, VariantEncoder("onnx/int8-full")).build(corpus)
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["encoder"] == "onnx/int8-full"
    # Through the service's caching wrapper too (the encoder it builds with when no index exists).
    builder(tmp_path / "b", corpus, CachedEncoder(VariantEncoder("torch/int8"))).build(corpus)
    assert IndexStore.load(tmp_path / "b").manifest.encoder == "torch/int8"
    # An encoder that does not say records "" (as do indexes written before the field existed).
    builder(tmp_path / "c", corpus, HashEncoder()).build(corpus)
    assert IndexStore.load(tmp_path / "c").manifest.encoder == ""


def _forget_encoder(index: Path) -> None:
    """Make the manifest look like one written before the field existed."""
    path = index / "manifest.json"
    d = json.loads(path.read_text())
    del d["encoder"]
    path.write_text(json.dumps(d))


def test_old_manifest_without_encoder_loads(tmp_path: Path, corpus: Path) -> None:
    builder(tmp_path / "i", corpus, VariantEncoder("torch/int8")).build(corpus)
    _forget_encoder(tmp_path / "i")
    m = IndexStore.load(tmp_path / "i").manifest
    assert m.encoder == ""
    # Unrecorded against a known variant counts as different (such an index was torch-built)...
    problem = encoder_mismatch(m, "onnx/int8-full")
    assert problem and "unrecorded" in problem and "'onnx/int8-full'" in problem
    # ...an encoder that does not say makes no claim.
    assert encoder_mismatch(m, "") is None


def test_update_of_an_index_from_before_variants_reembeds(tmp_path: Path, corpus: Path, caplog) -> None:
    """The old default (torch int8, no variant in the manifest) meeting the new one (onnx int8-full) on
    `qa index update`: every vector is re-made, none of the old ones is mixed in."""
    index = tmp_path / "index"
    builder(index, corpus, VariantEncoder("torch/int8")).build(corpus)
    _forget_encoder(index)
    n = len(IndexStore.load(index))
    new = VariantEncoder("onnx/int8-full", scale=3.0)
    with caplog.at_level(logging.WARNING, logger="qa.index.builder"):
        report = builder(index, corpus, new).update(corpus)
    assert report.mode == "build" and report.n_embedded == n == len(new.passages_seen)
    assert "unrecorded" in caplog.text and "re-embedding every chunk" in caplog.text
    store = IndexStore.load(index)
    assert store.manifest.encoder == "onnx/int8-full"
    np.testing.assert_allclose(store.vectors, new.encode_passages([c.embed_text for c in store.chunks]), atol=1e-6)
    # Once recorded, the next update is incremental again.
    again = VariantEncoder("onnx/int8-full", scale=3.0)
    assert builder(index, corpus, again).update(corpus).mode == "noop" and again.passages_seen == []


def test_update_with_an_encoder_that_does_not_say_keeps_vectors(tmp_path: Path, corpus: Path) -> None:
    index = tmp_path / "index"
    builder(index, corpus, HashEncoder()).build(corpus)
    enc = HashEncoder()
    assert builder(index, corpus, enc).update(corpus).mode == "noop" and enc.passages_seen == []


def test_update_with_another_variant_reembeds_everything(tmp_path: Path, corpus: Path, caplog) -> None:
    index = tmp_path / "index"
    builder(index, corpus, VariantEncoder("torch/int8")).build(corpus)
    n = len(IndexStore.load(index))

    same = VariantEncoder("torch/int8")
    assert builder(index, corpus, same).update(corpus).mode == "noop" and same.passages_seen == []

    other = VariantEncoder("onnx/int8-full", scale=3.0)
    with caplog.at_level(logging.WARNING, logger="qa.index.builder"):
        report = builder(index, corpus, other).update(corpus)
    assert report.mode == "build" and report.n_embedded == n == len(other.passages_seen)
    assert "re-embedding every chunk" in caplog.text and "'torch/int8'" in caplog.text
    store = IndexStore.load(index)
    assert store.manifest.encoder == "onnx/int8-full"
    # Every stored vector is the new encoder's, none left over from the old one.
    np.testing.assert_allclose(store.vectors, other.encode_passages([c.embed_text for c in store.chunks]), atol=1e-6)


def test_query_side_mismatch_warns(tmp_path: Path, corpus: Path, caplog) -> None:
    index = tmp_path / "index"
    builder(index, corpus, VariantEncoder("torch/int8")).build(corpus)
    m = IndexStore.load(index).manifest
    assert warn_if_encoder_differs(m, CachedEncoder(VariantEncoder("torch/int8")), index) is None
    with caplog.at_level(logging.WARNING, logger="qa.index.store"):
        problem = warn_if_encoder_differs(m, CachedEncoder(VariantEncoder("onnx/int8")), index)
    assert problem and "'torch/int8'" in problem and "'onnx/int8'" in problem and problem in caplog.text
    # An index from before variants were recorded warns a service that knows its own.
    _forget_encoder(index)
    old = IndexStore.load(index).manifest
    assert "unrecorded" in (warn_if_encoder_differs(old, CachedEncoder(VariantEncoder("onnx/int8-full")), index) or "")
    assert encoder_variant(HashEncoder()) == "" and encoder_mismatch(m, "") is None


def test_manifest_json_round_trip_keeps_encoder() -> None:
    m = Manifest("m", 4, "t1", "lex", 0, "flat", {}, {}, {}, "now", encoder="onnx/int8")
    assert Manifest.from_json(m.to_json()).encoder == "onnx/int8"


def test_service_warns_when_its_encoder_is_another_variant(tmp_path: Path, corpus: Path, monkeypatch, caplog) -> None:
    """GazetteService.load itself (what the API, UI and eval hold) says so, naming both variants."""
    from qa import service as service_mod
    from qa.config import Settings

    index = tmp_path / "index"
    builder(index, corpus, VariantEncoder("torch/int8")).build(corpus)
    settings = Settings(index_dir=index, corpus_dir=corpus)
    monkeypatch.setattr(service_mod, "make_encoder", lambda s: VariantEncoder("onnx/int8-full"))
    with caplog.at_level(logging.WARNING, logger="qa.index.store"):
        service_mod.GazetteService.load(settings, build_if_missing=False)
    assert "'torch/int8'" in caplog.text and "'onnx/int8-full'" in caplog.text
    caplog.clear()
    monkeypatch.setattr(service_mod, "make_encoder", lambda s: VariantEncoder("torch/int8"))
    with caplog.at_level(logging.WARNING, logger="qa.index.store"):
        service_mod.GazetteService.load(settings, build_if_missing=False)
    assert "the encoder in use" not in caplog.text
