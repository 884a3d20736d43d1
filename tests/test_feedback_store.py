"""The feedback database (qa/api/feedback.py): its own place outside the index dir, on SQLite and on a real
PostgreSQL (pgserver), the one-time migration of an old index_dir/feedback.sqlite3, index builds that never
touch it, and a full disk (a small tmpfs) answered with 507."""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from fault_support import fill, small_tmpfs  # noqa: E402
from index_fixtures import write_corpus  # noqa: E402
from test_index import build  # noqa: E402

from qa.api.app import create_app  # noqa: E402
from qa.api.feedback import FeedbackStorageFull, FeedbackStore, migrate_legacy  # noqa: E402
from qa.config import Settings  # noqa: E402

pytest_plugins = ["api_support"]

LEGACY_SCHEMA = """CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
 question TEXT NOT NULL, answer_id TEXT NOT NULL, rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
 comment TEXT NOT NULL DEFAULT '', answer TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT 'api')"""


def write_legacy(index_dir: Path, n: int) -> Path:
    """An index dir's feedback.sqlite3 as the project wrote it before (WAL mode, the old schema)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    db = index_dir / "feedback.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(LEGACY_SCHEMA)
        conn.executemany("INSERT INTO feedback (created_at, question, answer_id, rating, comment, answer, source) "
                         "VALUES (?,?,?,?,?,?,?)",
                         [(f"2026-01-01T00:00:{i % 60:02d}+00:00", f"旧问题{i}", f"a{i}", 1 if i % 2 else -1,
                           "评论" if i % 3 == 0 else "", "旧答案", "ui" if i % 5 == 0 else "api") for i in range(n)])
    return db


# ---------------------------------------------------------------- the two databases


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> Iterator[str]:
    """A real PostgreSQL 16 started by pgserver for this module, stopped and deleted after it."""
    try:
        import pgserver
    except ImportError:
        pytest.skip("pgserver is not installed (it is in the test extra: pip install -e '.[test]')")
    pgdata = tmp_path_factory.mktemp("pgdata")
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="delete")
    except Exception as exc:  # noqa: BLE001 - the reason is the skip message
        pytest.skip(f"pgserver could not start PostgreSQL here: {type(exc).__name__}: {exc}")
    try:
        uri = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
        yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def feedback_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'feedback.sqlite3'}"
    base = request.getfixturevalue("postgres")
    # a database of its own per test, so counts start at zero
    import sqlalchemy

    name = f"fb_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return base.replace("/postgres?", f"/{name}?", 1)


def test_add_list_count(feedback_url: str) -> None:
    store = FeedbackStore(feedback_url)
    a = store.add("问题一", "id-1", 1, "很好", "答案一")
    b = store.add("问题二", "id-2", -1, source="ui")
    assert b.id > a.id and store.count() == 2
    assert [r.to_dict() for r in store.list()] == [b.to_dict(), a.to_dict()]
    assert [r.id for r in store.list(limit=1, offset=1)] == [a.id]
    with pytest.raises(ValueError):
        store.add("q", "x", 0)
    store.dispose()


def test_legacy_file_is_migrated_once_and_kept(feedback_url: str, tmp_path: Path) -> None:
    index_dir, data_dir = tmp_path / "index", tmp_path / "data"
    legacy = write_legacy(index_dir, 25)
    store = FeedbackStore(feedback_url, legacy_dir=index_dir, data_dir=data_dir)
    new = store.add("新问题", "n1", 1)  # first use migrates, then adds
    assert store.count() == 26 and new.id > max(r.id for r in store.list(limit=25, offset=1))
    assert not legacy.exists() and not list(index_dir.iterdir())  # out of the index dir, WAL files too
    kept = list(data_dir.glob("feedback-migrated-from-index-*.sqlite3"))
    assert len(kept) == 1
    with sqlite3.connect(kept[0]) as conn:  # renamed, never deleted: the old rows are all still there
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 25
    # the same rows again (a crash between the copy and the move): copied once only
    shutil.copyfile(kept[0], legacy)
    assert migrate_legacy(store, index_dir, data_dir) == 0
    assert store.count() == 26 and not legacy.exists()
    assert {r.question for r in store.list(limit=100)} == {"新问题", *(f"旧问题{i}" for i in range(25))}
    # a second store (a restart) finds nothing to do
    again = FeedbackStore(feedback_url, legacy_dir=index_dir, data_dir=data_dir)
    assert again.count() == 26
    store.dispose()
    again.dispose()


# ---------------------------------------------------------------- index operations never touch feedback


def test_builds_keep_feedback_and_carry_an_old_file_over(tmp_path: Path) -> None:
    """Real builds (toy chunker and hash encoder) swap the index dir twice: the feedback database in the data
    dir is untouched, and an old feedback file still inside the index dir is carried over, not deleted."""
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    settings = Settings(index_dir=index_dir, data_dir=tmp_path / "data", corpus_dir=corpus)
    store = FeedbackStore.from_settings(settings)
    store.add("问题", "a1", 1)
    build(index_dir, corpus)
    legacy = write_legacy(index_dir, 3)
    build(index_dir, corpus)
    (corpus / "2022-03.txt").unlink()
    from test_index import make_builder

    make_builder(index_dir, corpus).update(corpus)
    assert legacy.is_file() and store.count() == 1
    with sqlite3.connect(legacy) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 3
    assert store.count() == 1


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "tiny", "512k") as mnt:
        yield mnt


def test_feedback_on_a_full_disk_is_507_then_recovers(tiny_disk: Path, tmp_path: Path) -> None:
    from qa.service import GazetteService

    settings = Settings(index_dir=tmp_path / "index", data_dir=tiny_disk / "data")
    app = create_app(GazetteService, settings, ui=False)  # never started: feedback needs no index
    client = TestClient(app, raise_server_exceptions=True)
    body = {"question": "共享单车用户需要满多少岁？", "answer_id": "a1", "rating": "up"}
    assert client.post("/v1/feedback", json=body).status_code == 201
    ballast = fill(tiny_disk)
    big = dict(body, comment="评" * 3900)  # needs new pages, which the full disk cannot give
    r = client.post("/v1/feedback", json=big)
    assert r.status_code == 507, r.text
    assert r.json()["error"] == "insufficient_storage" and "disk is full" in r.json()["detail"]
    listed = client.get("/v1/feedback")  # reading still works
    assert listed.status_code == 200 and listed.json()["total"] == 1
    ballast.unlink()
    assert client.post("/v1/feedback", json=big).status_code == 201
    assert client.get("/v1/feedback").json()["total"] == 2
    with pytest.raises(FeedbackStorageFull):  # the store's own error, as the UI sees it
        fill(tiny_disk)
        app.state.feedback.add("q", "a", 1, "评" * 3900)


# ---------------------------------------------------------------- a running server across a real rebuild


@pytest.mark.slow
def test_running_server_keeps_feedback_across_a_rebuild(gazette_service, tmp_path: Path) -> None:
    """The reported bug: rows gone after `qa index update` and 500s until a restart. Here a real uvicorn server,
    an index dir holding an old feedback file, and the real `qa index update` CLI rewriting and swapping every
    index file (another index type: no re-embedding, the same swap as a full build)."""
    import os
    import subprocess

    import httpx
    from api_support import ThreadedServer, free_port, wait_ready

    index_dir, data_dir = tmp_path / "index", tmp_path / "data"
    shutil.copytree(gazette_service.searcher.store.path, index_dir)
    write_legacy(index_dir, 30)
    settings = Settings(index_dir=index_dir, data_dir=data_dir)
    app = create_app(gazette_service, settings, ui=False)
    port = free_port()
    with ThreadedServer(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(2):
                r = http.post("/v1/feedback", json={"question": f"重建前{i}", "answer_id": "x", "rating": "up"})
                assert r.status_code == 201, r.text
            assert http.get("/v1/feedback").json()["total"] == 32  # 30 migrated + 2
            assert not (index_dir / "feedback.sqlite3").exists()
            env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent), QA_INDEX_TYPE="hnsw",
                       QA_DATA_DIR=str(data_dir), QA_PRECOMPUTE_SENTENCES="false")  # a rewrite: nothing to embed
            proc = subprocess.run([sys.executable, "-m", "qa.cli", "index", "update", "--index", str(index_dir)],
                                  capture_output=True, text=True, timeout=900, env=env)
            assert proc.returncode == 0 and proc.stdout.startswith("update:"), proc.stderr[-2000:]
            assert json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["index_type"] == "hnsw"
            listed = http.get("/v1/feedback?limit=1000")
            assert listed.status_code == 200 and listed.json()["total"] == 32
            assert http.post("/v1/feedback", json={"question": "重建后", "answer_id": "y", "rating": -1}).status_code == 201
            assert http.get("/v1/feedback").json()["total"] == 33
    assert len(list(data_dir.glob("feedback-migrated-from-index-*.sqlite3"))) == 1
