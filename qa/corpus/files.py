"""Which files make up a corpus, and their content hashes: one definition for the chunker, the
corpus manifest, the index builder and the eval baseline.

The corpus dir holds gazette issues at its root (the bundled layout) and one folder per collection
(corpus/<collection>/…, any depth). corpus/removed/, hidden files and folders, and manifest.json are not
part of it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from qa.ingest.detect import SUPPORTED_SUFFIXES

REMOVED_DIR = "removed"
MANIFEST_NAME = "manifest.json"


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Supported files under the corpus dir (not removed/, not hidden), sorted by their relative path."""
    root = Path(corpus_dir)
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).parts
        if not p.is_file() or any(part.startswith(".") for part in rel) or rel[0] == REMOVED_DIR:
            continue
        if p.suffix.lower() in SUPPORTED_SUFFIXES and p.name != MANIFEST_NAME:
            out.append(p)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
