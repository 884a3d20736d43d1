"""The answer chain on real passages: question types, multi-part, refusal, English, citations.

The fast tests run the answerer on real chunks of the corpus without the model (lexical scoring);
the slow ones run the real GazetteService over the shared real index.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.answer.extractive import ExtractiveParams, compose, split_sentences
from qa.question import analyse, clauses
from qa.corpus.chunker import chunk_file
from qa.corpus.normalize import squash
from qa.models import SearchHit

pytest_plugins = ["api_support"]
ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def chunks_2022():
    return chunk_file(ROOT / "corpus" / "2022-03.txt")


def hits_for(chunks, *needles: str) -> list[SearchHit]:
    picked = [c for c in chunks if any(n in c.text for n in needles) and c.chunk_type != "card"]
    return [SearchHit(c, 1.0 - i * 0.01, i + 1) for i, c in enumerate(picked)]


def check_markers(result) -> None:
    listed = {c.n for c in result.citations}
    used = {int(n) for n in MARKER.findall(result.answer)}
    assert used == listed, (result.answer, listed)


# ---- fast: real passages, no model ------------------------------------------------------------

def test_question_analysis():
    info = analyse("2022年龙华口调水工程总投资是多少亿元？")
    assert info.years == [2022] and info.unit == "亿元" and "number" in info.cues and info.lang == "zh"
    assert analyse("How old must users of shared bikes be?").lang == "en"
    assert analyse("郊区要改造多少平方米？").places == ["郊区"]
    assert "person" in analyse("地质灾害防治领导小组组长是谁").cues
    for q in ("提出“六个一活动”的促消费文件是哪个？", "是哪份文件规定的？", "Which 2022 document set up the mechanism?",
              "What documents cover heating refunds?"):
        assert "document" in analyse(q).cues, q
    assert "document" not in analyse("What filed reports are due?").cues


def test_question_clauses():
    assert clauses("阳泉市行政复议体制改革领导小组组长是谁？办公室设在哪？") == ["阳泉市行政复议体制改革领导小组组长是谁", "办公室设在哪"]
    assert clauses("细则从哪天施行、有效期多久？") == ["细则从哪天施行", "有效期多久"]
    assert clauses("市抗震救灾指挥部的指挥长由谁担任？") == ["市抗震救灾指挥部的指挥长由谁担任？"]
    assert clauses("根据规定，哪个部门负责？") == ["根据规定，哪个部门负责？"]  # one asking clause


def test_roster_rows_without_line_breaks_split_at_role_labels():
    rows = split_sentences("组 长：雷健坤 市长副组长：李文兵 市政府副市长成 员：梁爱卿 市政府副秘书长")
    assert rows == ["组 长：雷健坤 市长", "副组长：李文兵 市政府副市长", "成 员：梁爱卿 市政府副秘书长"]
    # an office director inside a sentence, and a rendered 'group：role：name' row, stay whole
    assert len(split_sentences("办公室设在市规划和自然资源局，办公室主任：王光荣（兼）。")) == 1
    assert len(split_sentences("年度地质灾害防治领导小组：组长：韩加政（副市长）")) == 1


def test_two_clause_question_answers_both(chunks_2022):
    hits = [h for h in hits_for(chunks_2022, "韩加政") if h.chunk.chunk_type == "table"]
    hits += hits_for(chunks_2022, "办公室设在市规划和自然资源局")
    result = compose(analyse("2022年地质灾害防治领导小组组长是谁？办公室设在哪？"), hits, ExtractiveParams(), False)
    flat = result.answer.replace(" ", "")
    assert result.answered and "组长：韩加政" in flat and "市规划和自然资源局" in flat, result.answer
    check_markers(result)


def test_number_question_picks_the_sentence_with_the_number(chunks_2022):
    hits = hits_for(chunks_2022, "年满 16 周岁")
    result = compose(analyse("共享单车用户需要满多少岁？"), hits, ExtractiveParams(), False)
    assert result.answered and "16 周岁" in result.answer
    check_markers(result)
    assert squash(result.citations[0].sentence) in squash(result.citations[0].hit.chunk.text)


def test_unit_the_passage_lacks_is_refused(chunks_2022):
    hits = hits_for(chunks_2022, "年满 16 周岁")
    result = compose(analyse("共享单车每辆车押金是多少万元？"), hits, ExtractiveParams(), False)
    assert not result.answered and result.answer.startswith("公报中未找到") and result.citations == []
    assert result.related  # the closest passages are offered as related reading


def test_roster_question_names_the_leader_not_a_deputy(chunks_2022):
    hits = [h for h in hits_for(chunks_2022, "韩加政") if h.chunk.chunk_type == "table"]
    result = compose(analyse("2022年地质灾害防治领导小组组长是谁？"), hits, ExtractiveParams(), False)
    assert result.answered and "组长：韩加政" in result.answer.replace(" ", "")
    check_markers(result)


def test_document_question_names_number_and_title(chunks_2022):
    card = next(c for c in chunks_2022 if c.chunk_type == "card" and c.doc_number == "阳政办发〔2022〕34号")
    result = compose(analyse("阳政办发〔2022〕34号是什么文件？"), [SearchHit(card, 1.0, 1)], ExtractiveParams(), True)
    assert "阳政办发〔2022〕34号" in result.answer and "互联网租赁自行车" in result.answer
    check_markers(result)


def test_place_the_passage_does_not_mention_is_refused(chunks_2022):
    hits = hits_for(chunks_2022, "年满 16 周岁")
    result = compose(analyse("矿区共享单车用户需要满多少岁？"), hits, ExtractiveParams(), False)
    assert not result.answered


# ---- slow: the real service over the real index ------------------------------------------------

QUESTIONS = {
    "number": ("共享单车用户需要满多少岁？", ["16"]),
    "date": ("阳政办发〔2022〕34号是哪天印发的？", ["2022"]),
    "personnel": ("程建军担任过什么职务？", ["程建军", "商务局副局长"]),
    "table": ("2022年地质灾害防治领导小组组长是谁？", ["韩加政"]),
    "docnum": ("阳政办发[2022]34号是什么文件？", ["互联网租赁自行车"]),
    "which_doc": ("哪个文件规定了共享单车的管理？", ["阳政办发〔2022〕34号"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(QUESTIONS))
def test_each_question_type(gazette_service, kind):
    question, keys = QUESTIONS[kind]
    result = gazette_service.ask(question)
    assert result.answered, (kind, result.answer)
    for key in keys:
        assert squash(key) in squash(result.answer), (kind, result.answer)
    check_markers(result)
    assert result.citations and all(c.hit.chunk.line_start <= c.hit.chunk.line_end for c in result.citations)
    assert set(result.timings_ms) >= {"retrieve", "answer", "total"}


@pytest.mark.slow
def test_multi_part_question_answers_each_year_from_its_own_evidence(gazette_service):
    result = gazette_service.ask("2020年和2022年的地质灾害防治领导小组组长分别是谁？")
    assert result.answered
    lines = result.answer.split("\n")
    assert lines[0].startswith("2020年") and lines[1].startswith("2022年")
    assert "王明厚" in lines[0] and "韩加政" in lines[1]
    years = {c.hit.chunk.year for c in result.citations}
    assert years == {2020, 2022}
    check_markers(result)


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "阳泉市2024年度地质灾害防治方案统计的隐患点有多少处？",  # a year the gazette does not cover
    "龙华口调水工程总投资是多少亿元？",  # a figure the document does not give
])
def test_refusal(gazette_service, question):
    result = gazette_service.ask(question)
    assert not result.answered and result.answer.startswith("公报中未找到")
    assert not result.citations and result.related
    assert "2020" not in result.answer and "2022" not in result.answer  # never another year's figure


@pytest.mark.slow
def test_english_question_quotes_the_chinese_source(gazette_service):
    result = gazette_service.ask("How old must users of shared bikes be?")
    assert result.answered and "16" in result.answer and "「" in result.answer
    check_markers(result)


@pytest.mark.slow
def test_every_marker_refers_to_a_listed_citation_over_the_eval_set(gazette_service):
    import json

    items = [json.loads(l) for l in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if l]
    for item in items[::7]:
        result = gazette_service.ask(item["question"])
        check_markers(result)
        for c in result.citations:
            assert c.hit.chunk.text and c.hit.chunk.source_file.endswith(".txt")
