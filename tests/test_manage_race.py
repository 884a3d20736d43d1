"""The remove-during-add race, with two real processes: `qa index add` holds the build lock (its index step held
at a gate) while the real `qa index remove` CLI runs. The remove must change nothing and say so in one line; the
add then completes, and corpus and index agree. Bounded: the gate opens after the remove, at most 60 s."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from index_fixtures import ISSUES, write_corpus  # noqa: E402
from test_index import _expect_line, _spawn, build  # noqa: E402

from qa.index.store import IndexStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_cli_remove_during_an_add_changes_nothing(tmp_path: Path) -> None:
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    build(index_dir, corpus)
    src = tmp_path / "2024-01.txt"
    src.write_text(ISSUES["2023-06.txt"].replace("2023-06", "2024-01"), encoding="utf-8")
    gate = tmp_path / "gate"
    adder = _spawn("add-gated", str(index_dir), str(corpus), str(src), str(gate))
    try:
        _expect_line(adder, "starting")
        _expect_line(adder, "embedding")  # lock held, 2024-01.txt already copied in, index not yet swapped
        assert (corpus / "2024-01.txt").is_file()
        t0 = time.monotonic()
        remover = subprocess.run(
            [sys.executable, "-m", "qa.cli", "index", "remove", "2021-01", "--index", str(index_dir), "--corpus", str(corpus)],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        took = time.monotonic() - t0
        err = [line for line in remover.stderr.splitlines() if line.strip()]
        assert remover.returncode == 3, remover.stderr
        assert len(err) == 1 and err[0].startswith("not changed:") and "another build" in err[0], remover.stderr
        assert (corpus / "2021-01.txt").is_file() and not (corpus / "removed").exists()  # untouched
        assert took < 60  # it failed fast on the lock; it did not wait for the add or load a model
    finally:
        gate.touch()
        out, errs = adder.communicate(timeout=60)
    assert adder.returncode == 0 and "added 2024-01.txt" in out, errs
    store = IndexStore.load(index_dir)
    on_disk = sorted(p.name for p in corpus.glob("*.txt"))
    assert sorted(store.manifest.files) == on_disk == ["2021-01.txt", "2022-03.txt", "2023-06.txt", "2024-01.txt"]
    assert {c.source_file for c in store.chunks} == set(on_disk)
