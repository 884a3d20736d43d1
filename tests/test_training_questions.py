"""Template training questions (eval/training_questions.jsonl): deterministic, checkable, apart from the eval set."""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "eval" / "training_questions.jsonl"
EVAL = ROOT / "eval" / "questions.jsonl"
CORPUS = ROOT / "corpus"
FIELDS = {"id", "question", "answer", "must_contain", "type", "lang", "source_file", "doc_number", "evidence", "issues"}


def squash(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


@pytest.fixture(scope="module")
def generated() -> list[dict]:
    from eval.make_training_questions import generate  # noqa: PLC0415

    return generate()


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}


def test_file_is_fresh_and_generation_deterministic(generated):
    from eval.make_training_questions import generate  # noqa: PLC0415

    on_disk = [json.loads(l) for l in TRAINING.read_text(encoding="utf-8").splitlines() if l.strip()]
    assert generated == on_disk, "eval/training_questions.jsonl is stale: run python eval/make_training_questions.py"
    assert generate() == generated


def test_size_fields_and_mix(generated):
    assert len(generated) >= 1000
    assert len({q["id"] for q in generated}) == len(generated)
    for q in generated:
        assert FIELDS <= set(q), (q["id"], FIELDS - set(q))
    types = Counter(q["type"] for q in generated)
    for t in ("personnel", "table", "docnum", "which_doc", "date", "number", "unanswerable"):
        assert types[t] >= 5, types
    assert types["unanswerable"] >= 150
    assert {q["lang"] for q in generated} == {"zh", "en"}
    assert {i for q in generated for i in q["issues"]} == {p.stem for p in CORPUS.glob("*.txt")}


def test_answerable_items_hold_their_keys_in_verbatim_evidence(generated, files):
    for q in generated:
        if q["type"] == "unanswerable":
            continue
        text = files[q["source_file"]]
        assert q["evidence"] and q["must_contain"], q["id"]
        assert q["issues"] == [Path(q["source_file"]).stem], q["id"]
        for ev in q["evidence"]:
            assert ev in text, (q["id"], ev)
        joined = squash("".join(q["evidence"]))
        assert all(squash(k) in joined for k in q["must_contain"]), q["id"]


def test_unanswerable_items_pass_their_absence_checks(generated):
    from eval.build_questions import check_absence, squash as squash_text  # noqa: PLC0415

    texts = {p.stem: squash_text(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.txt")}
    unanswerable = [q for q in generated if q["type"] == "unanswerable"]
    assert {q["absence"]["kind"] for q in unanswerable} >= {"person", "year"}
    for q in unanswerable:
        assert not q["evidence"] and not q["must_contain"] and q["answer"].startswith("公报中未找到"), q["id"]
        check_absence(q, texts)  # raises on failure


def test_known_records_become_the_expected_items(generated):
    by_question = {q["question"]: q for q in generated}
    assert by_question["2021年谁被任命为阳泉市第一中学校校长？"]["must_contain"] == ["史生岗"]
    assert by_question["2022年度地质灾害防治领导小组的组长是谁？"]["must_contain"] == ["韩加政"]
    assert by_question["阳泉市特困人员认定实施办法从哪天起施行？"]["must_contain"] == ["2024年1月5日"]
    # a unit swapped into a post the gazette never names is a checked near miss
    swapped = [q for q in generated if q["type"] == "unanswerable" and q["question"].startswith("2021年谁被任命为")]
    assert swapped and all(q["absence"]["kind"] == "person" for q in swapped)


def test_kept_apart_from_the_eval_set(generated):
    eval_questions = {squash(json.loads(l)["question"]) for l in EVAL.read_text(encoding="utf-8").splitlines() if l.strip()}
    assert not eval_questions & {squash(q["question"]) for q in generated}
