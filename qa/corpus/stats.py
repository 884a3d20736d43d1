"""Corpus-level views: stats per file (issue or document, what a document lacks) and the corpus manifest."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.corpus.chunker import chunk_issue
from qa.corpus.files import MANIFEST_NAME, corpus_files, sha256_file
from qa.corpus.sources import load_source
from qa.corpus.types import Issue


def load_issues(corpus_dir: Path, cache_dir: Path | None = None) -> list[Issue]:
    """Every corpus file parsed: gazette issues and single documents (Issue.kind says which)."""
    return [load_source(p, corpus_dir, cache_dir=cache_dir) for p in corpus_files(corpus_dir)]


@dataclass
class IssueStats:
    issue: str
    source_file: str
    publish_date: str
    total_number: int | None
    documents: int
    toc_entries: int
    chunks: int
    personnel_records: int
    mismatches: list[str]
    kind: str = "gazette"
    collection: str = ""
    reader: str = "text"
    pages: int = 0
    ocr_pages: int = 0
    title: str = ""  # a single document's title
    missing: list[str] = field(default_factory=list)  # a single document's title/文号/日期/章节 not found


def corpus_stats(corpus_dir: Path, cache_dir: Path | None = None) -> dict:
    per_issue = []
    for issue in load_issues(corpus_dir, cache_dir):
        chunks = chunk_issue(issue)
        doc = issue.documents[0] if issue.kind == "document" and issue.documents else None
        per_issue.append(IssueStats(
            issue=issue.issue, source_file=issue.source_file, publish_date=issue.publish_date,
            total_number=issue.total_number, documents=len(issue.documents), toc_entries=len(issue.toc),
            chunks=len(chunks), personnel_records=sum(len(d.personnel) for d in issue.documents),
            mismatches=issue.mismatches, kind=issue.kind, collection=issue.collection, reader=issue.reader,
            pages=issue.n_pages, ocr_pages=len(issue.ocr_pages), title=doc.title if doc else "",
            missing=list(doc.missing) if doc else [],
        ))
    gazettes = [s for s in per_issue if s.kind == "gazette"]
    singles = [s for s in per_issue if s.kind == "document"]
    collections: dict[str, dict] = {}
    for s in per_issue:
        c = collections.setdefault(s.collection, {"name": s.collection, "files": 0, "documents": 0, "chunks": 0})
        c["files"] += 1
        c["documents"] += s.documents
        c["chunks"] += s.chunks
    missing: dict[str, int] = {}
    for s in singles:
        for what in s.missing:
            missing[what] = missing.get(what, 0) + 1
    return {
        "issues": len(gazettes),
        "single_documents": len(singles),
        "documents": sum(s.documents for s in per_issue),
        "chunks": sum(s.chunks for s in per_issue),
        "personnel_records": sum(s.personnel_records for s in per_issue),
        "toc_mismatches": sum(len(s.mismatches) for s in per_issue),
        "missing": missing,  # how many single documents lack a title / 文号 / 日期 / 章节
        "collections": sorted(collections.values(), key=lambda c: c["name"]),
        "per_issue": [asdict(s) for s in per_issue],
    }


def build_manifest(corpus_dir: Path) -> list[dict]:
    out = []
    for issue in load_issues(corpus_dir):
        row = {"issue": issue.issue, "file": issue.source_file, "total_number": issue.total_number,
               "publish_date": issue.publish_date, "sha256": sha256_file(Path(corpus_dir) / issue.source_file)}
        if issue.kind != "gazette" or issue.collection != issue.masthead or "/" in issue.source_file:
            row.update(kind=issue.kind, collection=issue.collection)  # the bundled gazette's rows stay as they were
        out.append(row)
    return out


def write_manifest(corpus_dir: Path) -> Path:
    path = Path(corpus_dir) / MANIFEST_NAME
    path.write_text(json.dumps(build_manifest(corpus_dir), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
