"""The answerability gate (qa/answer/grounding.py) on real passages: each kind of near miss is refused,
and the question the same passage does answer is still answered.

Fast tests run the extractive answerer on real corpus chunks without the model (lexical scoring);
the slow ones ask the real service over the shared real index.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.extractive import ExtractiveParams, compose
from qa.answer.grounding import asked, ungrounded
from qa.corpus.chunker import chunk_file
from qa.corpus.normalize import squash
from qa.models import Chunk, SearchHit
from qa.question import analyse

pytest_plugins = ["api_support"]
ROOT = Path(__file__).resolve().parent.parent
PARAMS = ExtractiveParams()


@pytest.fixture(scope="module")
def chunks() -> dict[str, list[Chunk]]:
    return {issue: chunk_file(ROOT / "corpus" / f"{issue}.txt") for issue in ("2020-02", "2021-01", "2021-04", "2022-03", "2023-06")}


def hits_with(chunks: list[Chunk], *needles: str) -> list[SearchHit]:
    picked = [c for c in chunks if c.chunk_type != "card" and all(n in squash(c.text) for n in needles)]
    assert picked, needles
    return [SearchHit(c, 1.0 - i * 0.01, i + 1) for i, c in enumerate(picked)]


def hit_of(chunks: list[Chunk], sentence: str) -> SearchHit:
    return hits_with(chunks, squash(sentence))[0]


def answer(question: str, hits: list[SearchHit]):
    return compose(analyse(question), hits, PARAMS, False)


# ---- places: a district the task list does not name ----------------------------------------------

def test_district_missing_from_the_task_list_is_refused(chunks):
    hits = hits_with(chunks["2020-02"], "实施71.5万平方米城镇老旧小区改造")  # (二)盂县 (三)城区 (四)矿区, no 郊区
    refused = answer("2020年郊区老旧小区改造要改造多少平方米？", hits)
    assert not refused.answered and refused.answer.startswith("公报中未找到")
    assert refused.related and not refused.citations


def test_district_named_by_the_heading_above_is_answered(chunks):
    hits = hits_with(chunks["2020-02"], "实施71.5万平方米城镇老旧小区改造")
    result = answer("2020年城区老旧小区改造要改造多少平方米？", hits)
    assert result.answered and "71.5" in result.answer and "16.2" not in result.answer, result.answer


def test_a_sentence_naming_other_districts_is_no_answer(chunks):
    sentence = "到2023年，城区、矿区、郊区共进驻300辆幸福快车。"
    hit = hit_of(chunks["2021-04"], sentence)
    assert ungrounded(analyse("“123工程”里开发区要进驻多少辆幸福快车？"), sentence, hit).startswith("place")
    assert ungrounded(analyse("“123工程”里城区、矿区、郊区共要进驻多少辆幸福快车？"), sentence, hit) == ""


def test_the_largest_amount_asked_is_told_by_amounts(chunks):
    # 投资额最大的是哪个项目: the project list is an unprinted annex; "共 38 项" gives no amount to compare
    sentence = "2020 年市级重点工程项目名单已经市政府研究确定，共 38 项。"
    hit = hit_of(chunks["2020-02"], "市级重点工程项目名单已经市政府研究确定")
    info = analyse("2020年市级重点工程38个项目里投资额最大的是哪个项目？")
    assert ungrounded(info, sentence, hit).startswith("no value in 元")
    assert ungrounded(analyse("2020年市级重点工程一共有多少项？"), sentence, hit) == ""
    sentence = "城镇保障性安居工程投资7.4亿元；"
    hit = hit_of(chunks["2020-02"], "城镇保障性安居工程投资7.4亿元")
    assert ungrounded(analyse("2020年哪项住房工程投资最多？"), sentence, hit) == ""


# ---- years and issues ----------------------------------------------------------------------------

def test_year_outside_the_plan_is_refused_and_inside_answered(chunks):
    hits = hits_with(chunks["2023-06"], "服务区快充桩覆盖率达到80%")
    assert not answer("充（换）电基础设施三年行动计划里，2026年高速公路服务区快充桩覆盖率要到多少？", hits).answered
    result = answer("2024年底高速公路3个服务区快充桩覆盖率要到多少？", hits)
    assert result.answered and "80%" in result.answer, result.answer


def test_another_years_figure_is_refused(chunks):
    hits = hits_with(chunks["2020-02"], "2020年度住房保障工作目标任务为")
    assert not answer("阳泉市2021年度住房保障工作目标任务是多少套？", hits).answered
    result = answer("阳泉市2020年度城镇棚户区住房改造开工目标任务是多少套？", hits)
    assert result.answered and "5734" in result.answer, result.answer


def test_a_sentence_naming_only_other_years_from_a_passage_of_another_year():
    text = "2025年全市新增公共充电桩1000个。\n2023年新增300个。"
    c = Chunk("x", text, text, text, "2023-06.txt", 1, 2, "2023-06", 2023, "2023-06#01", "", "三年行动计划", "")
    info = analyse("2024年全市新增多少个公共充电桩？")
    assert ungrounded(info, "2025年全市新增公共充电桩1000个。", SearchHit(c, 1.0)) == "year 2024 not in passage"
    c2 = Chunk("y", "2024年到2025年每年新增500个；2026年新增300个。", "", "", "2023-06.txt", 1, 2, "2023-06", 2023,
               "2023-06#01", "", "计划", "")
    assert ungrounded(info, "2026年新增300个。", SearchHit(c2, 1.0)).startswith("sentence names other years")


def test_a_report_printed_the_next_year_does_not_give_that_years_figure(chunks):
    hits = hits_with(chunks["2021-01"], "全市共办结行政复议案件35件")  # 2020年法治政府建设情况报告, issue 2021-01
    assert not answer("2021年全市行政复议纠正率是多少？", hits).answered
    result = answer("2020年全市行政复议纠正率是多少？", hits)
    assert result.answered and "22.86%" in result.answer, result.answer


def test_an_issue_not_asked_is_refused(chunks):
    hit = hits_with(chunks["2022-03"], "重污染天气")[0]
    assert asked(analyse("2023年第6期公报里的重污染天气应急预案")).issues == ("2023-06",)
    assert ungrounded(analyse("2022年第4期公报里气象灾害预警的会商机制是什么？"), "某句", hit).startswith("issue")
    assert asked(analyse("Who was appointed in the 2023 No.6 gazette?")).issues == ("2023-06",)


# ---- the value asked for -------------------------------------------------------------------------

def test_a_rate_asked_needs_that_rate_not_another_figure(chunks):
    hits = hits_with(chunks["2021-01"], "全市共办结行政诉讼案件79件")
    assert not answer("2020年阳泉市行政诉讼案件的败诉率是多少？", hits).answered  # only 纠正率 and a count
    result = answer("2020年行政复议纠正率是多少？", hits)
    assert result.answered and "22.86%" in result.answer, result.answer


def test_a_change_relative_to_the_rate_is_not_the_rate(chunks):
    hits = hits_with(chunks["2021-01"], "在基准费率的基础上降幅")
    assert not answer("安全生产责任保险方案中，煤矿企业的基准费率是多少？", hits).answered
    result = answer("被纳入联合惩戒黑名单的单位，保险费率的提高幅度不低于多少？", hits)
    assert result.answered and "30%" in result.answer, result.answer


def test_an_actual_figure_is_not_read_off_a_plan(chunks):
    hits = hits_with(chunks["2022-03"], "全市108座市级发证非煤矿山压减比例不低于50%")  # 非煤矿山整合实施意见
    assert not answer("非煤矿山整合完成后，全市实际保留了多少座矿山？", hits).answered
    result = answer("全市市级发证的非煤矿山有多少座？", hits)
    assert result.answered and "108" in result.answer, result.answer
    report = hits_with(chunks["2021-01"], "全市共办结行政复议案件35件")  # a report states outcomes
    result = answer("2020年全市实际办结行政复议案件多少件？", report)
    assert result.answered and "35" in result.answer, result.answer


def test_a_head_count_is_asked_and_a_pointer_to_the_annex_is_no_answer(chunks):
    hits = hits_with(chunks["2022-03"], "突发事件分级标准见附件1")
    assert not answer("按文旅突发事件分级标准，重大文旅突发事件的死亡人数门槛是多少？", hits).answered
    info = analyse("突发事件分为几个等级？")
    assert ungrounded(info, "（突发事件分级标准见附件1）", hits[0]) == "annex pointer"


def test_chinese_numerals_count_and_an_article_does_not(chunks):
    hit = hits_with(chunks["2021-01"], "三个工作日内")[0]
    sentence = next(s for s in hit.chunk.text.replace("\n", "。").split("。") if "三个工作日内" in s)
    assert ungrounded(analyse("各县区、部门要在几天内更新收费目录清单？"), sentence, hit) == ""
    c = Chunk("z", "在本月完成上一个月部下发图斑的核查。", "", "", "2021-01.txt", 1, 1, "2021-01", 2021, "2021-01#01", "", "", "")
    assert ungrounded(analyse("全市下发了多少个卫片图斑？"), "在本月完成上一个月部下发图斑的核查。", SearchHit(c, 1.0)) == "no value in 个"


def test_which_ones_is_not_how_many():
    a = asked(analyse("全市落实13710工作比较好的是哪几个单位？"))
    assert not a.units and not a.number
    assert asked(analyse("城市运行指挥中心计划哪年建成？")).year_value
    assert not asked(analyse("What yearly subsidy do disabled children get?")).year_value


# ---- the organisation asked about ------------------------------------------------------------------

def test_a_sentence_about_the_notice_at_large_does_not_answer_for_one_unit(chunks):
    hits = hits_with(chunks["2023-06"], "重大火灾隐患")
    hits = [h for h in hits if "第三人民医院" in h.chunk.doc_title]
    assert not answer("阳泉市第三人民医院被挂牌督办的重大火灾隐患具体是什么问题？", hits).answered
    assert asked(analyse("2022年6月谁被任命为阳泉信达投资管理有限责任公司董事长？")).organisations
    assert not asked(analyse("第三人民医院挂牌督办的通知是哪天印发的？")).organisations  # about the document


def test_the_organisation_named_in_the_sentence_is_answered(chunks):
    hit = hits_with(chunks["2022-03"], "杜培岩为阳泉信达投资管理有限责任公司董事长")[0]
    info = analyse("2022年6月谁被任命为阳泉信达投资管理有限责任公司董事长？")
    assert ungrounded(info, "杜培岩为阳泉信达投资管理有限责任公司董事长；", hit) == ""
    assert "not in sentence" in ungrounded(info, "李彦明为阳泉市建设集团有限责任公司董事长。", hit)


def test_an_organisation_the_passage_never_names_is_refused(chunks):
    hits = [h for h in hits_with(chunks["2023-06"], "重大火灾隐患") if "第三人民医院" in h.chunk.doc_title]
    assert not answer("阳泉市第一人民医院被挂牌督办的火灾隐患是什么？", hits).answered
    assert asked(analyse("阳泉市政府驻上海联络处主任是谁？")).proper_organisations == ("驻上海联络处",)
    assert not asked(analyse("按病种分值付费首批试点医院什么时候试运行？")).proper_organisations  # not a name


def test_english_districts_are_read():
    assert asked(analyse("How many geological hazard sites did Pingding County have in 2022?")).places == ("平定县",)
    assert asked(analyse("What did the Yangquan High-tech Industrial Development Zone get?")).places == ("高新区",)
    assert asked(analyse("What was the 2020 administrative reconsideration correction rate?")).units == (
        asked(analyse("纠正率是多少？")).units)


# ---- people ----------------------------------------------------------------------------------------

def test_a_list_of_people_needs_names(chunks):
    hits = hits_with(chunks["2023-06"], "重污染天气应急专家库")
    assert not answer("阳泉市重污染天气应急预案的专家组成员有哪些人？", hits).answered


def test_a_lead_in_is_no_answer_to_who(chunks):
    hit = hits_with(chunks["2021-01"], "程建军为阳泉市商务局副局长")[0]
    lead = next(line for line in hit.chunk.text.splitlines() if line.endswith("任命："))
    info = analyse("Who was appointed director of the Yangquan Municipal Health Commission in 2021?")
    assert ungrounded(info, lead, hit) == "lead-in"
    # the same kind of line answers a date question: the date is in it
    assert ungrounded(analyse("程建军的任命是哪天的常务会议决定的？"), lead, hit) == ""


def test_english_number_questions_need_the_unit(chunks):
    hit = hits_with(chunks["2021-01"], "地震灾害分级")[0]
    info = analyse("Under the 2021 earthquake emergency plan, how many deaths trigger a level-one municipal response?")
    assert ungrounded(info, "1.5 地震灾害分级", hit) == "no value in 人"
    assert ungrounded(info, "造成300人以上死亡（含失踪）的地震灾害", hit) == ""
    # an approximate count (2万余人, 20多人) carries the unit too
    people = analyse("According to the geological hazard plan, how many people are threatened?")
    assert ungrounded(people, "共威胁人员2万余人，威胁财产6.1亿元。", hit) == ""
    assert ungrounded(people, "共威胁人员20多人。", hit) == ""
    assert ungrounded(people, "共威胁人员若干。", hit) == "no value in 人"


# ---- slow: the real service ----------------------------------------------------------------------

NEAR_MISSES = [
    ("阳泉市2024年度地质灾害防治方案统计的隐患点有多少处？", "2022年度全市地质灾害隐患点共多少处？", "344"),
    ("2020年老旧小区改造任务分解里，郊区要改造多少平方米？", "2020年老旧小区改造任务分解里，城区要改造多少平方米？", "71.5"),
    ("2020年阳泉市行政诉讼案件的败诉率是多少？", "2020年全市办结了多少件行政诉讼案件？", "79"),
    ("2021年全市行政复议纠正率是多少？", "2020年全市行政复议纠正率是多少？", "22.86"),
    ("2020年郊区老旧小区改造涉及多少户？", "2020年矿区老旧小区改造涉及多少户？", "4359"),
    ("2020年高新区住房保障城镇棚户区住房改造开工多少套？", "2020年盂县住房保障城镇棚户区住房改造开工多少套？", "205"),
    ("阳泉市政府驻天津联络处主任是谁？", "共享单车用户需要满多少岁？", "16"),
]


@pytest.mark.slow
@pytest.mark.parametrize("unanswerable,answerable,key", NEAR_MISSES)
def test_near_miss_refused_and_its_neighbour_answered(gazette_service, unanswerable, answerable, key):
    refused = gazette_service.ask(unanswerable)
    assert not refused.answered and refused.answer.startswith("公报中未找到"), refused.answer
    assert refused.related and not refused.citations
    result = gazette_service.ask(answerable)
    assert result.answered and key in result.answer.replace(" ", ""), result.answer


# ---- the chain: a document number or gazette issue the corpus does not hold -----------------------

def chain_over(hits: list[SearchHit], doc_numbers: tuple[str, ...] = ()):
    from qa.answer.chain import build_answer_chain
    from qa.index.search import RouteMatch

    return build_answer_chain(lambda q, k, f: hits, lambda q: RouteMatch(list(doc_numbers), []))


def test_a_document_number_not_in_the_gazette_is_refused_with_the_reason(chunks):
    from qa.answer.chain import AskRequest

    card = next(c for c in chunks["2022-03"] if c.chunk_type == "card" and c.doc_number == "阳政办发〔2022〕34号")
    hits = [SearchHit(card, 1.0, 1)]
    refused = chain_over(hits).invoke(AskRequest("阳政办发〔2024〕3号是什么文件？"))
    assert not refused.answered and "阳政办发〔2024〕3号" in refused.answer and refused.related
    known = chain_over(hits, ("阳政办发〔2022〕34号",)).invoke(AskRequest("阳政办发〔2022〕34号是什么文件？"))
    assert known.answered and "互联网租赁自行车" in known.answer
    # a number the passages cite (a provincial document) is no reason to refuse
    cited = hits_with(chunks["2021-04"], "晋政办发〔2012〕37号")
    result = chain_over(cited).invoke(AskRequest("按晋政办发〔2012〕37号要求，调整后的挂牌责任人名单印发给了谁？"))
    assert "公报未收录" not in result.answer


def test_a_gazette_issue_not_retrieved_is_refused_with_the_reason(chunks):
    from qa.answer.chain import AskRequest

    hits = hits_with(chunks["2022-03"], "年满16周岁")
    refused = chain_over(hits).invoke(AskRequest("2022年第1期公报里共享单车用户需要满多少岁？"))
    assert not refused.answered and "2022年第1期" in refused.answer
    result = chain_over(hits).invoke(AskRequest("2022年第3期：互联网租赁自行车用户须年满多少周岁？"))
    assert result.answered and "16" in result.answer, result.answer
