"""Corpus changes (qa.index.manage): the lock comes before the corpus, and a failed change leaves corpus and
index as they were. Real index code on the toy gazette of index_fixtures (its chunker and hash encoder)."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from index_fixtures import ISSUES, write_corpus  # noqa: E402
from test_index import FailingEncoder, _chunk_ids, _expect_line, _spawn, built, corpus, make_builder  # noqa: E402,F401 - built and corpus are fixtures

from qa.index.manage import CorpusChangeError, IndexBusyError, add_issue_files, remove_files  # noqa: E402


def _update(index: Path, corpus: Path, enc=None):
    return lambda: make_builder(index, corpus, enc).update(corpus)


def _snapshot(corpus: Path) -> dict[str, bytes]:
    return {str(p.relative_to(corpus)): p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()}


def _new_issue(tmp_path: Path) -> Path:
    src = tmp_path / "incoming.txt"
    src.write_text(ISSUES["2023-06.txt"].replace("2023-06", "2024-01"), encoding="utf-8")
    return src


def test_add_then_remove(built: Path, corpus: Path, tmp_path: Path) -> None:
    before = _chunk_ids(built)
    change = add_issue_files(built, corpus, [(_new_issue(tmp_path), "2024-01.txt")], _update(built, corpus))
    assert change.added == ["2024-01.txt"] and change.report.files_added == ["2024-01.txt"]
    assert len(_chunk_ids(built)) > len(before)
    change = remove_files(built, corpus, ["2024-01.txt"], _update(built, corpus))
    assert change.removed == ["2024-01.txt"] and (corpus / "removed" / "2024-01.txt").is_file()
    assert _chunk_ids(built) == before


def test_remove_while_another_build_holds_the_lock_changes_nothing(built: Path, corpus: Path, tmp_path: Path) -> None:
    before_corpus, before_index = _snapshot(corpus), _chunk_ids(built)
    other = write_corpus(tmp_path / "other", {"2019-01.txt": ISSUES["2023-06.txt"].replace("2023-06", "2019-01")})
    proc = _spawn("build-slow", str(built), str(other))  # holds the build lock while its encoder sleeps
    try:
        _expect_line(proc, "starting")
        _expect_line(proc, "embedding")
        with pytest.raises(IndexBusyError, match="another build"):
            remove_files(built, corpus, ["2022-03.txt"], _update(built, corpus))
        with pytest.raises(IndexBusyError):
            add_issue_files(built, corpus, [(_new_issue(tmp_path), "2024-01.txt")], _update(built, corpus))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert _snapshot(corpus) == before_corpus
    assert _chunk_ids(built) == before_index


def test_failed_index_step_restores_the_corpus(built: Path, corpus: Path, tmp_path: Path) -> None:
    before_corpus, before_index = _snapshot(corpus), _chunk_ids(built)
    with pytest.raises(RuntimeError, match="crashed"):
        add_issue_files(built, corpus, [(_new_issue(tmp_path), "2024-01.txt")], _update(built, corpus, FailingEncoder()))
    assert _snapshot(corpus) == before_corpus
    # a replacement that fails puts the old file back, byte for byte
    changed = tmp_path / "changed.txt"
    changed.write_text(ISSUES["2022-03.txt"] + "\n新增一段。\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="crashed"):
        add_issue_files(built, corpus, [(changed, "2022-03.txt")], _update(built, corpus, FailingEncoder()), replace=True)
    assert _snapshot(corpus) == before_corpus
    assert _chunk_ids(built) == before_index
    assert not [p for p in corpus.iterdir() if p.name.startswith(".")]


def test_replacing_needs_replace(built: Path, corpus: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed.txt"
    changed.write_text(ISSUES["2022-03.txt"] + "\n新增一段。\n", encoding="utf-8")
    before = _snapshot(corpus)
    with pytest.raises(CorpusChangeError, match="--replace"):
        add_issue_files(built, corpus, [(changed, "2022-03.txt")], _update(built, corpus))
    assert _snapshot(corpus) == before
    same = tmp_path / "same.txt"
    same.write_bytes((corpus / "2022-03.txt").read_bytes())
    assert add_issue_files(built, corpus, [(same, "2022-03.txt")], _update(built, corpus)).added == []
    change = add_issue_files(built, corpus, [(changed, "2022-03.txt")], _update(built, corpus), replace=True)
    assert change.replaced == ["2022-03.txt"] and change.report.files_changed == ["2022-03.txt"]


def test_remove_unknown_name_is_refused(built: Path, corpus: Path) -> None:
    with pytest.raises(CorpusChangeError, match="no 1999-01.txt"):
        remove_files(built, corpus, ["1999-01.txt"], _update(built, corpus))
