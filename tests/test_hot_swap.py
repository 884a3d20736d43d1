"""Hot swap: the running service follows its index on disk. Real index, search and answer code on the toy
gazette of index_fixtures (its chunker and hash encoder); the slow test does it with the real model and server."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from index_fixtures import ISSUES, HashEncoder, write_corpus  # noqa: E402
from test_index import make_builder  # noqa: E402

from qa.api.state import ServiceHolder  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.index.manage import add_issue_files, remove_files  # noqa: E402
from qa.index.search import HybridSearcher  # noqa: E402
from qa.service import GazetteService  # noqa: E402

NEW_TEXT = "新增议题：城市公园夜间开放时间延长至二十二时。"


@pytest.fixture
def setup(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    enc = HashEncoder()
    make_builder(index, corpus, enc).build(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index)
    searcher = HybridSearcher.open(settings, enc)
    holder = ServiceHolder(settings, service=GazetteService(settings, enc, searcher))
    return holder, corpus, index, enc, tmp_path


def _texts(service, query: str) -> str:
    return "\n".join(h.chunk.text for h in service.search(query, top_k=3))


def _incoming(tmp_path: Path) -> Path:
    src = tmp_path / "incoming.txt"
    src.write_text(ISSUES["2023-06.txt"].replace("2023-06", "2024-01") + "\n" + NEW_TEXT + "\n", encoding="utf-8")
    return src


def test_add_and_remove_are_picked_up_without_restart(setup) -> None:
    holder, corpus, index, enc, tmp_path = setup
    old = holder.get()
    assert not holder.reload_if_changed()  # nothing changed yet
    assert "夜间开放" not in _texts(old, "公园夜间开放时间")
    add_issue_files(index, corpus, [(_incoming(tmp_path), "2024-01.txt")],
                    lambda: make_builder(index, corpus, enc).update(corpus))
    assert holder.reload_if_changed()
    new = holder.get()
    assert new is not old and new.encoder is old.encoder  # the model is shared, not reloaded
    assert "夜间开放" in _texts(new, "公园夜间开放时间")
    assert "夜间开放" not in _texts(old, "公园夜间开放时间")  # a request holding the old service finishes on it
    assert not holder.reload_if_changed()
    remove_files(index, corpus, ["2024-01.txt"], lambda: make_builder(index, corpus, enc).update(corpus))
    assert holder.reload_if_changed()
    assert "夜间开放" not in _texts(holder.get(), "公园夜间开放时间")


def test_an_index_that_fails_to_load_leaves_the_old_one_serving(setup) -> None:
    holder, corpus, index, enc, tmp_path = setup
    old = holder.get()
    add_issue_files(index, corpus, [(_incoming(tmp_path), "2024-01.txt")],
                    lambda: make_builder(index, corpus, enc).update(corpus))
    (index / "faiss.index").write_bytes(b"not a faiss index")
    assert not holder.reload_if_changed()
    assert holder.get() is old and _texts(old, "共享单车")
    assert not holder.reload_if_changed()  # the same broken version is not retried on every poll
