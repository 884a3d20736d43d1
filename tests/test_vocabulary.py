"""The vocabulary (qa/vocabulary.py) is what the modules read, and the modules agree through it: a follow-up's
role or year is the one the question analysis then reads, a roster row's role has the English name the
answer's template gives it, the roster display breaks lines where the sentence splitter sees roster rows.
And no module keeps a copy of one of its patterns or word lists (read off the source, nothing imported)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qa import vocabulary as v
from qa.answer.phrasing import value_frame
from qa.answer.sentences import split_sentences
from qa.conversation import CitedDocument, Turn, resolve
from qa.models import Chunk
from qa.question import analyse
from qa.ui.roster import roster_lines

QA = Path(v.__file__).parent
GROUP_TURN = Turn("2022年地质灾害防治领导小组组长是谁？", "年度地质灾害防治领导小组：组长：韩加政（副市长）",
                  CitedDocument("阳泉市2022年度地质灾害防治方案", "阳政办发〔2022〕42号", 2022), ("韩加政",))


def _literals(node: ast.AST) -> list[str | tuple[str, ...]]:
    """The string literals a module writes as a pattern (re.compile("…"), an r"…" alternation constant) or a
    tuple of words."""
    found: list[str | tuple[str, ...]] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "compile" and n.args:
            parts = n.args[0].values if isinstance(n.args[0], ast.JoinedStr) else [n.args[0]]
            text = "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
            if text:
                found.append(text)
        elif isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str):
            found.append(n.value.value)
        elif isinstance(n, ast.Tuple) and n.elts and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                         for e in n.elts):
            found.append(tuple(e.value for e in n.elts))
    return found


def test_no_module_keeps_a_copy_of_a_vocabulary_list_or_pattern():
    words = {x for x in vars(v).values() if isinstance(x, tuple) and len(x) >= 3 and all(isinstance(w, str) for w in x)}
    patterns = {x.pattern for x in vars(v).values() if isinstance(x, re.Pattern)}
    patterns |= {x for x in vars(v).values() if isinstance(x, str) and len(x) > 20}  # ROSTER_LABEL
    alternations = {v.alternation(w) for w in words}
    assert len(words) >= 8 and len(patterns) >= 25
    copies = []
    for path in sorted(QA.rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        for lit in _literals(ast.parse(path.read_text(encoding="utf-8"))):
            if lit in words or lit in patterns or isinstance(lit, str) and any(a in lit for a in alternations):
                copies.append(f"{path.relative_to(QA)}: {lit if isinstance(lit, str) else lit[:3]}")
    assert copies == []


def test_the_modules_read_the_vocabularys_objects():
    from qa.answer import chain, extractive, features, phrasing, selection
    from qa import conversation
    from qa.ui import roster
    assert chain._PRONOUN is extractive._PRONOUN is conversation._PERSON_PRONOUN is v.PERSON_PRONOUN
    assert extractive._NAME_ROLE is features._NAME_ROLE is v.NAME_ROLE
    assert phrasing._asked_role is extractive.asked_role is features.asked_role is v.asked_role
    assert phrasing._ROLE_NAMES is v.ROLE_NAMES_EN and roster._ROLE is v.ROSTER_LABEL
    assert selection._MONEY_Q is phrasing._MONEY_Q is v.MONEY_Q and selection._RATE_Q is phrasing._SHARE_Q is v.RATE_Q


@pytest.mark.parametrize("role", [r for r in v.FOLLOW_UP_ROLES if r in v.ROLES])
def test_the_role_a_follow_up_swaps_in_is_the_role_then_asked(role):
    """副组长呢？ after a 组长 question: the rewritten question asks for 副组长, as the answer reads it."""
    out = resolve(f"{role}呢？", [GROUP_TURN])
    assert out.kind == "role" and v.asked_role(out.question) == role
    assert "person" in analyse(out.question).cues


def test_a_year_follow_up_puts_its_year_where_the_question_analysis_reads_it():
    out = resolve("2021年的呢？", [GROUP_TURN])
    assert out.kind == "year" and analyse(out.question).years == [2021]
    assert resolve("what about 2020?", [Turn("Who headed the 2022 geological disaster group?")]).question == \
        "Who headed the 2020 geological disaster group?"


def test_each_roster_role_has_the_english_name_the_answer_gives_and_an_english_question_asks_it_by():
    assert set(v.ROW_ROLES) <= set(v.ROLE_NAMES_EN)  # a row of any role gets a name (no KeyError)
    assert {zh for _, zh in v.ROLES_EN} <= set(v.ROLE_NAMES_EN) & set(v.ROLES)
    base = dict(chunk_id="t", embed_text="", search_text="", source_file="2022-03.txt", line_start=1, line_end=1,
                issue="2022-03", year=2022, doc_key="2022-03#01", doc_number="阳政办发〔2022〕42号",
                doc_title="阳泉市2022年度地质灾害防治方案", category="", chunk_type="table")
    for zh, en in v.ROLE_NAMES_EN.items():
        asked = f"Who are the {en}s of the group?" if zh == "成员" else f"Who is the {en} of the group?"
        assert v.asked_role(asked) == zh
        row = f"{zh}：韩加政 副市长"
        assert value_frame(analyse(asked), Chunk(text=row, **base), row) == f"The {en} ({zh}) is 韩加政"


def test_the_roster_display_breaks_lines_where_the_sentence_splitter_sees_roster_rows():
    run_on = "组 长：雷健坤 市长副组长：李文兵 市政府副市长成 员：梁爱卿 市政府秘书长组 员：王 玮 市医保局科员"
    lines = roster_lines(run_on).split("\n")
    assert [ln.split("：")[0].replace(" ", "") for ln in lines] == ["组长", "副组长", "成员", "组员"]
    assert all(v.ROLE_LABEL.match(ln) for ln in lines)
    assert [v.ROLE_LABEL.match(ln) is not None for ln in ("组 员：于 晋 市医保中心科员", "办公室设在市应急局。")] == [True, False]
    # the answerer's sentence splitter cuts the same run-on roster at the same labels, 组 员 included (a 副组长
    # row otherwise runs on through the members)
    assert [s.split("：")[0].replace(" ", "") for s in split_sentences(run_on)] == ["组长", "副组长", "成员", "组员"]


def test_group_nouns_name_the_group_the_parser_gives_a_roster_and_the_answer_reads_back():
    from qa.answer.extractive import _ROW_GROUP
    from qa.corpus.body import _named_group
    for noun in v.GROUP_NOUNS:
        name = _named_group(f"关于成立阳泉市防汛抗旱{noun}的通知")
        assert name == f"阳泉市防汛抗旱{noun}"
        assert _ROW_GROUP.match(f"{name}：组长：韩加政（副市长）").group(1) == name


def test_who_asked_of_a_body_asks_for_an_organisation_not_a_person():
    """主办单位是谁 / 牵头部门为谁 ask for a body: no person cue, so a unit's name answers (a refusal said the
    gazette names no one); 组长是谁 and 公司是谁参加的 still ask for a person."""
    for q in ("阳泉市人民政府公报的主办单位是谁？", "这项工作的牵头部门为谁？", "发文机关是谁？"):
        assert not v.QUESTION_KINDS["person"].search(q) and not v.ASKS_PEOPLE.search(q), q
    for q in ("地质灾害防治领导小组组长是谁？", "太旧高速公路管理公司是谁参加的？", "谁是市应急局局长？"):
        assert v.QUESTION_KINDS["person"].search(q), q
