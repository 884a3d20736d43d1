"""Atomic replacement of an index directory.

A build writes a sibling temp dir, fsyncs it, then swaps: `dir -> dir.old`, `tmp -> dir`, delete `dir.old`.
A crash at any point leaves either the old or the new index complete on disk:
- before the first rename: `dir` is untouched (a stale temp dir is removed by the next build);
- between the renames: `dir` is missing and `dir.old` is complete (readers fall back to it, the next
  build renames it back);
- after the second rename: `dir` is new and complete, `dir.old` is garbage.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MANIFEST = "manifest.json"


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC however a library reports it: OSError, SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100),
    or faiss's RuntimeError text; follows SQLAlchemy's `.orig` and exception chains."""
    import sqlite3

    seen: BaseException | None = exc
    for _ in range(10):  # chains are short; bounded all the same
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if getattr(seen, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(seen, "sqlstate", None) == "53100" or getattr(seen, "pgcode", None) == "53100":
            return True
        text = str(seen).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def disk_full_error(exc: BaseException, where: Path) -> OSError:
    """One OSError(ENOSPC) for a failed write, whichever library raised it."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return exc
    return OSError(errno.ENOSPC, "No space left on device", str(where))


class IndexBusyError(RuntimeError):
    """Another process (or thread) holds the index's build lock."""


# Locks this thread already holds, by lock path: an operation that took the lock (qa.index.manage) may call the
# builder, which takes it again. Per thread, so two threads of one server still exclude each other.
_held = threading.local()


def old_path(index_dir: Path) -> Path:
    return index_dir.with_name(index_dir.name + ".old")


def _tmp_prefix(index_dir: Path) -> str:
    return f".{index_dir.name}.tmp-"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def readable_dir(index_dir: Path) -> Path | None:
    """Where a reader should load from: the index itself, or `.old` if a swap was cut short."""
    if (index_dir / MANIFEST).is_file():
        return index_dir
    old = old_path(index_dir)
    if (old / MANIFEST).is_file():
        return old
    return None


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One writer per index dir; the lock dies with the process, so kill -9 cannot leave it stuck.
    Re-entrant within one thread."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir.with_name(f".{index_dir.name}.lock")
    key = str(lock_path.resolve())
    counts: dict[str, int] = _held.__dict__.setdefault("counts", {})
    if counts.get(key):
        counts[key] += 1
        try:
            yield
        finally:
            counts[key] -= 1
        return
    with open(lock_path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(f"another build of {index_dir} is running (lock {lock_path}); try again when it ends") from exc
        counts[key] = 1
        try:
            yield
        finally:
            counts.pop(key, None)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def recover(index_dir: Path) -> None:
    """Finish or undo a swap an earlier process did not complete, and drop stale temp dirs.
    Call only while holding build_lock."""
    old = old_path(index_dir)
    if not index_dir.exists() and (old / MANIFEST).is_file():
        os.rename(old, index_dir)
        fsync_dir(index_dir.parent)
    elif old.exists() and (index_dir / MANIFEST).is_file():
        carry_over(old, index_dir)
        shutil.rmtree(old)
    for stale in index_dir.parent.glob(_tmp_prefix(index_dir) + "*"):
        shutil.rmtree(stale, ignore_errors=True)


def new_temp_dir(index_dir: Path) -> Path:
    tmp = index_dir.with_name(_tmp_prefix(index_dir) + uuid.uuid4().hex[:12])
    tmp.mkdir(parents=True)
    return tmp


def _listed_in_manifest(index_dir: Path) -> set[str]:
    """The files an index's manifest lists as its own (its checksums); empty for older manifests."""
    try:
        return set(json.loads((index_dir / MANIFEST).read_text(encoding="utf-8")).get("checksums") or {})
    except (OSError, ValueError, AttributeError):
        return set()


def carry_over(old: Path, new: Path) -> list[str]:
    """Move from the replaced index dir `old` into `new` what is not the index's own (not its manifest, not
    listed in it, not a name the new index has): a swap must not delete what another part put there
    (feedback used to live in the index dir)."""
    if not old.is_dir():
        return []
    owned = _listed_in_manifest(old)
    moved = []
    for p in sorted(old.iterdir()):
        if p.name == MANIFEST or p.name in owned or (new / p.name).exists():
            continue
        os.rename(p, new / p.name)
        moved.append(p.name)
    return moved


def commit(tmp: Path, index_dir: Path) -> None:
    """fsync every file in `tmp`, then swap it into place (carrying over what is not the index's own)."""
    for p in tmp.iterdir():
        if p.is_file():
            fsync_file(p)
    fsync_dir(tmp)
    old = old_path(index_dir)
    if index_dir.exists():
        if old.exists():
            shutil.rmtree(old)
        os.rename(index_dir, old)
    os.rename(tmp, index_dir)
    fsync_dir(index_dir.parent)
    if old.exists():
        carry_over(old, index_dir)
        shutil.rmtree(old)
