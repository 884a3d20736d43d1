"""What kind of answer a question asks for, on real passages without the model: a document named by its
number answers 'what is it' from its card and anything else from its sentences; an issuer or document
number asked is cited to the card that holds it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.answer.extractive import ExtractiveParams, compose
from qa.models import SearchHit
from qa.question import analyse, asks_about_document
from reproduction_support import int8_kernels

pytest_plugins = ["api_support", "corpus_support"]
ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"\[(\d+)\]")


def document_hits(chunks, doc_number: str) -> list[SearchHit]:
    """A document-number route's hits: the document's card first, then its passages."""
    doc = [c for c in chunks if c.doc_number == doc_number]
    ordered = [c for c in doc if c.chunk_type == "card"] + [c for c in doc if c.chunk_type != "card"]
    return [SearchHit(c, 1.0 - i * 0.01, i + 1) for i, c in enumerate(ordered)]


def cited_types(result) -> list[str]:
    return [c.hit.chunk.chunk_type for c in result.citations if f"[{c.n}]" in result.answer]


def test_what_a_document_is_versus_what_it_says():
    for q in ("阳政发〔2020〕1号这份市政府文件讲的是什么事？", "阳政办发〔2021〕2号印发的是什么方案？", "阳政办函〔2021〕121号是干什么的？",
              "阳政任字〔2022〕17号是关于谁的什么通知？", "What is document 阳政办发〔2022〕34号 about?", "特困人员认定办法是哪个部门发的",
              "阳政办发〔2022〕34号是哪天印发的？", "When was document 阳政办发〔2022〕34号 issued?"):
        assert asks_about_document(q), q
    for q in ("阳政任字〔2022〕12号免去了哪两位商务局副局长？", "阳政办发〔2023〕95号的有效期是多久？", "由哪个部门负责发布预警？",
              "阳政办发〔2022〕34号对共享单车停放有什么规定？", "阳政办发〔2023〕85号规定发生什么事项时要启动应急响应？",
              "What does document 阳政办发〔2022〕34号 say about parking?"):
        assert not asks_about_document(q), q


def test_document_named_by_number_answers_what_it_says_from_its_sentences(chunks_2022):
    hits = document_hits(chunks_2022, "阳政任字〔2022〕12号")
    result = compose(analyse("阳政任字〔2022〕12号免去了哪两位商务局副局长？"), hits, ExtractiveParams(), True)
    assert result.answered and "刘振华" in result.answer and "石文斌等四人" not in result.answer, result.answer
    assert cited_types(result) == ["personnel"], result.answer
    result = compose(analyse("阳政任字〔2022〕12号是关于什么的？"), hits, ExtractiveParams(), True)
    assert "石文斌等四人任免职务的通知" in result.answer and cited_types(result) == ["card"], result.answer


def test_date_a_document_was_issued_is_read_off_its_card(chunks_2022):
    hits = document_hits(chunks_2022, "阳政办发〔2022〕34号")
    result = compose(analyse("阳政办发〔2022〕34号是哪天印发的？"), hits, ExtractiveParams(), True)
    assert "2022年5月5日" in result.answer and cited_types(result) == ["card"], result.answer


def test_issuer_and_number_asked_are_cited_to_the_card(chunks_2023):
    doc = next(c.doc_number for c in chunks_2023 if c.chunk_type == "card" and "特困人员认定实施办法" in c.doc_title)
    hits = document_hits(chunks_2023, doc)
    body = [h for h in hits if "民政部门负责特困人员认定的审核确认" in h.chunk.text]
    hits = body + [h for h in hits if h not in body]  # a body passage retrieved above the card
    result = compose(analyse("特困人员认定办法是哪个部门发的，文号是什么？"), hits, ExtractiveParams(), False)
    assert result.answered and doc in result.answer, result.answer
    assert cited_types(result) == ["card"], result.answer


def test_office_director_is_the_role_a_row_assigns_not_a_members_title(chunks_2021_04):
    # the roster's rows name members whose own titles say 主任 (副组长：郭玉霞（市政府金融办主任）); the
    # office director is the one the sentence 办公室主任由…兼任 names
    doc = [c for c in chunks_2021_04 if c.doc_number == "阳政办函〔2021〕118号"]
    first = [c for c in doc if "李文兵" in c.text and c.chunk_type == "table"]
    card = [c for c in doc if c.chunk_type == "card"]
    rest = [c for c in doc if "刘育东" in c.text and c.chunk_type == "table"]  # rows of the roster's continuation
    office = [c for c in doc if "办公室主任由" in c.text]
    assert first and card and rest and office
    hits = [SearchHit(c, 1.0 - i * 0.01, i + 1) for i, c in enumerate(first + card + rest + office)]
    result = compose(analyse("城乡居民家庭经济状况核对工作领导小组办公室主任是谁？"), hits, ExtractiveParams(), False)
    assert result.answered and "耿胜" in result.answer, result.answer
    # the other roster passage names the group again (its title says so already), adding nothing
    assert [c.hit.chunk for c in result.citations] == office, result.answer


@pytest.mark.slow
@pytest.mark.xfail(int8_kernels() == "avx2", strict=True,
                   reason="on the AVX2 kind's index of the 7-bit-weight embeddings (2026-12-03) the passage 办公室主任由…"
                   "耿胜兼任 ranks 6th, under four rows and the card of the same roster, and the answer reads the top 5 "
                   "(top_k): the roster's 副组长 row is cited instead. It passes on VNNI machines (8-bit and 7-bit index) "
                   "by a ranking margin. The composing itself is right (the test above, with the passage retrieved)")
def test_office_director_cites_only_the_sentence_naming_him_over_the_real_index(gazette_service):
    # the roster's other passage names the group again, which the cited passage's title already says
    result = gazette_service.ask("城乡居民家庭经济状况核对工作领导小组办公室主任是谁？")
    assert result.answered and "耿胜" in result.answer, result.answer
    assert len(result.citations) == 1 and "耿胜" in result.citations[0].hit.chunk.text, result.answer


POSTCODE_Q = "阳泉市政府办公室的邮政编码是多少？"


@pytest.mark.slow
def test_the_publishers_postcode_is_found_in_the_colophon(gazette_service):
    """Issue 12: 阳泉市政府办公室的邮政编码是多少？ The 2023 issue's colophon prints it (邮 编：045000); it is now a
    passage of its own, embedded and searched with 邮编 glossed as 邮政编码, and search ranks it first."""
    hits = gazette_service.search(POSTCODE_Q, top_k=5)
    top = hits[0].chunk
    assert (top.source_file, top.doc_key, top.line_start) == ("2023-06.txt", "2023-06#00", 2279) and "045000" in top.text
    # its document view (what a citation opens) is the colophon page
    page = gazette_service.document(top.doc_key)
    assert page["title"] == "阳泉市人民政府公报版权页" and page["paragraphs"][0]["text"] == top.text


@pytest.mark.slow
def test_the_publisher_asked_with_who_is_answered_from_the_colophon(gazette_service):
    """主办单位是谁 asks for a body (vocabulary.NOT_A_PERSON): it was refused as a person question the gazette
    names no one for; the colophon's 主办单位 line answers it, as it answers 主办单位是哪个."""
    for question in ("阳泉市人民政府公报的主办单位是谁？", "阳泉市人民政府公报的主办单位是哪个？"):
        result = gazette_service.ask(question)
        assert result.answered and "阳泉市人民政府办公室" in result.answer, (question, result.answer)
        assert result.citations[0].hit.chunk.doc_key == "2023-06#00", result.answer


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the rules lead with a sentence of another passage that holds 市政府办公室 and a "
                   "count (39个): the colophon's line 邮 编：045000 shares no word with 邮政编码 and has no unit")
def test_the_publishers_postcode_is_answered_from_the_colophon(gazette_service):
    result = gazette_service.ask(POSTCODE_Q)
    assert result.answered and "045000" in result.answer, result.answer
    assert result.citations[0].hit.chunk.doc_key == "2023-06#00", result.answer


def hits_of(chunks, *needles: str) -> list[SearchHit]:
    """One passage per needle, in the order given (the first needle's passage ranked first)."""
    picked = [next(c for c in chunks if n in c.text and c.chunk_type != "card") for n in needles]
    return [SearchHit(c, 1.0 - i * 0.01, i + 1) for i, c in enumerate(picked)]


def test_span_of_time_asked_is_answered_by_a_range_of_dates_from_the_fifth_passage(chunks_2023):
    hits = hits_of(chunks_2023, "加大新建项目前期手续办理“百日攻坚”行动的宣传力度", "形成工作总结",
                   "领导小组办公室对手续办理进度实行一周一统计一通报机制", "各县（区）、各相关单位要在2023年新建项目前期手续办理",
                   "2023 年 12 月 21 日至 2024 年 3 月 31 日")
    result = compose(analyse("新建项目前期手续“百日攻坚”从哪天干到哪天？"), hits, ExtractiveParams(), False)
    assert result.answered and "3 月 31 日" in result.answer, result.answer
    assert result.citations[0].hit is hits[4], result.answer


@pytest.mark.slow
def test_table_the_question_names_answers_before_prose_restating_it(gazette_service):
    result = gazette_service.ask("按公路充换电计划表，2024年底高速公路3个服务区快充桩覆盖率要到多少？")
    assert result.answered and "80%" in result.answer.replace(" ", ""), result.answer
    assert result.citations[0].hit.chunk.chunk_type == "table", result.answer
    # the prose saying the same 80% elsewhere adds no citation
    assert len(result.citations) == 1, result.answer


def test_unlabelled_roster_row_takes_the_role_of_its_block(chunks_2022):
    # 副组长: 韩千来 … then "- 王立武 华阳新材料科技集团…" rows without a label: deputies all; 梁殿华 of the same
    # company is in the roster's continuation in another passage, with no role known
    hits = hits_of(chunks_2022, "梁殿华", "王立武")
    result = compose(analyse("2022年调整后的治超领导小组里，华阳新材料科技集团谁任副组长？"), hits, ExtractiveParams(), False)
    assert result.answered and "王立武" in result.answer, result.answer



@pytest.mark.slow
def test_start_point_said_without_a_date_answers_from_when(gazette_service):
    # 从什么时候算起: 试用期从原任职时间算起 says it; the appointment line (试用期一年) says for how long
    result = gazette_service.ask("王永昌任妇幼保健院院长的试用期从什么时候算起？")
    assert result.answered and "原任职时间" in result.answer, result.answer
    assert len(result.citations) == 1 and "原任职时间算起" in result.citations[0].hit.chunk.text, result.answer


def test_appointment_to_another_units_post_is_not_the_one_asked(chunks_2021_04):
    hits = hits_of(chunks_2021_04, "黄慧文为阳泉市审计局副局长", "刘敬华为阳泉市教育局副局长")
    result = compose(analyse("2021年8月任命的两位市教育局副局长是谁？"), hits, ExtractiveParams(), False)
    assert result.answered and "教育局" in result.answer and "黄慧文" not in result.answer, result.answer
