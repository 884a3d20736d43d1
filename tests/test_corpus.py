"""Parser and chunker on the real corpus (fast: no model needed)."""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from qa.corpus.chunker import chunk_corpus, chunk_file
from qa.corpus.normalize import match_doc_numbers, normalize_for_search, squash
from qa.corpus.parser import ParseError, parse_issue
from qa.corpus.stats import build_manifest, corpus_files
from qa.corpus.tables import render_table

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="module")
def issues():
    return {p.name: parse_issue(p) for p in corpus_files(CORPUS)}


@pytest.fixture(scope="module")
def chunks():
    return chunk_corpus(CORPUS)


def doc_by_number(issue, number):
    return [d for d in issue.documents if d.doc_number == number]


def test_issue_headers(issues):
    got = {(i.issue, i.total_number, i.publish_date) for i in issues.values()}
    assert got == {("2022-03", 15, "2022-06-30"), ("2021-01", 7, "2021-02-28"), ("2021-04", 10, "2021-08-31"),
                   ("2023-06", 24, "2023-12-29"), ("2020-02", 2, "2020-04-30")}


def test_all_118_documents_match_the_toc(issues):
    assert sum(len(i.documents) for i in issues.values()) == 118
    for issue in issues.values():
        assert [d.doc_number for d in issue.documents] == [e.doc_number for e in issue.toc], issue.issue
        assert issue.mismatches == []
        assert all(d.category for d in issue.documents)


def test_manifest_is_current():
    on_disk = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == build_manifest(CORPUS), "run `qa corpus manifest`"


def test_document_fields(issues):
    d = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕34号")[0]
    assert d.title == "阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见"
    assert d.issuer == "阳泉市人民政府办公室"
    assert d.addressee == "各县（区）人民政府，市直各单位"
    assert d.date == "2022-05-05" and d.disclosure == "此件公开发布"
    assert d.category == "市政府办公室文件"
    # a cover notice: the attached document's own title follows the disclosure marker
    plan = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕37号")[0]
    assert plan.attached_title == "阳泉市文化和旅游突发事件应急预案"
    assert doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕41号")[0].disclosure == "此件部分公开"


def test_attachments_marked_omitted(issues):
    omitted = [a for i in issues.values() for d in i.documents for a in d.attachments if a.omitted]
    assert len(omitted) >= 5
    assert all("略" not in a.title and "网络版" not in a.title for a in omitted)


def test_shared_document_number(issues):
    shared = doc_by_number(issues["2021-04.txt"], "阳政任字〔2021〕32号")
    assert [d.position for d in shared] == [1, 2]
    assert {d.key for d in shared} == {"2021-04#01", "2021-04#02"}
    assert "黄慧文" in shared[0].title and "王晓峰" in shared[1].title


def test_broken_line_is_repaired(issues):
    d = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕34号")[0]
    para = next(p for p in d.paragraphs if "主动接受市交通运输" in p.text)
    assert "主动接受市交通运输局、市市场监督管理局" in para.text
    assert (para.line_start, para.line_end) == (166, 168)


def test_false_heading_inside_sentence(issues):
    d = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕34号")[0]
    labels = [s.heading for s in d.sections]
    assert labels == ["一、总体要求", "二、强化企业主体责任", "三、强化行业规范管理", "四、营造良好发展环境"] + labels[4:]


def test_section_paths(issues):
    d = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕34号")[0]
    para = next(p for p in d.paragraphs if p.text.startswith("（四）规范用户使用行为"))
    assert para.section_path == ("三、强化行业规范管理", "（四）规范用户使用行为")
    plan = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕37号")[0]
    para = next(p for p in plan.paragraphs if p.text.startswith("坚持统一领导、分工负责"))
    assert para.section_path == ("阳泉市文化和旅游突发事件应急预案", "1 总则", "1.2 工作原则")


def test_two_person_roster_row(issues):
    d = doc_by_number(issues["2022-03.txt"], "阳政办发〔2022〕42号")[0]
    row = next(p for p in d.paragraphs if p.kind == "table" and "韩加政" in p.text)
    assert "组长：韩加政（副市长）" in row.readable
    assert "冯仁科（山西省公路局阳泉分局副局长）" in row.readable
    assert "地质灾害防治领导小组" in row.readable


def test_roster_rows_read_with_the_group_the_notice_introduces(issues):
    # the group a roster belongs to is the one the sentence above introduces (对我市…领导小组…进行调整),
    # not the provincial group it cites first, nor the verb introducing it (拟调整 / 需对); a heading that
    # only says 组成人员 names no group: the group is named further up
    def rows(issue, number):
        d = doc_by_number(issues[issue], number)[0]
        return [p.readable for p in d.paragraphs if p.kind == "table"]
    assert rows("2021-01.txt", "阳政办函〔2021〕17号")[0] == "我市治理非法超限超载工作领导小组：组长：李文兵（副市长）"
    assert rows("2021-04.txt", "阳政办函〔2021〕118号")[0].startswith("市城乡居民家庭经济状况核对工作领导小组：组长：李文兵")
    assert rows("2022-03.txt", "阳政办函〔2022〕67号")[0] == "阳泉市大样本轮换领导小组：组长：石峥（副市长）"
    assert rows("2022-03.txt", "阳政办函〔2022〕62号")[0].startswith("阳泉市龙华口调水工程建设工作专班：组长：郭建文")
    # a table continuing a roster list (a page break) continues the list's role: 成员, not a bare name
    assert "我市治理非法超限超载车辆工作领导小组：成员：梁殿华（华阳新材料科技集团有限公司安监局副局长）" in \
        rows("2022-03.txt", "阳政办函〔2022〕95号")


def test_roster_rendering_unit():
    rows = ["组 长：王明厚\t副市长", "副组长：闫立彪\t市政府副秘书长", "杜平华\t市规划和自然资源局局长"]
    assert render_table(rows, "某领导小组") == [
        "某领导小组：组长：王明厚（副市长）", "某领导小组：副组长：闫立彪（市政府副秘书长）",
        "某领导小组：副组长：杜平华（市规划和自然资源局局长）"]


def test_personnel_records(issues):
    d = doc_by_number(issues["2021-01.txt"], "阳政任字〔2021〕2号")[0]
    rec = next(r for r in d.personnel if r.person == "程建军")
    assert (rec.action, rec.post, rec.date, rec.issue) == ("任命", "阳泉市商务局副局长", "2021-02-04", "2021-01")
    d = doc_by_number(issues["2021-04.txt"], "阳政任字〔2021〕34号")[0]
    removed = [r for r in d.personnel if r.action == "免去"]
    assert len(removed) == 17 and any(r.person == "张毅" for r in removed)  # OCR space removed: 张 毅
    confirmed = doc_by_number(issues["2021-01.txt"], "阳政任字〔2021〕3号")[0].personnel
    assert {r.action for r in confirmed} == {"正式任职"} and len(confirmed) == 2
    nominated = doc_by_number(issues["2021-04.txt"], "阳政任字〔2021〕32号")[1].personnel
    assert {(r.person, r.action) for r in nominated} == {("王晓峰", "提名"), ("魏宁", "提名")}


def test_normalisation():
    assert normalize_for_search("武 浩 任 孟县 PM_{2.5}") == "武浩任盂县 PM2.5"
    known = ["阳政办发〔2022〕34号", "阳政办发〔2022〕35号"]
    for form in ("阳政办发〔2022〕34号", "阳政办发[2022]34号", "阳政办发2022年34号", "阳政办发 ( 2022 ) 34 号"):
        assert match_doc_numbers(f"请问{form}是什么文件", known) == ["阳政办发〔2022〕34号"], form


def test_chunks_cite_verbatim_text_within_their_lines(chunks):
    files = {p.name: p.read_text(encoding="utf-8").split("\n") for p in corpus_files(CORPUS)}
    for c in chunks:
        window = squash("".join(files[c.source_file][c.line_start - 1 : c.line_end]))
        pos = 0
        for paragraph in c.text.split("\n"):  # verbatim paragraphs, in order (table separators skipped)
            found = window.find(squash(paragraph), pos)
            assert found >= 0, (c.chunk_id, paragraph[:60])
            pos = found + len(squash(paragraph))


def test_chunks_never_span_documents(issues, chunks):
    spans = {d.key: (d.line_start, d.line_end) for i in issues.values() for d in i.documents}
    # an issue's colophon is a passage of its own, at position 0
    spans |= {f"{i.issue}#00": (i.colophon.line_start, i.colophon.line_end) for i in issues.values() if i.colophon}
    for c in chunks:
        lo, hi = spans[c.doc_key]
        assert lo <= c.line_start <= c.line_end <= hi, c.chunk_id


def test_the_colophon_is_a_passage_of_its_own(issues, chunks):
    """The 2023 issue ends with its colophon (主办单位…地址…邮编…电话): in no document, its own passage, cited as
    printed, so the publisher's postcode can be found (issue 12)."""
    issue = issues["2023-06.txt"]
    colophon = issue.colophon
    assert colophon is not None and colophon.text.startswith("主办单位") and "邮 编：045000" in colophon.text
    assert issue.documents[-1].line_end < colophon.line_start
    assert [i.colophon for name, i in sorted(issues.items()) if name != "2023-06.txt"] == [None] * 4
    chunk = next(c for c in chunks if c.doc_key == "2023-06#00")
    assert (chunk.line_start, chunk.line_end, chunk.text) == (colophon.line_start, colophon.line_end, colophon.text)
    assert (chunk.doc_title, chunk.doc_number, chunk.chunk_type) == ("阳泉市人民政府公报版权页", "", "text")


def test_chunk_sizes_and_types(chunks):
    types = Counter(c.chunk_type for c in chunks)
    assert types["card"] == 118 and types["table"] > 0 and types["personnel"] > 0
    body = [len(c.text) for c in chunks if c.chunk_type != "card"]
    assert sum(body) / len(body) > 150
    assert sum(n > 600 for n in body) <= 0.02 * len(body)
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_chunk_ids_stable(chunks):
    again = chunk_corpus(CORPUS)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]


def test_card_chunk_answers_document_number(chunks):
    card = next(c for c in chunks if c.chunk_type == "card" and c.doc_number == "阳政办发〔2022〕34号")
    assert "互联网租赁自行车" in card.embed_text and "2022年第3期" in card.embed_text
    assert card.section_path == ()


def test_body_lines_glued_to_the_disclosure_marker_stay_searchable(issues, chunks):
    # Two-column pages put the marker on the line of the last appointments: that line is body text.
    d = doc_by_number(issues["2022-03.txt"], "阳政任字〔2022〕13号")[0]
    assert d.disclosure == "此件公开发布"
    body = " ".join(c.text for c in chunks if c.doc_key == d.key and c.chunk_type != "card")
    assert "樊志红为阳泉市民政局局长" in body and "闫献忠为阳泉市城市管理局局长" in body
    d = doc_by_number(issues["2022-03.txt"], "阳政任字〔2022〕12号")[0]
    assert any(p.kind == "text" and p.text.startswith("刘振华的阳泉市商务局副局长职务") for p in d.paragraphs)
    # a signature or date before the marker is still no content
    d = doc_by_number(issues["2021-01.txt"], "阳政办发〔2021〕5号")[0]
    assert any(p.kind == "marker" and p.text.startswith("阳泉市人民政府办公室") for p in d.paragraphs)


def test_cover_notice_card_ends_with_its_signature_and_date(chunks):
    card = next(c for c in chunks if c.chunk_type == "card" and c.doc_number == "阳政办发〔2022〕41号")
    assert card.text.endswith("阳泉市人民政府办公室\n2022年5月20日")
    # a long document's card stops at its first paragraph (its date is pages further on)
    card = next(c for c in chunks if c.chunk_type == "card" and c.doc_number == "阳政任字〔2022〕13号")
    assert "2022年6月7日" not in card.text


def test_synthetic_new_issue_parses(tmp_path):
    text = "\n".join([
        "阳泉市人民政府公报", "", "2024 第1期", "", "(总第 025期)", "", "2024 年 2 月 29 日出版（双月刊）", "",
        "目 录", "", "【市政府办公室文件】", "",
        "- 阳泉市人民政府办公室关于印发阳泉市测试工作方案的通知（阳政办发〔2024〕1号）……（1）", "",
        "【人事任免】", "",
        "阳泉市人民政府关于张三任职的通知（阳政任字〔2024〕2号）\t（5）", "",
        "阳泉市人民政府办公室", "", "关于印发阳泉市测试工作方案的通知", "", "阳政办发〔2024〕1 号", "",
        "各县（区）人民政府，市直各单位：", "", "《阳泉市测试工作方案》已经市人民政府同意，现印发给你们。", "",
        "阳泉市人民政府办公室", "2024年1月5日", "", "（此件公开发布）", "", "阳泉市测试工作方案", "",
        "一、工作目标", "", "到2024年底，完成测试任务100项，覆盖全市", "", "6个县（区）。", "",
        "阳泉市人民政府 关于张三任职的通知", "", "阳政任字〔2024〕2号", "", "各县（区）人民政府，市直各单位：", "",
        "经阳泉市人民政府2024年1月10日常务会议决定，任命：", "", "张 三为阳泉市测试局局长（试用期一年）。", "",
        "阳泉市人民政府", "2024年1月12日", "", "（此件公开发布）", "",
    ])
    path = tmp_path / "2024-01.txt"
    path.write_text(text, encoding="utf-8")
    issue = parse_issue(path)
    assert (issue.issue, issue.total_number, issue.publish_date) == ("2024-01", 25, "2024-02-29")
    assert [d.doc_number for d in issue.documents] == ["阳政办发〔2024〕1号", "阳政任字〔2024〕2号"]
    assert issue.mismatches == []
    first, second = issue.documents
    assert first.attached_title == "阳泉市测试工作方案" and first.date == "2024-01-05"
    assert any("覆盖全市6个县（区）。" in p.text for p in first.paragraphs)
    assert [(r.person, r.action) for r in second.personnel] == [("张三", "任命")]
    chunks = chunk_file(path)
    assert {c.doc_key for c in chunks} == {"2024-01#01", "2024-01#02"}
    assert any("张三" in c.persons for c in chunks)


def test_not_a_gazette_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("随便写的一些文字。\n没有文号。\n", encoding="utf-8")
    with pytest.raises(ParseError, match="issue header|document-number"):
        parse_issue(path)
