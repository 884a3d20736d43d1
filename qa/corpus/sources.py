"""A corpus file of any kind -> an Issue: read by qa.ingest, then parsed as a gazette issue or one document.

Collections are folders: corpus/<collection>/… holds a collection's files. A file at the corpus root
belongs to the collection its gazette masthead names (阳泉市人民政府公报 for the bundled issues), or to
none ("") when it is a single document. Keys: a gazette issue at the root keeps its issue as key prefix
(2022-03#05, as before); any other file gets a short id of its corpus path (d3f9a2c1b7e#01), stable
while the file stays where it is.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from qa.corpus.document import parse_single
from qa.corpus.parser import looks_like_gazette, parse_issue
from qa.corpus.types import Issue
from qa.ingest import read_file
from qa.ingest.ocr import OcrEngine


def file_id(rel: str) -> str:
    """The key prefix of a non-root or non-gazette file: 'd' + 10 hex digits of its corpus path."""
    return "d" + hashlib.sha1(rel.encode("utf-8")).hexdigest()[:10]


def collection_of(rel: str) -> str:
    """The collection folder of a corpus path ('' at the root)."""
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else ""


def load_source(path: Path, corpus_dir: Path | None = None, *, cache_dir: Path | None = None,
                ocr: OcrEngine | None = None) -> Issue:
    """Read and parse one file. `corpus_dir` makes its name relative (and names its collection); without it
    the file stands alone (its name is its bare file name). Raises qa.ingest.UnsupportedFile for files no
    reader takes."""
    path = Path(path)
    rel = path.resolve().relative_to(Path(corpus_dir).resolve()).as_posix() if corpus_dir else path.name
    text = read_file(path, ocr=ocr, cache_dir=cache_dir)
    folder = collection_of(rel)
    if looks_like_gazette(text.lines):
        issue = parse_issue(path, rel, lines=text.lines)
        issue.collection = folder or issue.masthead
        issue.source_id = issue.issue if not folder else f"{file_id(rel)}"
    else:
        issue = parse_single(text.lines, rel, source_id=file_id(rel), collection=folder,
                             title_hint=text.title_hint, declared=text.heading_levels)
    issue.reader = text.kind
    issue.n_pages = text.n_pages
    issue.ocr_pages = list(text.ocr_pages)
    if text.n_pages:
        issue.pages, issue.page_lines = list(text.pages), list(text.page_lines)
    for doc in issue.documents:
        doc.collection = issue.collection
        doc.source_id = "" if issue.source_id == issue.issue else issue.source_id
        doc.source_file = rel
        for p in doc.paragraphs:
            p.page, p.page_line = issue.page_of(p.line_start)
    return issue
