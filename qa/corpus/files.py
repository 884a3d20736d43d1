"""Which files make up a corpus, and their content hashes: one definition for the chunker, the
corpus manifest, the index builder and the eval baseline."""
from __future__ import annotations

import hashlib
from pathlib import Path


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The *.txt files directly in the corpus dir (not corpus/removed/), sorted."""
    return sorted(p for p in Path(corpus_dir).glob("*.txt") if p.is_file() and not p.name.startswith("."))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
