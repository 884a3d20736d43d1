"""Which issues and documents the eval questions cover, found from where their evidence sits in the corpus.

A question covers a document when one of its evidence passages lies within the
document's lines (as the parser delimits it); its issues are its `issues` field.

    python eval/coverage.py          # counts by type/lang/issue, uncovered documents
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from eval.build_questions import CORPUS, SOURCES, build  # noqa: E402
from qa.corpus.stats import load_issues  # noqa: E402
from qa.corpus.types import Document  # noqa: E402


def evidence_lines(spec_item: dict, text: str) -> int:
    """1-based line of one evidence item (its own `line`, else where its unique text starts)."""
    if "line" in spec_item:
        return int(spec_item["line"])
    return text[: text.index(spec_item["text"])].count("\n") + 1


def question_documents(sources: Path = SOURCES, corpus: Path = CORPUS) -> dict[str, set[str]]:
    """Question id -> keys (issue#position) of the documents its evidence lies in."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))}
    docs: dict[str, list[Document]] = {i.source_file: i.documents for i in load_issues(corpus)}
    out: dict[str, set[str]] = {}
    for spec_file in sorted(sources.glob("*.jsonl")):
        for raw in spec_file.read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            spec = json.loads(raw)
            keys = out.setdefault(spec["id"], set())
            for ev in spec.get("evidence", []):
                line = evidence_lines(ev, files[ev["file"]])
                keys |= {d.key for d in docs[ev["file"]] if d.line_start <= line <= d.line_end}
    return out


def coverage(sources: Path = SOURCES, corpus: Path = CORPUS) -> dict:
    questions = build(sources, corpus)
    by_doc = question_documents(sources, corpus)
    issues = load_issues(corpus)
    all_docs = {d.key: d for i in issues for d in i.documents}
    per_doc = Counter(k for q in questions for k in by_doc.get(q["id"], ()))
    return {
        "questions": len(questions),
        "types": dict(Counter(q["type"] for q in questions).most_common()),
        "langs": dict(Counter(q["lang"] for q in questions).most_common()),
        "answerable_langs": dict(Counter(q["lang"] for q in questions if q["type"] != "unanswerable").most_common()),
        "issues": {i.issue: sum(i.issue in q["issues"] for q in questions) for i in issues},
        "issues_unanswerable": {i.issue: sum(i.issue in q["issues"] and q["type"] == "unanswerable" for q in questions)
                                for i in issues},
        "documents": len(all_docs),
        "documents_covered": sum(1 for k in all_docs if per_doc[k]),
        "per_document": {k: per_doc[k] for k in sorted(all_docs)},
        "uncovered": [f"{k} {d.doc_number} {d.title}" for k, d in sorted(all_docs.items()) if not per_doc[k]],
    }


def main() -> int:
    report = coverage()
    per_doc = report.pop("per_document")
    uncovered = report.pop("uncovered")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    print("questions per document: min", min(per_doc.values()), "max", max(per_doc.values()))
    print(f"uncovered documents ({len(uncovered)}):")
    for line in uncovered:
        print(" ", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
