"""User feedback on answers, in SQLite beside the index (index_dir/feedback.sqlite3).

Shared by the API (POST/GET /v1/feedback) and the UI (👍/👎). One short-lived connection per call:
sqlite3 connections must not cross threads, and writes are rare.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

FEEDBACK_FILE = "feedback.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'api'
)
"""


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


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def beside_index(cls, index_dir: Path) -> "FeedbackStore":
        return cls(Path(index_dir) / FEEDBACK_FILE)

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:  # the index dir may not exist before the first build
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        if not self._ready:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            conn.commit()
            self._ready = True
        return conn

    def add(self, question: str, answer_id: str, rating: int, comment: str = "", answer: str = "",
            source: str = "api") -> FeedbackRecord:
        if rating not in (1, -1):
            raise ValueError("rating must be +1 or -1")
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock, closing(self._connect()) as conn:
            cur = conn.execute(
                "INSERT INTO feedback (created_at, question, answer_id, rating, comment, answer, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (created, question, answer_id, rating, comment or "", answer or "", source),
            )
            conn.commit()
            row_id = int(cur.lastrowid or 0)
        return FeedbackRecord(row_id, created, question, answer_id, rating, comment or "", answer or "", source)

    def list(self, limit: int = 100, offset: int = 0) -> list[FeedbackRecord]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, created_at, question, answer_id, rating, comment, answer, source FROM feedback "
                "ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [FeedbackRecord(*r) for r in rows]

    def count(self) -> int:
        with closing(self._connect()) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])
