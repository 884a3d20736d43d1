"""A full disk during an index build leaves the old index intact and serving (a real, small tmpfs)."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fault_support import fill, small_tmpfs  # noqa: E402
from index_fixtures import ISSUES, write_corpus  # noqa: E402
from test_index import _chunk_ids, build, make_builder, open_searcher  # noqa: E402

from qa.index.atomic import MANIFEST  # noqa: E402
from qa.index.integrity import file_checksums  # noqa: E402

pytest_plugins = ["api_support"]
ROOT = Path(__file__).resolve().parent.parent


def _bytes(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_full_disk_during_a_build_keeps_the_old_index(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        index_dir = disk / "index"
        build(index_dir, corpus)
        before, ids = _bytes(index_dir), _chunk_ids(index_dir)
        (corpus / "2024-01.txt").write_text(ISSUES["2023-06.txt"].replace("2023-06", "2024-01"), encoding="utf-8")
        ballast = fill(disk, leave=8192)  # room for a little, not for a second index
        for run in (lambda: make_builder(index_dir, corpus).update(corpus), lambda: make_builder(index_dir, corpus).build(corpus)):
            with pytest.raises(OSError) as err:
                run()
            assert err.value.errno == errno.ENOSPC
            assert _bytes(index_dir) == before and _chunk_ids(index_dir) == ids  # intact, and it verifies
            assert open_searcher(index_dir).search("共享单车", 1)
            assert sorted(p.name for p in disk.iterdir()) == sorted(["index", ".index.lock", "ballast"])  # no temp left
        ballast.unlink()
        make_builder(index_dir, corpus).update(corpus)  # with space again, the same update succeeds
        assert "2024-01.txt" in json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["files"]


@pytest.mark.slow
def test_cli_update_on_a_full_disk_is_one_line_and_changes_nothing(gazette_service, tmp_path: Path) -> None:
    """The real `qa index update` (real model, a copy of the real index, other index type = every file rewritten)."""
    src = Path(gazette_service.searcher.store.path)
    size = sum(p.stat().st_size for p in src.iterdir())
    with small_tmpfs(tmp_path / "disk", str(size + 4 * 2**20)) as disk:
        index_dir = disk / "index"
        shutil.copytree(src, index_dir)
        m = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        if not m.get("checksums"):  # as a current build writes it (a reused older index may lack them)
            m["checksums"] = file_checksums(index_dir)
            (index_dir / MANIFEST).write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
        before = _bytes(index_dir)
        env = dict(os.environ, PYTHONPATH=str(ROOT), QA_INDEX_TYPE="hnsw", QA_DATA_DIR=str(tmp_path / "data"),
                   QA_EMBEDDING_MODEL=gazette_service.settings.embedding_model,
                   QA_PRECOMPUTE_SENTENCES="false")  # a rewrite only: no sentence vectors to embed
        proc = subprocess.run([sys.executable, "-m", "qa.cli", "index", "update", "--index", str(index_dir)],
                              capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 1, proc.stderr[-2000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "disk is full" in errors[0] and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert _bytes(index_dir) == before
        assert sorted(p.name for p in disk.iterdir()) == sorted(["index", ".index.lock"])
