"""Corpus-level views: stats per issue and the corpus manifest (issue, publish date, sha256)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.corpus.chunker import chunk_issue
from qa.corpus.files import corpus_files, sha256_file
from qa.corpus.parser import parse_issue
from qa.corpus.types import Issue

MANIFEST_NAME = "manifest.json"


def load_issues(corpus_dir: Path) -> list[Issue]:
    return [parse_issue(p) for p in corpus_files(corpus_dir)]


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


def corpus_stats(corpus_dir: Path) -> dict:
    per_issue = []
    for issue in load_issues(corpus_dir):
        chunks = chunk_issue(issue)
        per_issue.append(IssueStats(
            issue=issue.issue, source_file=issue.source_file, publish_date=issue.publish_date,
            total_number=issue.total_number, documents=len(issue.documents), toc_entries=len(issue.toc),
            chunks=len(chunks), personnel_records=sum(len(d.personnel) for d in issue.documents),
            mismatches=issue.mismatches,
        ))
    return {
        "issues": len(per_issue),
        "documents": sum(s.documents for s in per_issue),
        "chunks": sum(s.chunks for s in per_issue),
        "personnel_records": sum(s.personnel_records for s in per_issue),
        "toc_mismatches": sum(len(s.mismatches) for s in per_issue),
        "per_issue": [asdict(s) for s in per_issue],
    }


def build_manifest(corpus_dir: Path) -> list[dict]:
    return [
        {"issue": issue.issue, "file": issue.source_file, "total_number": issue.total_number,
         "publish_date": issue.publish_date, "sha256": sha256_file(corpus_dir / issue.source_file)}
        for issue in load_issues(corpus_dir)
    ]


def write_manifest(corpus_dir: Path) -> Path:
    path = corpus_dir / MANIFEST_NAME
    path.write_text(json.dumps(build_manifest(corpus_dir), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
