"""The answer chain on real passages: question types, multi-part, refusal, English, citations.

The fast tests run the answerer on real chunks of the corpus without the model (lexical scoring);
the slow ones run the real GazetteService over the shared real index.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.answer.extractive import ExtractiveParams, compose, split_sentences
from qa.answer.selection import english_value
from qa.answer.sentences import passage_sentences
from qa.question import analyse, asks_document, clauses, conjunct_parts
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


# ---- fast: sentence selection and composition on real passages (no model) ---------------------

@pytest.fixture(scope="module")
def chunks_2020():
    return chunk_file(ROOT / "corpus" / "2020-02.txt")


@pytest.fixture(scope="module")
def chunks_2021_01():
    return chunk_file(ROOT / "corpus" / "2021-01.txt")


@pytest.fixture(scope="module")
def chunks_2021_04():
    return chunk_file(ROOT / "corpus" / "2021-04.txt")


@pytest.fixture(scope="module")
def chunks_2023():
    return chunk_file(ROOT / "corpus" / "2023-06.txt")


def flat_answer(result) -> str:
    return squash(result.answer)


def test_question_parts_per_coordinated_item():
    assert conjunct_parts("市政府稳经济工作专班的组长和常务副组长是谁？") == [
        "市政府稳经济工作专班的组长是谁？", "市政府稳经济工作专班的常务副组长是谁？"]
    assert conjunct_parts("2021年6月和7月全市政府网站检查的合格率分别是多少？") == [
        "2021年6月全市政府网站检查的合格率是多少？", "2021年7月全市政府网站检查的合格率是多少？"]
    assert conjunct_parts("室温不达标退费时，低于标准2℃以内和低于4℃以内分别退多少？") == [
        "室温不达标退费时，低于标准2℃以内退多少？", "室温不达标退费时，低于4℃以内退多少？"]
    # years are the chain's parts (each retrieved on its own); units only split when asked 分别
    assert conjunct_parts("2020年和2022年的地质灾害防治领导小组组长分别是谁？") == ["2020年和2022年的地质灾害防治领导小组组长分别是谁？"]
    assert conjunct_parts("市发改委和市财政局负责什么？") == ["市发改委和市财政局负责什么？"]


def test_document_asked_without_the_document_cue():
    assert asks_document("报给市人大常委会的那份2020年法治政府建设情况报告，文号是多少？")
    assert asks_document("提出“六个一活动”的促消费文件是哪个？")
    assert not asks_document("这个文件规定了多少天？")


def test_roster_rows_read_with_their_introduction(chunks_2020):
    sentences = passage_sentences(next(c for c in chunks_2020 if "雷健坤" in c.text and "草地贪夜蛾" in c.text))
    row = next(s for s in sentences if s.text.startswith("组 长"))
    assert row.item and "草地贪夜蛾防控领导小组" in row.lead


def test_each_role_asked_gets_its_roster_row(chunks_2020):
    # the group's own sentence (市政府市长任…组长) names nobody; the roster rows name both
    hits = hits_for(chunks_2020, "市政府市长任草地贪夜蛾防控领导小组组长", "组 长：雷健坤")
    result = compose(analyse("阳泉市草地贪夜蛾防控领导小组的组长和副组长分别是谁？"), hits, ExtractiveParams(), False)
    assert result.answered and "雷健坤" in result.answer and "李文兵" in result.answer, result.answer
    check_markers(result)


def test_sentence_of_a_numbered_item_reads_with_the_item(chunks_2020):
    hits = hits_for(chunks_2020, "救助标准为 15000 元", "400 元/人给予其一次性筛查诊断费用救助")
    result = compose(analyse("0到6岁残疾儿童在定点机构做全日制康复训练，每人每年救助多少钱？"), hits, ExtractiveParams(), False)
    assert result.answered and "15000元/人/年" in flat_answer(result), result.answer
    check_markers(result)


def test_which_ones_question_shows_the_list(chunks_2023):
    hits = hits_for(chunks_2023, "应当将以下源头单位纳入公示范围")
    result = compose(analyse("哪些场所的经营人、管理人要纳入源头单位公示范围？"), hits, ExtractiveParams(), False)
    assert result.answered and "铝矾土" in result.answer and "商品混凝土" in result.answer, result.answer
    check_markers(result)


def test_each_month_answered_from_its_own_report(chunks_2021_04):
    hits = hits_for(chunks_2021_04, "合格率为81.8%", "合格率为90.9%")
    result = compose(analyse("2021年6月和7月全市政府网站检查的合格率分别是多少？"), hits, ExtractiveParams(), False)
    assert result.answered and "81.8%" in result.answer and "90.9%" in result.answer, result.answer
    check_markers(result)


def test_predecessor_and_later_part_about_the_person_named(chunks_2020, chunks_2021_04):
    hits = hits_for(chunks_2020, "延鹏翀为阳泉市政府驻北京联络处主任")
    result = compose(analyse("阳泉市政府驻北京联络处主任2020年3月由谁接任，原主任是谁？"), hits, ExtractiveParams(), False)
    assert "延鹏翀" in result.answer and "贾权" in result.answer, result.answer
    hits = hits_for(chunks_2021_04, "史生岗为阳泉市第一中学校校长")
    result = compose(analyse("2021年7月新任阳泉一中校长的是谁？他之前在哪所学校当校长？"), hits, ExtractiveParams(), False)
    assert "史生岗" in result.answer and "第十一中学" in result.answer, result.answer
    check_markers(result)


def test_document_number_asked_with_how_much_gets_the_card_line(chunks_2021_01):
    hits = hits_for(chunks_2021_01, "2020年，在市委的正确领导下，市人大及其常委会的监督下")
    result = compose(analyse("报给市人大常委会的那份2020年法治政府建设情况报告，文号是多少？"), hits, ExtractiveParams(), False)
    assert result.answered and "阳政函〔2021〕22号" in result.answer, result.answer
    check_markers(result)


def test_english_question_matched_through_translated_terms(chunks_2021_04):
    info = analyse("Which department leads the manhole-cover census in Yangquan's built-up area?")
    # what the searcher's cross-lingual expansion gives these words (qa.index.crosslingual)
    info.terms = (("科室", "部门"), ("牵头", "领导", "带头"), ("涵盖", "盖子", "覆盖"), ("人口普查", "普查"), ("建成区",))
    hits = hits_for(chunks_2021_04, "完成市建成区窨井盖普查任务") + hits_for(chunks_2021_04, "窨井盖")[:2]
    result = compose(info, hits, ExtractiveParams(), False)
    assert result.answered and "市城市管理局" in result.answer and "「" in result.answer, result.answer
    check_markers(result)


def test_english_value_is_the_figure_asked_for():
    info = analyse("What share of residents should have health literacy in 2020?")
    assert english_value(info, ["2020年", "20%", "3个"]) == "20%"
    assert english_value(analyse("How many villages are picked as pilots?"), ["2023年", "5个"]) == "5个"


@pytest.mark.slow
def test_each_role_asked_answered_over_the_real_index(gazette_service):
    result = gazette_service.ask("2022年地质灾害防治领导小组的组长和副组长分别是谁？")
    assert result.answered and "韩加政" in result.answer and "杜平华" in result.answer, result.answer
    check_markers(result)


@pytest.mark.slow
def test_english_roster_question_over_the_real_index(gazette_service):
    result = gazette_service.ask("Who is the head of the medical rescue group in the earthquake emergency plan?")
    assert result.answered and "市卫健委主任" in result.answer and "「" in result.answer, result.answer
    result = gazette_service.ask("What share of residents should have health literacy in 2020?")
    assert result.answer.startswith("20%"), result.answer
    check_markers(result)


def test_table_without_a_section_path_keeps_its_first_row(chunks_2021_04):
    # the rows of a table with no section path start on embed_text's second line (the leader's row)
    table = next(c for c in chunks_2021_04 if c.chunk_type == "table" and "太行一号旅游公路建设领导组" in c.embed_text)
    assert not table.section_path
    assert any("组长：李文兵" in s.text for s in passage_sentences(table))
    hits = [SearchHit(table, 1.0, 1)]
    result = compose(analyse("太行一号旅游公路建设领导组的组长是谁？"), hits, ExtractiveParams(), False)
    assert result.answered and "李文兵" in result.answer and "张立君" not in result.answer, result.answer
    check_markers(result)


def _second_passage_case(chunks, question, *needles):
    hits = [h for n in needles for h in hits_for(chunks, n)[:1]]
    hits = [SearchHit(h.chunk, 1.0 - i * 0.01, i + 1) for i, h in enumerate(hits)]
    return compose(analyse(question), hits, ExtractiveParams(), False)


def test_second_passage_is_cited_only_when_it_adds_to_the_answer(chunks_2020):
    # another passage restating the same figure (降尘量…9 吨/月·平方公里) earns no second citation
    result = _second_passage_case(chunks_2020, "2020年要求全市降尘量控制在多少以下？",
                                  "确保降尘量低于 9 吨", "降尘量超过国家考核标准")
    assert result.answered and "9吨/月·平方公里" in flat_answer(result), result.answer
    assert len(result.citations) == 1, result.answer
    check_markers(result)


def test_second_sentence_adds_the_asked_value_or_question_words(chunks_2020):
    from qa.answer.extractive import _adds, score_sentences
    info = analyse("2020年全市居民健康素养水平要提升到多少？")
    hits = [h for n in ("继续开展全市居民健康素养监测工作", "全市居民健康素养水平提升至20%") for h in hits_for(chunks_2020, n)[:1]]
    cands = score_sentences(info, hits, ExtractiveParams())
    survey = next(c for c in cands if "继续开展全市居民健康素养监测工作" in c.sentence)
    target = next(c for c in cands if "提升至20%" in c.sentence)
    assert _adds(info, hits, survey, target, 0.1)  # the figure asked for, which the survey sentence lacks
    assert not _adds(info, hits, target, target, 0.1)  # a sentence restating the best adds nothing


def test_further_value_of_the_asked_kind_from_the_same_passage_joins(chunks_2023):
    # 比例有什么要求: two percentages in one passage, the second reading well below the first
    hits = hits_for(chunks_2023, "将不低于55%的资金用于养老服务发展")
    result = compose(analyse("福彩公益金里用于养老服务的比例有什么硬性要求？"), hits, ExtractiveParams(), False)
    assert result.answered and "55%" in result.answer and "70%" in result.answer, result.answer
    assert len(result.citations) == 1
    check_markers(result)


def test_other_passage_with_some_figure_is_not_cited_when_the_best_has_the_figure(chunks_2022):
    # the best sentence carries the count asked for; another passage's percentages add nothing to it
    from qa.answer.extractive import _adds, score_sentences
    info = analyse("2022年全市地质灾害隐患点共有多少处？")
    hits = [h for n in ("全市地质灾害隐患点共344处", "我市全境都是地质灾害易发区") for h in hits_for(chunks_2022, n)[:1]]
    assert hits[0].chunk.chunk_id != hits[1].chunk.chunk_id
    cands = score_sentences(info, hits, ExtractiveParams())
    count = next(c for c in cands if "隐患点共344处" in c.sentence)
    shares = next(c for c in cands if "地质灾害高易发区占全市面积" in c.sentence)
    assert not _adds(info, hits, count, shares, 0.1)


# ---- gazette phrasing of English questions, wrapped lines, appointment and district passages ------


def test_wrapped_source_lines_are_joined_into_one_sentence(chunks_2023):
    # 第四十三条 本办法自 2024 年 1 月 5 日起 / 施行。: the date and 施行 belong to one sentence
    chunk = next(c for c in chunks_2023 if "本办法自 2024 年 1 月 5 日起" in c.text)
    texts = [s.text for s in passage_sentences(chunk)]
    assert "第四十三条 本办法自 2024 年 1 月 5 日起施行。" in texts, texts
    assert "第四十二条 本办法由阳泉市民政局负责解释。" in texts, texts


def test_unwrap_keeps_headings_roster_lines_and_new_items_apart():
    from qa.answer.sentences import unwrap
    roster = ["杨 潞 市医保中心审核结算科科长", "张世博 市第一人民医院医保办主任"]
    assert unwrap(roster) == roster  # neither closes a sentence
    heading = ["（二）切实关注重点环节", "紧盯重要时间节点。"]
    assert unwrap(heading) == heading  # a short heading line is no wrapped sentence
    article = ["第四十一条 有条件的地方可按程序将特困人员认定的审核", "第四十二条 本办法由阳泉市民政局负责解释。"]
    assert unwrap(article) == article  # the next line starts a new article


def test_english_which_year_document_question_is_a_document_question():
    assert asks_document("Which 2022 document set up Yangquan's linkage mechanism for meteorological disasters?")
    assert asks_document("What document announced the list?")
    assert not asks_document("What does the document say about refunds?")


def test_document_answer_cites_the_card_of_the_best_passage(chunks_2022):
    info = analyse("Which 2022 document set up Yangquan's linkage mechanism for monitoring, forecasting and warning of meteorological disasters?")
    info.terms = (("建立", "设立"), ("机制",), ("监测",), ("预报",), ("预警",), ("气象",), ("灾害",))
    text = hits_for(chunks_2022, "指挥部办公室负责建立气象灾害监测预报预警联动工作机制")[:1]
    card = [c for c in chunks_2022 if c.chunk_type == "card" and c.doc_key == text[0].chunk.doc_key]
    hits = text + [SearchHit(card[0], 0.9, 2)]
    result = compose(info, hits, ExtractiveParams(), False)
    assert result.answered and "阳政办发〔2022〕50号" in result.answer, result.answer
    first = result.citations[0]
    assert first.hit.chunk.chunk_type == "card", [c.hit.chunk.chunk_type for c in result.citations]
    check_markers(result)


def test_who_became_question_prefers_the_appointment_to_the_removal(chunks_2021_04):
    # one passage removes 卢晓东 as principal of No. 6 Middle School, another appoints 崔戎辉
    info = analyse("Who became principal of Yangquan No. 6 Middle School in August 2021?")
    info.terms = (("校长",), ("中学",), ("第六",))
    removal = hits_for(chunks_2021_04, "卢晓东的阳泉市第六中学校校长职务")[:1]
    appointment = hits_for(chunks_2021_04, "崔戎辉为阳泉市第六中学校校长")[:1]
    assert removal[0].chunk.chunk_id != appointment[0].chunk.chunk_id
    result = compose(info, removal + [SearchHit(appointment[0].chunk, 0.9, 2)], ExtractiveParams(), False)
    assert result.answered and "崔戎辉" in result.answer and "卢晓东" not in result.answer, result.answer
    check_markers(result)


def test_question_naming_no_district_reads_the_city_wide_passage(chunks_2020):
    # the same 租赁补贴发放…户 sentence is in the city-wide targets and in each district's section
    from qa.answer.extractive import score_sentences
    info = analyse("2020年城镇住房保障家庭租赁补贴发放多少户？")
    district = [h for h in hits_for(chunks_2020, "城镇住房保障家庭租赁补贴发放50户") if h.chunk.section_path][:1]
    city = hits_for(chunks_2020, "城镇住房保障家庭租赁补贴发放900户")[:1]
    assert district and city and any("盂县" in p for p in district[0].chunk.section_path)
    hits = district + [SearchHit(city[0].chunk, 0.9, 2)]
    best = score_sentences(info, hits, ExtractiveParams())[0]
    assert "900户" in best.sentence, best.sentence
    info = analyse("2020年盂县城镇住房保障家庭租赁补贴发放多少户？")  # a district asked: its own section answers
    assert score_sentences(info, hits, ExtractiveParams())[0].hit_index == 0


def test_other_passage_naming_nobody_is_not_cited_when_the_best_names_the_person(chunks_2022):
    # who headed the office: the best names 王志伟 in a role (a passage whose persons were not extracted);
    # a sentence of another passage on the topic names nobody, and the year it holds is the question's own
    from qa.answer.extractive import _adds, score_sentences
    info = analyse("2022年 Who headed the office of the geological-hazard leading group?")
    info.terms = (("主任", "局长"), ("办公室",), ("地质灾害", "风险"), ("领导小组",))
    hits = [h for n in ("办公室主任：王志伟（兼）", "完成孟县、郊区地质灾害风险调查评价") for h in hits_for(chunks_2022, n)[:1]]
    assert hits[0].chunk.chunk_id != hits[1].chunk.chunk_id
    cands = score_sentences(info, hits, ExtractiveParams())
    office = next(c for c in cands if "王志伟" in c.sentence)
    survey = next(c for c in cands if "地质灾害风险调查评价" in c.sentence)
    assert not _adds(info, hits, office, survey, 0.1)


def test_best_worded_as_runner_up_plus_an_unasked_qualifier_gives_way(chunks_2023):
    # 黄色和橙色预警解除由…审批 (lifting) and 黄色和橙色预警由…审批 (issuing) in two passages of one plan
    from qa.answer.extractive import _unqualified_first, score_sentences
    lifting = hits_for(chunks_2023, "黄色和橙色预警解除由市重污染天气应急指挥部副总指挥审批")[:1]
    issuing = hits_for(chunks_2023, "黄色和橙色预警由市重污染天气应急指挥部副总指挥审批")[:1]
    assert lifting[0].chunk.chunk_id != issuing[0].chunk.chunk_id
    hits = lifting + [SearchHit(issuing[0].chunk, 0.9, 2)]
    info = analyse("Who signs off a red heavy-pollution alert, and who signs off yellow and orange ones?")
    info.terms = (("审批", "签发"), ("红色",), ("重污染",), ("预警",), ("黄色",), ("橙色",))
    cands = score_sentences(info, hits, ExtractiveParams())
    lift = next(c for c in cands if "预警解除由市重污染" in c.sentence)
    issue = next(c for c in cands if "橙色预警由市重污染" in c.sentence)
    ordered = _unqualified_first(info, hits, [lift, issue])
    assert ordered[0] is issue
    asked = analyse("黄色和橙色预警解除由谁审批？")  # the qualifier asked about: the lifting sentence stays first
    assert _unqualified_first(asked, hits, [lift, issue])[0] is lift


def test_english_question_year_is_no_word_to_match():
    from qa.answer.selection import question_terms
    info = analyse("What target does the 2023 growth package set for electricity sent out, 180 or more?")
    info.terms = (("目标", "指标"), ("外送",))
    flat_terms = {a for alts, _ in question_terms(info) for a in alts}
    assert "2023" not in flat_terms and "180" in flat_terms and "外送" in flat_terms
