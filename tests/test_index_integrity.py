"""Index integrity (qa/index/integrity.py): a sha256 of every index file in the manifest, checked at load; a
corrupted, truncated or missing file is one clear error naming it and the fix, never loaded, never carried into
an incremental update, never silently rebuilt."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_index import built, corpus, make_builder  # noqa: E402,F401 - built and corpus are fixtures

from qa.index.atomic import MANIFEST  # noqa: E402
from qa.index.integrity import IndexCorruptError, file_checksums  # noqa: E402
from qa.index.store import CHUNKS_DB, FAISS_FILE, VECTORS, IndexStore  # noqa: E402

pytest_plugins = ["api_support"]
ROOT = Path(__file__).resolve().parent.parent


def _bytes(index_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(index_dir.iterdir())}


def scribble(path: Path, seed: int = 0, n: int = 64) -> None:
    """Overwrite n random bytes in the middle of the file, size unchanged (a silent bit-rot)."""
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    start = len(data) // 2
    data[start:start + n] = bytes(rng.randrange(256) for _ in range(n))
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size * 2 // 3)


def test_manifest_records_every_file_but_itself(built: Path) -> None:
    m = json.loads((built / MANIFEST).read_text(encoding="utf-8"))
    assert set(m["checksums"]) == {CHUNKS_DB, VECTORS, FAISS_FILE} and m["format_version"] == 3
    assert m["checksums"] == file_checksums(built)
    IndexStore.load(built)  # verifies


@pytest.mark.parametrize("name", [FAISS_FILE, VECTORS, CHUNKS_DB])
@pytest.mark.parametrize("damage", [scribble, truncate])
def test_damaged_file_is_named_with_the_fix(built: Path, name: str, damage) -> None:
    damage(built / name)
    with pytest.raises(IndexCorruptError) as err:
        IndexStore.load(built)
    msg = str(err.value)
    assert str(built / name) in msg and "`qa index build`" in msg
    assert ("truncated" in msg) == (damage is truncate)


@pytest.mark.parametrize("name", [FAISS_FILE, VECTORS])
def test_update_never_carries_corrupted_data_forward(built: Path, corpus: Path, name: str) -> None:
    (corpus / "2024-01.txt").write_text((corpus / "2023-06.txt").read_text(encoding="utf-8").replace("2023-06", "2024-01"),
                                        encoding="utf-8")
    scribble(built / name, seed=1)
    before = _bytes(built)
    with pytest.raises(IndexCorruptError, match=name):
        make_builder(built, corpus).update(corpus)
    assert _bytes(built) == before  # nothing written, nothing rebuilt behind the user's back
    make_builder(built, corpus).build(corpus)  # the explicit fix
    assert "2024-01.txt" in IndexStore.load(built).manifest.files


def test_missing_manifest_is_an_error_not_a_rebuild(built: Path, corpus: Path) -> None:
    (built / MANIFEST).unlink()
    before = _bytes(built)
    with pytest.raises(IndexCorruptError, match="manifest.json is missing"):
        IndexStore.load(built)
    with pytest.raises(IndexCorruptError, match="qa index build"):
        make_builder(built, corpus).update(corpus)
    assert _bytes(built) == before
    make_builder(built, corpus).build(corpus)
    IndexStore.load(built)


def test_index_without_checksums_loads_and_update_adds_them(built: Path, corpus: Path) -> None:
    """An index written before format 2 still loads (a warning says it is unverified); the next update rewrites
    it once with checksums, reusing every vector."""
    m = json.loads((built / MANIFEST).read_text(encoding="utf-8"))
    del m["checksums"]
    m["format_version"] = 1
    (built / MANIFEST).write_text(json.dumps(m), encoding="utf-8")
    assert IndexStore.load(built).manifest.checksums == {}
    report = make_builder(built, corpus).update(corpus)
    assert report.mode == "update" and report.n_embedded == 0
    assert IndexStore.load(built).manifest.checksums == file_checksums(built)
    assert make_builder(built, corpus).update(corpus).mode == "noop"


# ---------------------------------------------------------------- the CLI, on a copy of the real index


@pytest.fixture(scope="module")
def real_copy(gazette_service, gazette_settings, tmp_path_factory) -> Path:
    """A copy of the real test index, with checksums as a build writes them (an older copy may lack them)."""
    src = Path(gazette_service.searcher.store.path)
    dst = tmp_path_factory.mktemp("real") / "index"
    shutil.copytree(src, dst)
    m = json.loads((dst / MANIFEST).read_text(encoding="utf-8"))
    if not m.get("checksums"):
        m["checksums"] = file_checksums(dst)
        (dst / MANIFEST).write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    return dst


def _qa_search(index_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QA_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "qa.cli", "search", "共享单车用户需要满多少岁", "--index", str(index_dir)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["scribble-faiss", "truncate-vectors", "no-manifest"])
def test_qa_search_on_a_damaged_index_is_one_line(real_copy: Path, tmp_path: Path, case: str) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(real_copy, index_dir)
    if case == "scribble-faiss":
        scribble(index_dir / FAISS_FILE)
    elif case == "truncate-vectors":
        truncate(index_dir / VECTORS)
    else:
        (index_dir / MANIFEST).unlink()
    before = _bytes(index_dir)
    proc = _qa_search(index_dir, tmp_path)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "`qa index build`" in errors[0] and str(index_dir) in errors[0]
    assert _bytes(index_dir) == before  # no rebuild started
    if case != "no-manifest":
        ok = _qa_search(real_copy, tmp_path)
        assert ok.returncode == 0 and "[1]" in ok.stdout
