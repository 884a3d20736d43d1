"""User feedback on answers, in a database of its own (SQLAlchemy URL `feedback_url`), never in the index dir.

Shared by the API (POST/GET /v1/feedback) and the UI (👍/👎). The default is a SQLite file in `data_dir`
(QA_DATA_DIR); replicas share a server database (QA_FEEDBACK_URL=postgresql+psycopg://…). Index builds
swap the index directory out, so feedback kept there (as before) was lost on every rebuild: an old
`index_dir/feedback.sqlite3` is copied in once and then moved out of the index dir (see migrate_legacy).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
import threading
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint, Column, Integer, MetaData, SmallInteger, String, Table, Text, create_engine, event, func, insert,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from qa.index.atomic import is_disk_full

if TYPE_CHECKING:
    from qa.config import Settings

log = logging.getLogger(__name__)
LEGACY_FILE = "feedback.sqlite3"  # where feedback lived before: inside the index dir
DEFAULT_FILE = "feedback.sqlite3"  # in data_dir

_meta = MetaData()
feedback_table = Table(
    "feedback", _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(40), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer_id", Text, nullable=False),
    Column("rating", SmallInteger, CheckConstraint("rating IN (-1, 1)", name="feedback_rating"), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("answer", Text, nullable=False, server_default=""),
    Column("source", String(16), nullable=False, server_default="api"),
)
# One row per legacy file copied in, written in the same transaction as its rows: a second run (or a run
# after a crash between the copy and the move) finds it and copies nothing twice.
imports_table = Table(
    "feedback_imports", _meta,
    Column("key", String(64), primary_key=True),  # sha256 of the copied rows
    Column("source", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("imported_at", String(40), nullable=False),
)


class FeedbackUnavailable(RuntimeError):
    """The feedback database cannot be reached or written (the API answers 503)."""


class FeedbackStorageFull(FeedbackUnavailable):
    """The feedback database's disk is full (the API answers 507)."""


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    created_at: str
    question: str
    answer_id: str
    rating: int  # +1 / -1
    comment: str
    answer: str
    source: str  # "api" or "ui"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_rating(value: str | int) -> int:
    if value in ("up", "+1", 1, "1", "👍"):
        return 1
    if value in ("down", "-1", -1, "👎"):
        return -1
    raise ValueError(f"rating must be up/down or +1/-1, got {value!r}")


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(Path(data_dir) / DEFAULT_FILE).resolve()}"


def _storage_error(exc: BaseException, doing: str) -> FeedbackUnavailable:
    if is_disk_full(exc):
        return FeedbackStorageFull(f"feedback not {doing}: the feedback database's disk is full; free space or point "
                                   "QA_FEEDBACK_URL elsewhere")
    orig = getattr(exc, "orig", None) or exc
    return FeedbackUnavailable(f"feedback not {doing}: the feedback database is unavailable ({type(orig).__name__})")


class FeedbackStore:
    """Feedback rows in the database at `url`. Tables are created on first use (the database may not be
    reachable when the app starts); `legacy_dir` is an index dir whose old feedback file is migrated then."""

    def __init__(self, url: str, legacy_dir: Path | None = None, data_dir: Path | None = None) -> None:
        self.url = url
        self.legacy_dir = Path(legacy_dir) if legacy_dir is not None else None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._ready = False

    @classmethod
    def from_settings(cls, settings: "Settings") -> "FeedbackStore":
        url = settings.feedback_url or default_url(settings.data_dir)
        return cls(url, legacy_dir=settings.index_dir, data_dir=settings.data_dir)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = make_url(self.url)
            if url.get_backend_name() == "sqlite":
                if url.database and url.database != ":memory:":
                    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 10})

                @event.listens_for(engine, "connect")
                def _wal(dbapi_conn, _record) -> None:  # readers never block the writer
                    dbapi_conn.execute("PRAGMA journal_mode=WAL")
            else:
                engine = create_engine(url, pool_pre_ping=True)
            self._engine = engine
        return self._engine

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            _meta.create_all(self.engine, checkfirst=True)
            if self.legacy_dir is not None:
                migrate_legacy(self, self.legacy_dir, self.data_dir)
            self._ready = True

    def add(self, question: str, answer_id: str, rating: int, comment: str = "", answer: str = "",
            source: str = "api") -> FeedbackRecord:
        if rating not in (1, -1):
            raise ValueError("rating must be +1 or -1")
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        row = dict(created_at=created, question=question, answer_id=answer_id, rating=rating, comment=comment or "",
                   answer=answer or "", source=source)
        try:
            self._ensure_ready()
            with self.engine.begin() as conn:
                row_id = conn.execute(insert(feedback_table).values(**row).returning(feedback_table.c.id)).scalar_one()
        except (SQLAlchemyError, OSError) as exc:
            log.error("storing feedback failed: %s", exc)
            raise _storage_error(exc, "stored") from exc
        return FeedbackRecord(int(row_id), **row)

    def list(self, limit: int = 100, offset: int = 0) -> list[FeedbackRecord]:
        t = feedback_table
        q = (select(t.c.id, t.c.created_at, t.c.question, t.c.answer_id, t.c.rating, t.c.comment, t.c.answer, t.c.source)
             .order_by(t.c.id.desc()).limit(limit).offset(offset))
        try:
            self._ensure_ready()
            with self.engine.connect() as conn:
                return [FeedbackRecord(*r) for r in conn.execute(q).all()]
        except (SQLAlchemyError, OSError) as exc:
            raise _storage_error(exc, "read") from exc

    def count(self) -> int:
        try:
            self._ensure_ready()
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(feedback_table)).scalar_one())
        except (SQLAlchemyError, OSError) as exc:
            raise _storage_error(exc, "read") from exc

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


_LEGACY_COLUMNS = ("created_at", "question", "answer_id", "rating", "comment", "answer", "source")


def migrate_legacy(store: FeedbackStore, index_dir: Path, data_dir: Path | None = None) -> int:
    """Copy the rows of an old `index_dir/feedback.sqlite3` into `store` once, then move that file out of the
    index dir (into `data_dir`, else beside the index dir) under a name that says it was migrated; never
    delete it. Returns the number of rows copied (0 when there is nothing to do or it was done before)."""
    legacy = Path(index_dir) / LEGACY_FILE
    if not legacy.is_file():
        return 0
    try:
        target = make_url(store.url)
        if target.get_backend_name() == "sqlite" and target.database and Path(target.database).resolve() == legacy.resolve():
            return 0  # configured to use that very file: nothing to move
    except Exception:  # noqa: BLE001 - an unparsable URL fails later, with its own message
        pass
    # A normal (not read-only) open folds a left-over WAL into the file before it is read and moved.
    with closing(sqlite3.connect(legacy, timeout=10)) as src:
        has_table = src.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='feedback'").fetchone()
        rows = (src.execute(f"SELECT {', '.join(_LEGACY_COLUMNS)} FROM feedback ORDER BY id").fetchall()
                if has_table else [])
    key = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()
    copied = 0
    with store.engine.begin() as conn:
        done = conn.execute(select(imports_table.c.key).where(imports_table.c.key == key)).first()
        if done is None:
            if rows:
                conn.execute(insert(feedback_table), [dict(zip(_LEGACY_COLUMNS, r)) for r in rows])
            conn.execute(insert(imports_table).values(key=key, source=str(legacy), rows=len(rows),
                                                      imported_at=datetime.now(timezone.utc).isoformat(timespec="seconds")))
            copied = len(rows)
    dest_dir = Path(data_dir) if data_dir is not None else Path(index_dir).parent
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest = dest_dir / f"feedback-migrated-from-{Path(index_dir).name}-{stamp}.sqlite3"
    shutil.move(str(legacy), str(dest))
    for suffix in ("-wal", "-shm"):  # normally gone after the close above
        side = legacy.with_name(legacy.name + suffix)
        if side.exists():
            shutil.move(str(side), str(dest.with_name(dest.name + suffix)))
    log.warning("feedback: %d rows copied from %s into %s; the old file is kept as %s",
                copied, legacy, make_url(store.url).render_as_string(hide_password=True), dest)
    return copied
