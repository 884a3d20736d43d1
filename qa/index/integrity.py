"""Integrity of an index directory: a sha256 and size of every file, recorded in the manifest and checked at load.

A flipped byte in faiss.index or vectors.npy otherwise loads silently (and an incremental update would copy the
bad vectors into the next index); a truncated file gave a raw traceback. Checked here, either is one clear error
naming the file and the fix. Hashing the bundled index (~13 MB) takes a few tens of milliseconds.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from qa.index.atomic import MANIFEST

REBUILD_HINT = "rebuild the index with `qa index build`"


class IndexCorruptError(RuntimeError):
    """An index file is missing, truncated or altered since the build wrote it. Never repaired silently."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"index file {path} {problem}; {REBUILD_HINT}")
        self.path = path


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()  # reads into one reused buffer


def file_checksums(index_dir: Path) -> dict[str, str]:
    """{file name: "sha256:<hex>:<size>"} for every file of a written index dir except the manifest itself."""
    out = {}
    for p in sorted(Path(index_dir).iterdir()):
        if p.is_file() and p.name != MANIFEST:
            out[p.name] = f"sha256:{sha256_of(p)}:{p.stat().st_size}"
    return out


def verify(index_dir: Path, checksums: dict[str, str]) -> None:
    """Raise IndexCorruptError for the first file that is missing, of another size or another sha256.
    Sizes first: a truncated file is named as such without reading the others."""
    parsed = {}
    for name, value in checksums.items():
        _, digest, size = value.split(":")
        parsed[name] = (digest, int(size))
    for name, (_, size) in parsed.items():
        p = Path(index_dir) / name
        if not p.is_file():
            raise IndexCorruptError(p, "is missing")
        actual = p.stat().st_size
        if actual != size:
            raise IndexCorruptError(p, f"is {actual} bytes, the manifest says {size} (truncated or overwritten)")
    for name, (digest, _) in parsed.items():
        p = Path(index_dir) / name
        if sha256_of(p) != digest:
            raise IndexCorruptError(p, "does not match the sha256 in its manifest (corrupted)")


def orphaned_files(index_dir: Path, known: tuple[str, ...]) -> list[str]:
    """Index files present without a manifest: the sign of a damaged index, not of a missing one."""
    d = Path(index_dir)
    return sorted(n for n in known if (d / n).is_file()) if d.is_dir() else []
