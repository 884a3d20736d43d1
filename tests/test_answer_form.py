"""The form of an answer's text: sentence boundaries (qa/answer/trim.py), English frames (qa/answer/phrasing.py),
the latest year's statement of a rule first (qa/answer/recency.py), and the hook joining them (qa/answer/form.py).

The fast tests run on real passages of the corpus (no model); the slow ones ask the real service over the real
index (QA_TEST_INDEX_DIR reuses one). The questions are written for these tests, not taken from the eval set.
"""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from qa.answer.form import final_form
from qa.answer.phrasing import (card_statement, english_answer, english_date, english_figure, record_statement,
                                source_label, value_frame)
from qa.answer.recency import Pick, latest_first, likeness, same_kind
from qa.answer.sentences import passage_sentences
from qa.answer.trim import ELLIPSIS, list_cut, pieces, question_words, trim
from qa.models import Chunk, SearchHit
from qa.question import analyse

pytest_plugins = ["api_support", "corpus_support"]
MARKER = re.compile(r"\[(\d+)\]")


def _chunk(text: str, **kw) -> Chunk:
    base = dict(chunk_id="t", text=text, embed_text=text, search_text=text, source_file="2022-03.txt", line_start=1,
                line_end=1, issue="2022-03", year=2022, doc_key="2022-03#01", doc_number="阳政办发〔2022〕34号",
                doc_title="阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见", category="")
    return Chunk(**{**base, **kw})


def _passage(chunks: list[Chunk], needle: str, title: str = "") -> Chunk:
    return next(c for c in chunks if needle in c.text and c.chunk_type != "card" and title in c.doc_title)


# ---- fast: trimming at sentence boundaries ----------------------------------------------------------

RUN_ON = ("提高领导干部和公务员科学理论水平、科技创新意识和科学履职、科学决策能力。"
          "(市委党校牵头,市委组织部等单位配合)20.在领导干部考核和公务员录用中落实科学素质要求。")


def test_a_run_on_sentence_is_cut_before_the_next_items_numbering():
    sentence = "(市委党校牵头,市委组织部等单位配合)20.在领导干部考核和公务员录用中落实科学素质要求。"
    assert pieces(sentence) == ["(市委党校牵头,市委组织部等单位配合)", "20.在领导干部考核和公务员录用中落实科学素质要求。"]
    assert pieces("（一）60周岁以上的老年人；") == ["（一）60周岁以上的老年人；"]  # a leading number cuts nothing
    assert pieces("共 38 项。2.5万元") == ["共 38 项。2.5万元"]  # a decimal is no item number


def test_the_piece_asked_about_is_shown_and_a_tail_comes_with_its_sentence():
    sentence = "(市委党校牵头,市委组织部等单位配合)20.在领导干部考核和公务员录用中落实科学素质要求。"
    asked = trim(sentence, question_words("领导干部考核中怎样落实科学素质要求？"), RUN_ON)
    assert asked == "20.在领导干部考核和公务员录用中落实科学素质要求。"
    # who leads the training: the tail answers, shown with the sentence it closes (never the next item)
    lead = trim(sentence, question_words("提高科学履职和科学决策能力由哪个单位牵头？"), RUN_ON)
    assert lead.startswith("提高领导干部") and lead.endswith("等单位配合)") and "20." not in lead
    # the sentence it closes already shown in the answer: the tail alone
    alone = trim(sentence, question_words("提高科学履职和科学决策能力由哪个单位牵头？"), RUN_ON,
                 shown=("提高领导干部和公务员科学理论水平、科技创新意识和科学履职、科学决策能力。",))
    assert alone == "(市委党校牵头,市委组织部等单位配合)"


def test_an_ellipsis_only_where_the_source_is_cut():
    cut = "深入贯彻落实《法治政府建设实施纲要（2015-2020年）》的各项要求"
    assert trim(cut, set(), f"第一句。{cut}") == cut + ELLIPSIS  # the passage stops inside the sentence
    assert trim(cut, set(), f"第一句。{cut}", prose=False) == cut  # a row of a table or roster ends unpunctuated
    whole = "本规定自2022年7月1日起施行。"
    assert trim(whole, set(), f"{whole}第二十三条 其他。") == whole
    row = "组长：雷健坤 市长"  # a roster row ends without punctuation, and the passage goes on
    assert trim(row, set(), f"{row}\n副组长：李文兵 市政府副市长") == row
    assert trim("，由物业管理企业负责。", set()) == "由物业管理企业负责。"  # no leading punctuation


def test_a_shown_list_says_when_it_stops_before_the_list_does():
    items = ["（一）甲；", "（二）乙；", "（三）丙。"]
    assert list_cut("包括：（一）甲； （二）乙；", items)
    assert not list_cut("包括：（一）甲； （二）乙； （三）丙。", items)


# ---- fast: English frames -----------------------------------------------------------------------------

def test_figures_in_english():
    assert english_figure("16", "", "周岁") == "16 years"
    assert english_figure("1.05", "万", "亩") == "10,500 mu"
    assert english_figure("180", "亿", "千瓦时") == "18 billion kWh"
    assert english_figure("1000", "", "元", "/人/年") == "1,000 yuan per person per year"
    assert english_figure("34", "", "%") == "34%"
    assert english_figure("5", "", "个") == "5个"  # no English word: kept as written


def test_the_value_asked_among_several():
    two = "2020年12月31日山西省自然资源厅批复同意实施，经研究，决定于2021年2月1日起正式实施。"
    assert english_date(two, "起") == "from 1 February 2021" and english_date(two) == "31 December 2020"
    assert english_date("确保于 8 月底前启动。") == "before the end of August"
    assert english_date("在15个工作日内办结。") == "within 15 working days"
    mines = _chunk("资源储量原则上达到中型（熔剂用灰岩1000-5000万吨）以上，生产规模不小于50万吨/年，年产值达到2000万元以上。")
    # a range is no single figure; an annual figure answers an annual question
    assert value_frame(analyse("What minimum annual output must the mines reach?"), mines, mines.text) == \
        "The minimum annual output is 500,000 tonnes per year"
    rate = _chunk("全市居民健康素养水平提升至20%，或较上一年度增长不少于3个百分点。")
    assert value_frame(analyse("What share of residents should have health literacy?"), rate, rate.text) == "The share is 20%"
    # a post held by a unit's head, no named person: no name to state
    held = _chunk("各小组组长由牵头部门负责人兼任。")
    assert value_frame(analyse("Who leads the supervision subgroup?"), held, held.text) is None


def test_value_frames_read_the_value_off_the_sentence():
    bikes = _chunk("互联网租赁自行车用户须年满 16 周岁，并实名注册和使用。")
    info = analyse("What is the minimum age for riding shared bikes?")
    assert value_frame(info, bikes, bikes.text) == "The minimum age is 16 years"
    assert source_label(bikes) == "2022 issue 3, 阳政办发〔2022〕34号"
    assert english_answer(bikes, bikes.text, value_frame(info, bikes, bikes.text)) == (
        "The minimum age is 16 years (2022 issue 3, 阳政办发〔2022〕34号). 「互联网租赁自行车用户须年满 16 周岁，并实名注册和使用。」")
    fire = _chunk("第二十二条 本规定自2022年7月1日起施行。")
    assert value_frame(analyse("When does the fire investigation regulation take effect?"), fire, fire.text) == \
        "It takes effect from 1 July 2022"
    due = _chunk("2022年3月10日前，各县（区）形成年度卫片执法成果和报告。")
    assert value_frame(analyse("By what date must counties report?"), due, due.text) == "The deadline is 10 March 2022"
    roster = _chunk("组 长：韩加政 副市长", chunk_type="table")
    assert value_frame(analyse("Who is the leader of the task force?"), roster, roster.text) == "The leader (组长) is 韩加政"
    # a row of another role than the one asked states no leader
    assert value_frame(analyse("Who is the leader of the task force?"), roster, "副组长：李文兵 市政府副市长") is None
    record = _chunk("崔戎辉为阳泉市第六中学校校长（试用期一年）；", chunk_type="personnel", persons=("崔戎辉",))
    assert value_frame(analyse("Who became principal of No. 6 Middle School?"), record, record.text) == \
        "崔戎辉 was appointed 阳泉市第六中学校校长"
    removed = _chunk("张 华的阳泉市统计局副局长职务。", chunk_type="personnel")
    assert value_frame(analyse("Which deputy director was relieved of the post?"), removed, removed.text, "免去：") == \
        "张华 was relieved of the post of 阳泉市统计局副局长"
    # nothing of the asked kind in the sentence: no frame, the quote says it
    assert value_frame(info, bikes, "并实名注册和使用。") is None
    assert english_answer(bikes, "并实名注册和使用。", None).startswith("The gazette (2022 issue 3, 阳政办发〔2022〕34号) says: 「")


def test_the_sentence_stating_the_asked_value_leads_an_english_answer():
    roster = _chunk("副组长：李文兵 市政府副市长\n组 长：雷健坤 市长", chunk_type="table", doc_title="草地贪夜蛾防控领导小组")
    hits = [SearchHit(roster, 1.0, 1)]
    shown = final_form(analyse("Who heads the fall armyworm group?"), hits, [(0, "副组长：李文兵 市政府副市长"), (0, "组 长：雷健坤 市长")])
    assert [s.text for s in shown] == ["The leader (组长) is 雷健坤 (2022 issue 3, 阳政办发〔2022〕34号). 「组 长：雷健坤 市长」",
                                       "Also: 「副组长：李文兵 市政府副市长」"]
    assert shown[0].sentence == "组 长：雷健坤 市长"


def test_a_persons_record_in_english():
    record = _chunk("免去武雪的阳泉市科技局局长职务。", chunk_type="personnel", issue="2020-02", year=2020,
                    doc_number="阳政任字〔2020〕6号", persons=("武雪",))
    assert record_statement(analyse("Which post did Wu Xue give up?"), record, record.text) == (
        "武雪 was relieved of the post of 阳泉市科技局局长 (2020 issue 2, 阳政任字〔2020〕6号). 「免去武雪的阳泉市科技局局长职务。」")


def test_a_card_answers_the_document_number_asked():
    card = _chunk("", chunk_type="card", doc_number="阳政发〔2020〕1号", doc_title="阳泉市人民政府关于做好2020年安全生产工作的通知",
                  issue="2020-02", year=2020)
    assert card_statement(analyse("What is the document number of the 2020 work safety notice?"), card) == \
        "The document number is 阳政发〔2020〕1号: 《阳泉市人民政府关于做好2020年安全生产工作的通知》 (2020 issue 2)."
    assert card_statement(analyse("What is document 阳政发〔2020〕1号 about?"), card).startswith("阳政发〔2020〕1号 is 《")


# ---- fast: the latest year first ------------------------------------------------------------------------

def test_the_same_rule_in_two_years_is_said_latest_first_with_both_years(chunks_2020, chunks_2022):
    old = _passage(chunks_2020, "地质灾害隐患点共309处")
    new = _passage(chunks_2022, "地质灾害隐患点共344处")
    assert same_kind(old, new) and not same_kind(old, old)
    hits = [SearchHit(old, 1.0, 1), SearchHit(new, 0.9, 2)]
    lead = next(s.text for s in passage_sentences(old) if "309处" in s.text)
    out = latest_first(analyse("全市地质灾害隐患点共多少处？"), hits, [Pick(0, lead)])
    assert [p.hit_index for p in out] == [1, 0]  # the 2022 plan's statement first
    assert out[0].label == "2022年（阳政办发〔2022〕42号）：" and out[1].label == "2020年（阳政办发〔2020〕35号）："
    assert likeness(out[0].sentence, out[1].sentence) >= 0.6
    # a question naming its year is answered from that year alone
    assert latest_first(analyse("2020年全市地质灾害隐患点共多少处？"), hits, [Pick(0, lead)]) == [Pick(0, lead)]


def test_a_roster_row_is_the_same_rule_only_for_the_same_role():
    title = "阳泉市人民政府办公室关于调整治理非法超限超载工作领导小组及组成人员的通知"
    old = _chunk("我市治理非法超限超载工作领导小组：组长：李文兵（副市长）", chunk_type="table", issue="2021-01", year=2021,
                 doc_key="2021-01#17", doc_number="阳政办函〔2021〕17号", doc_title=title)
    members = _chunk("我市治理非法超限超载车辆工作领导小组：成员：郝文彤（市委宣传部新闻科科长）", chunk_type="table",
                     doc_key="2022-03#95", doc_number="阳政办函〔2022〕95号", doc_title=title)
    leader = replace(members, text="我市治理非法超限超载车辆工作领导小组：组长：郭建文（市委常委、常务副市长）")
    leader = replace(leader, embed_text=leader.text)
    info = analyse("治理非法超限超载工作领导小组组长是谁？")
    lead = [Pick(0, old.text)]
    assert latest_first(info, [SearchHit(old, 1.0, 1), SearchHit(members, 0.9, 2)], lead) == lead
    both = latest_first(info, [SearchHit(old, 1.0, 1), SearchHit(leader, 0.9, 2)], lead)
    assert [p.label for p in both] == ["2022年（阳政办函〔2022〕95号）：", "2021年（阳政办函〔2021〕17号）："]


def test_the_same_words_in_two_years_are_said_once_from_the_latest(chunks_2020, chunks_2022):
    old = _passage(chunks_2020, "地质灾害隐患点共309处")
    new = replace(old, chunk_id="n", doc_key="2022-03#09", issue="2022-03", year=2022, doc_number="阳政办发〔2022〕42号",
                  doc_title=old.doc_title.replace("2020", "2022"))
    lead = next(s.text for s in passage_sentences(old) if "309处" in s.text)
    hits = [SearchHit(old, 1.0, 1), SearchHit(new, 0.9, 2)]
    out = latest_first(analyse("全市地质灾害隐患点共多少处？"), hits, [Pick(0, lead)])
    assert out == [Pick(1, lead, "2022年（阳政办发〔2022〕42号）：")]


def test_the_hook_keeps_the_chosen_sentence_for_the_citation():
    passage = _chunk(RUN_ON)
    sentence = "(市委党校牵头,市委组织部等单位配合)20.在领导干部考核和公务员录用中落实科学素质要求。"
    shown = final_form(analyse("领导干部考核中怎样落实科学素质要求？"), [SearchHit(passage, 1.0, 1)], [(0, sentence)])
    assert shown[0].text == "20.在领导干部考核和公务员录用中落实科学素质要求。" and shown[0].sentence == sentence


# ---- slow: the real service over the real index ---------------------------------------------------------

def _check_markers(result) -> None:
    assert {int(n) for n in MARKER.findall(result.answer)} == {c.n for c in result.citations}


@pytest.mark.slow
@pytest.mark.parametrize("question, start, quoted", [
    ("What is the minimum age for riding shared bikes?",
     "The minimum age is 16 years (2022 issue 3, 阳政办发〔2022〕34号). 「", "16 周岁"),
    ("When does Yangquan's regulation on investigating fire accidents come into force?",
     "It takes effect from 1 July 2022 (2022 issue 3, ", "2022年7月1日起施行"),
    ("Who was appointed principal of Yangquan No. 6 Middle School?",
     "崔戎辉 was appointed 阳泉市第六中学校校长 (2021 issue 4, ", "崔戎辉为"),
    ("Who heads the group for preventing fall armyworm (草地贪夜蛾)?",
     "The leader (组长) is 雷健坤 (2020 issue 2, 阳政办发〔2020〕34号). 「", "雷健坤"),
    ("What is the document number of the notice on the 2020 work safety?",
     "The document number is 阳政发〔2020〕1号: 《阳泉市人民政府关于做好2020年安全生产工作的通知》", ""),
])
def test_english_questions_get_an_english_frame_and_the_quoted_source(gazette_service, question, start, quoted):
    result = gazette_service.ask(question)
    assert result.answered and result.answer.startswith(start), result.answer
    assert quoted in result.answer and re.search(r"」\[1\]|\.\[1\]", result.answer)
    _check_markers(result)


@pytest.mark.slow
def test_an_english_refusal_stays_english(gazette_service):
    result = gazette_service.ask("What was the price of a ticket to the moon in the 2022 gazette?")
    assert not result.answered and result.answer.startswith("The gazette does not contain")
    assert not re.search(r"[\u4e00-\u9fff]", result.answer)


@pytest.mark.slow
def test_two_years_of_the_same_plan_are_answered_latest_first_with_their_years(gazette_service):
    result = gazette_service.ask("地质灾害防治工作领导小组办公室主任是谁？")
    # led by the asked value read off the latest year's sentence (issue 12's answer form), then that sentence
    assert result.answered and result.answer.startswith("办公室主任 王志伟。2022年（阳政办发〔2022〕42号）："), result.answer
    assert result.answer.index("王志伟") < result.answer.index("2020年（阳政办发〔2020〕35号）：") < result.answer.index("王光荣")
    assert [c.hit.chunk.year for c in result.citations] == [2022, 2020]
    _check_markers(result)


@pytest.mark.slow
def test_a_run_on_item_is_answered_from_its_own_numbering(gazette_service):
    result = gazette_service.ask("在领导干部考核和公务员录用中落实科学素质要求是第几项任务？")
    assert result.answered and result.answer.startswith("20.在领导干部考核"), result.answer
    assert "牵头" not in result.answer  # the previous item's tail (…市委党校牵头…配合)) is not shown
    assert result.citations[0].sentence.startswith("(")  # the citation still highlights the whole sentence
