"""The eval question set verifies against the corpus: every item is checkable."""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
CORPUS = ROOT / "corpus"
TYPES = {"fact", "number", "date", "personnel", "docnum", "which_doc", "multi", "cross_issue", "table", "unanswerable"}


def squash(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}


def as_list(v) -> list:
    return v if isinstance(v, list) else ([v] if v else [])


def test_set_is_built_from_sources():
    from eval.build_questions import build  # noqa: PLC0415

    built = build()
    on_disk = [json.loads(l) for l in QUESTIONS.read_text(encoding="utf-8").splitlines() if l.strip()]
    assert built == on_disk, "eval/questions.jsonl is stale: run python eval/build_questions.py"


def test_size_and_mix(questions):
    assert len(questions) >= 200
    types = Counter(q["type"] for q in questions)
    assert set(types) <= TYPES, set(types) - TYPES
    assert types["unanswerable"] >= 0.10 * len(questions)
    assert sum(q["lang"] == "en" for q in questions) >= 0.10 * len(questions)
    for t in ("fact", "number", "date", "personnel", "docnum", "which_doc", "multi", "cross_issue", "table"):
        assert types[t] >= 5, (t, types[t])


def test_ids_unique(questions):
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids))


def test_spread_over_all_issues(questions, files):
    used = Counter(f for q in questions for f in as_list(q["source_file"]))
    assert set(files) <= set(used), set(files) - set(used)


def test_evidence_is_verbatim_and_holds_key_strings(questions, files):
    for q in questions:
        if q["type"] == "unanswerable":
            assert not q["evidence"] and not q["must_contain"], q["id"]
            continue
        assert q["evidence"] and 1 <= len(q["must_contain"]) <= 3, q["id"]
        sources = as_list(q["source_file"])
        for ev in q["evidence"]:
            assert any(ev in files[f] for f in sources), (q["id"], ev)
        joined = squash("".join(q["evidence"]))
        for key in q["must_contain"]:
            assert squash(key) in joined, (q["id"], key)
