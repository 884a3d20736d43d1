"""The UI's text layout without a browser: rosters one person per line (qa/ui/roster.py) in the chat answer
and the sources panel, and the loading status the page polls (ServiceHolder.load_state -> loading_html).
The roster comes from the real corpus through the real parser (阳政办发〔2020〕34号 joins its lines)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa.api.state import ServiceHolder
from qa.config import Settings
from qa.corpus.parser import parse_issue
from qa.ui.render import answer_message, loading_html, sources_html
from qa.ui.roster import roster_lines

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ["组 长：雷健坤 市长", "副组长：李文兵 市政府副市长", "成 员：梁爱卿 市政府副秘书长", "刘 鹏 市委宣传部副部长",
          "安海润 市农业农村局局长", "郭志强 市发改委副主任", "冯锦玉 市财政局四级调研员", "曹慧晟 市交通运输局副局长",
          "高全红 市科技局副局长", "王素琴 市科协副主席", "崔文革 市气象局副局长", "任仔苏 市农业农村局二级调研员",
          "领导小组下设办公室，办公室设在市农业农村局，办公室主任由安海润兼任，副主任由任仔苏兼任。"]


@pytest.fixture(scope="module")
def roster_paragraph() -> str:
    """The 草地贪夜蛾 group's paragraph as the parser gives it: one run-on line."""
    issue = parse_issue(ROOT / "corpus" / "2020-02.txt")
    doc = next(d for d in issue.documents if d.doc_number == "阳政办发〔2020〕34号")
    text = next(p.text for p in doc.paragraphs if p.text.startswith("组 长：雷健坤"))
    assert "\n" not in text and "市长副组长：" in text  # the run-on line issue 16 saw
    return text


def test_a_run_on_roster_gets_one_person_per_line(roster_paragraph):
    assert roster_lines(roster_paragraph).split("\n") == ROSTER
    # Display only: the characters are the corpus text's, the breaks replace nothing but spaces.
    assert roster_lines(roster_paragraph).replace("\n", "").replace(" ", "") == roster_paragraph.replace(" ", "")


def test_roster_rows_in_the_answer_and_the_panel(roster_paragraph):
    answer = "组 长：雷健坤 市长[1] 副组长：李文兵 市政府副市长[1]"
    assert answer_message({"answered": True, "answer": answer}).split("\n") == [
        "组 长：雷健坤 市长[1]", "副组长：李文兵 市政府副市长[1]"]
    citation = {"n": 1, "doc_key": "2020-02#20", "cite_text": f"附件 1:\n{roster_paragraph}", "sentence": "组 长：雷健坤 市长",
                "document_title": "t", "source_file": "2020-02.txt", "line_start": 1820, "line_end": 1841}
    panel = sources_html({"question": "q", "answered": True, "citations": [citation]}, 1)
    assert "<mark>组 长：雷健坤 市长</mark>\n副组长：李文兵 市政府副市长\n成 员：梁爱卿 市政府副秘书长\n刘 鹏 市委宣传部副部长\n" in panel


@pytest.mark.parametrize("text", [
    "组长：市应急管理局局长。",  # a post, no people: nothing to split
    "组长：市工信局局长、市大数据应用局局长。",
    "市政府市长任草地贪夜蛾防控领导小组组长，分管副市长任副组长。",  # roles in prose (no label colon)
    "阳泉市大样本轮换领导小组：组长：石峥（副市长）",  # a table row with its group: one row
    "| 成 员：王秀明 | 市中级人民法院审判委员会专职委员 |",  # a table's cells stay together
    "组 长: 任仔苏\t市农业农村局二级调研员",  # a name starting with a title character (任)
    "共享单车用户须年满 16 周岁，并实名注册和使用。",
    "The head is 雷健坤: 「组 长：雷健坤 市长」[1]",  # an English frame quoting one row
])
def test_text_that_is_no_run_on_roster_is_left_as_it_is(text):
    assert roster_lines(text) == text


def test_titles_inside_a_post_are_not_taken_for_names():
    assert roster_lines("组 长：郭方恺 郊区区委书记孙 儒 郊区政府区长").split("\n") == [
        "组 长：郭方恺 郊区区委书记", "孙 儒 郊区政府区长"]
    assert roster_lines("成 员：宋晓红 市医保中心负责人石 珺 市第一人民医院院长").split("\n") == [
        "成 员：宋晓红 市医保中心负责人", "石 珺 市第一人民医院院长"]


def test_load_state_and_the_status_line(tmp_path):
    release = threading.Event()
    served = object()

    def factory(_settings):
        release.wait(60)
        return served

    holder = ServiceHolder(Settings(index_dir=tmp_path / "none", data_dir=tmp_path), factory=factory)
    holder.start_loading()
    state = holder.load_state()
    assert state.phase == "building"  # no index on disk: the factory builds one first
    status = loading_html(state.phase, state.seconds)
    assert "正在从公报文件建立索引" in status and "role='progressbar'" in status and "自动更新" in status
    release.set()
    assert holder.wait(30) and holder.load_state().phase == "ready"
    assert loading_html("ready", 1.0) == ""


def test_a_failed_load_says_so_without_the_servers_paths(tmp_path):
    def factory(_settings):
        raise RuntimeError(f"cannot read {tmp_path}/faiss.index")

    holder = ServiceHolder(Settings(index_dir=tmp_path / "none", data_dir=tmp_path), factory=factory)
    holder.start_loading()
    assert not holder.wait(30)
    state = holder.load_state()
    assert state.phase == "failed" and str(tmp_path) not in (state.error or "")
    status = loading_html(state.phase, state.seconds, state.error)
    assert "索引加载失败" in status and "faiss.index" in status and str(tmp_path) not in status
