"""Which of the sentences that could answer reads best: the selection side of the extractive answerer
(the answer-or-refuse gate reads its own evidence score, see extractive.score_sentences).

Wording is weighted by how rare a question word is among the retrieved sentences: every sentence of a
document on 市容环卫责任区 says 市容环卫, only the answering one says 物业管理. English questions are
matched through the Chinese terms their words translate to (QuestionInfo.terms). A list item or roster
row reads with the sentence introducing it; a sentence that only announces a list, a heading, or the
document's title line says nothing by itself.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

from qa.answer.grounding import asked
from qa.answer.sentences import Sentence
from qa.corpus.tables import extreme_row
from qa.corpus.normalize import normalize_for_search
from qa.models import Chunk
from qa.question import PLACE, QuestionInfo, bigrams
from qa.vocabulary import (
    BLOCK_ROLE as _BLOCK_ROLE,
    MONEY_Q as _MONEY_Q,
    NAMES_PERSON as _NAMES_PERSON,
    RATE_Q as _RATE_Q,
    ROLE_Q as _ROLE_Q,
)

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# A number with what it counts (7月, 20日, 16周岁): matched as one term, so 7月 does not match 97.7%.
_DATED = re.compile(r"\d+(?:\.\d+)?(?:月|日|号|年|岁|周岁|%|℃)")
_HEADING = re.compile(r"^(?:第[一二三四五六七八九十百零\d]+[章节]|[一二三四五六七八九十]+[、.．]|\d{1,2}[.、．](?!\d)|[（(][一二三四五六七八九十]+[）)])")
# A question about who held a post before, or who replaced whom: the removal records answer it.
_REMOVAL_Q = re.compile(r"原来|原任|原[^\s，,。？?]{0,6}是谁|之前|此前|前任|免去|免职|卸任|relieved|predecessor|previous|before that", re.I)
# A question asking which district or county: its answer names one.
_WHICH_PLACE_Q = re.compile(r"哪个(?:县|区)|哪些(?:县|区)|哪[几两]个(?:县|区)|which (?:count(?:y|ies)|district)", re.I)
# A question about who took a post (who became / was appointed): the appointment records answer it.
_APPOINT_Q = re.compile(r"任命|新任|出任|接任|\b(?:became|become|appointed|named)\b", re.I)
_LIST_Q = re.compile(r"哪些|哪几|有哪|什么情况|包括什么|包含什么|which (?:types|kinds|categories)|what (?:types|kinds|categories)|what are the", re.I)
# An amount in 元 (answers _MONEY_Q) and a percentage (answers _RATE_Q).
_MONEY = re.compile(r"\d\s*(?:万|亿)?\s*元")
_RATE = re.compile(r"\d\s*[%％]|百分之")
_REMOVAL = re.compile(r"免去|的.{2,40}职务")
# Which row of a data table is highest or lowest (三年合计最多的是哪个县区): the row holding the extreme value.
_MOST_Q = re.compile(r"最多|最高|最大|\b(?:most|highest|largest)\b", re.I)
_LEAST_Q = re.compile(r"最少|最低|最小|\b(?:fewest|least|lowest|smallest)\b", re.I)
# Where something is set up or located (办公室设在哪 / 在哪里): a sentence saying 设在/设于/位于 X answers.
_WHERE_Q = re.compile(r"在哪|设于何|位于何|在何处|\bwhere\b", re.I)
_LOCATED = re.compile(r"(?:设|位|驻)(?:在|于)[^，,。；;]")
# Written style says 于 where a question says 在 (办公室设于市交通运输局 / 设在哪): a verb's 在 also
# matches as 于. Not where 在 is no preposition (现在, 存在, 正在, 所在, 实在, 自在).
_AT = re.compile(r"^[\u4e00-\u9fff]在$")
_NOT_AT = set("现存正所实自好内外")
_UNIT_Q = re.compile(r"市([\u4e00-\u9fff]{2,8}?(?:局|委员会|委|院|中心))")
# A span of time asked for (从哪天干到哪天 / 起止时间 / from when to when): a range of dates answers it.
_RANGE_Q = re.compile(r"从(?:哪|什么|何)[^，。？?]{0,8}(?:到|至)|起止|起讫|时间段|from when|start and end|begin and end", re.I)
_DATE_RANGE = re.compile(r"(?:\d{1,2}月(?:\d{1,2}日)?|\d{4}年)(?:至|到|—|–|~|～|-)(?:\d{4}年)?\d{1,2}月")
# A table the question names (按…计划表 / 统计表里): its rows answer before prose saying the like.
_TABLE_Q = re.compile(r"(?:计划|统计|一览|明细|安排|分工|汇总|进度|任务|责任|情况)表|表格|附表|\btable\b", re.I)


@lru_cache(maxsize=16384)
def flat(text: str) -> str:
    """Normalised, without spaces (memoised: the same passages' sentences come back question after question)."""
    return normalize_for_search(text).replace(" ", "")


def question_terms(info: QuestionInfo) -> list[tuple[tuple[str, ...], float]]:
    """What a sentence is matched on, each entry a set of alternatives and its share: the Chinese
    question's character bigrams and numbers (a part's topic words at half share); an English
    question's translated term groups plus any Chinese it quotes (智慧助老)."""
    if info.lang == "en":
        terms = [tuple(t.replace(" ", "") for t in group if t) for group in info.terms]
        for run in _CJK_RUN.findall(info.text):
            terms.extend((b,) for b in bigrams(run))
        # (a year names the document - the 2023 growth package - and the year checks hold it: not a word to match)
        terms.extend((n,) for n in re.findall(r"\d+(?:\.\d+)?", info.text) if not (len(n) == 4 and int(n) in info.years))
        return [(t, 1.0) for t in terms if t]
    own = bigrams(info.content) | set(_DATED.findall(flat(info.text)))
    topic = (bigrams(info.topic) | set(_DATED.findall(flat(info.topic)))) - own if info.topic else set()
    return [(_written_variants(b), 1.0) for b in sorted(own)] + [(_written_variants(b), 0.5) for b in sorted(topic)]


def _written_variants(term: str) -> tuple[str, ...]:
    return (term, term[0] + "于") if _AT.match(term) and term[0] not in _NOT_AT else (term,)


def holds(text: str, term: str) -> bool:
    """`term` occurs in `text`; a number only as a whole number (7 is not in 97.7%)."""
    if term[:1].isdigit():
        return re.search(rf"(?<![\d.]){re.escape(term)}(?![\d.]\d)", text) is not None
    return term in text


def term_weights(terms: list[tuple[tuple[str, ...], float]], sentences: list[str]) -> list[float]:
    """Inverse frequency over the retrieved sentences (each read with its context) times the term's
    share; 0 for a term none of them holds."""
    n = len(sentences)
    out = []
    for alts, share in terms:
        df = sum(1 for s in sentences if any(holds(s, a) for a in alts))
        out.append(share * math.log(1 + n / df) if df else 0.0)
    return out


def weighted_overlap(terms: list[tuple[tuple[str, ...], float]], weights: list[float], sentence: str, context: str) -> float:
    """Share of the question's (weighted) terms the sentence holds; its context (the sentence that
    introduces it, the section heading, the title) counts half."""
    total = got = 0.0
    for (alts, _), w in zip(terms, weights):
        if not w:
            continue
        total += w
        if any(holds(sentence, a) for a in alts):
            got += w
        elif any(holds(context, a) for a in alts):
            got += 0.5 * w
    return got / total if total else 0.0


def role_holders(text: str) -> set[str]:
    """Who a sentence names in a role (组长：雷健坤 / 由梁庆兼任 / 李武为…), as written: a person in a
    passage whose persons were not extracted (办公室主任：王志伟（兼）)."""
    return {m.group(0) for m in _NAMES_PERSON.finditer(text)}


def asks_list(info: QuestionInfo) -> bool:
    """哪些/哪几/which types: the answer is a list."""
    return bool(_LIST_Q.search(info.text))


def plain_overlap(terms: list[tuple[tuple[str, ...], float]], sentence: str, context: str) -> float:
    """Unweighted share of the question's terms in the sentence (its context counting half)."""
    if not terms:
        return 0.0
    got = sum(1.0 if any(holds(sentence, a) for a in alts) else 0.5 if any(holds(context, a) for a in alts) else 0.0
              for alts, _ in terms)
    return got / len(terms)


def asked_figures(info: QuestionInfo, values: set[str]) -> set[str]:
    """Of a sentence's figures, those of the kind asked: percentages for a share, amounts in 元 for money."""
    if _RATE_Q.search(info.text):
        return {v for v in values if _RATE.search(v)}
    if _MONEY_Q.search(info.text):
        return {v for v in values if _MONEY.search(v)}
    return values


def english_value(info: QuestionInfo, values: list[str]) -> str:
    """The figure an English number question asks for among a sentence's figures: a percentage for a
    share, an amount in 元 for money, else the first that is not just a year (2020年度…提升至20%)."""
    kind = asked_figures(info, set(values))
    values = [v for v in values if v in kind] or values
    values = [v for v in values if not re.fullmatch(r"\d{4}\s*年", v)] or values
    return values[0] if values else ""


def shape_bonus(info: QuestionInfo, s: Sentence, chunk: Chunk) -> float:
    """How a sentence's shape fits being an answer: the hand-set rules' bonus (the trained decision reads
    the same signals apart, `shape_features`)."""
    bonus = 0.0
    text = flat(s.text)
    if s.intro:
        # Announces a list: the answer to "which ones" (composition appends the items), else no answer.
        bonus += 0.1 if asks_list(info) else -0.15
    if s.caption:
        bonus -= 0.15
    title = flat(chunk.doc_title)
    if title and (text in title or title in text) or any(text == flat(h) for h in chunk.section_path) \
            or _HEADING.match(text) and len(text) <= 16:
        bonus -= 0.15  # a heading or the title line
    if "person" in info.cues:
        # (an unlabelled row of a roster block, - 王立武 …, under 副组长: names a holder of that role too)
        named = _NAMES_PERSON.search(text) or any(p.replace(" ", "") in text for p in chunk.persons) \
            or s.item and _BLOCK_ROLE.search(flat(s.lead))
        if named:
            bonus += 0.1  # who: a row or clause that names someone in a role
        elif _ROLE_Q.search(info.text):
            bonus -= 0.1  # who holds a post: a sentence naming nobody (市长任组长) does not say
    if _MONEY_Q.search(info.text) and _MONEY.search(text):
        bonus += 0.15
    if "number" in info.cues and _RATE_Q.search(info.text) and _RATE.search(text):
        bonus += 0.15
    if not asked(info).places and not _WHICH_PLACE_Q.search(info.text) \
            and PLACE.search(flat(" ".join(chunk.section_path))):
        bonus -= 0.1  # a question naming no district asks the city-wide figure, not a district section's
    if _RANGE_Q.search(info.text) and _DATE_RANGE.search(text):
        bonus += 0.15
    if _TABLE_Q.search(info.text) and chunk.chunk_type == "table":
        bonus += 0.15
    if chunk.chunk_type == "personnel" and s.item:
        # 市教育局副局长 asked: an appointment to another unit's post (审计局副局长) is not it
        units = _UNIT_Q.findall(flat(info.text))
        if units and not any(u in text for u in units):
            bonus -= 0.1
    if _REMOVAL_Q.search(info.text) and chunk.chunk_type == "personnel":
        bonus += 0.15 if _REMOVAL.search(text) or "免去" in s.lead else -0.1 if s.item else 0.0
    elif _APPOINT_Q.search(info.text) and chunk.chunk_type == "personnel" and s.item:
        bonus += -0.15 if _REMOVAL.search(text) or "免去" in s.lead else 0.0
    if _WHERE_Q.search(info.text) and _LOCATED.search(text):
        bonus += 0.15
    asked_text = f"{info.text} {info.topic}"
    if chunk.chunk_type == "table" and (_MOST_Q.search(asked_text) or _LEAST_Q.search(asked_text)):
        row = extreme_row(chunk.text, flat(asked_text), highest=bool(_MOST_Q.search(asked_text)))
        if row and (f"：{row}，" in s.text or s.text.startswith(f"{row}，")):
            bonus += 0.2  # the row holding the highest (lowest) value the question asks for
    return bonus


def shape_features(info: QuestionInfo, s: Sentence, chunk: Chunk) -> dict[str, float]:
    """How a sentence's shape fits being an answer, one signal each (+1 fits, -1 does not, 0 says nothing):
    inputs of the trained decision (qa/answer/decision.py), which weighs them."""
    f: dict[str, float] = {}
    text = flat(s.text)
    # Announces a list: the answer to "which ones" (composition appends the items), else no answer.
    f["shape_intro"] = (1.0 if asks_list(info) else -1.0) if s.intro else 0.0
    f["shape_caption"] = -1.0 if s.caption else 0.0
    title = flat(chunk.doc_title)
    heading = title and (text in title or title in text) or any(text == flat(h) for h in chunk.section_path) \
        or _HEADING.match(text) and len(text) <= 16
    f["shape_heading"] = -1.0 if heading else 0.0  # a heading or the title line
    f["shape_named"] = 0.0
    if "person" in info.cues:
        # (an unlabelled row of a roster block, - 王立武 …, under 副组长: names a holder of that role too)
        named = _NAMES_PERSON.search(text) or any(p.replace(" ", "") in text for p in chunk.persons) \
            or s.item and _BLOCK_ROLE.search(flat(s.lead))
        # who: a row or clause naming someone in a role; who holds a post: a sentence naming nobody does not say
        f["shape_named"] = 1.0 if named else -1.0 if _ROLE_Q.search(info.text) else 0.0
    f["shape_money"] = 1.0 if _MONEY_Q.search(info.text) and _MONEY.search(text) else 0.0
    f["shape_rate"] = 1.0 if "number" in info.cues and _RATE_Q.search(info.text) and _RATE.search(text) else 0.0
    # a question naming no district asks the city-wide figure, not a district section's
    f["shape_district_section"] = -1.0 if not asked(info).places and not _WHICH_PLACE_Q.search(info.text) \
        and PLACE.search(flat(" ".join(chunk.section_path))) else 0.0
    f["shape_range"] = 1.0 if _RANGE_Q.search(info.text) and _DATE_RANGE.search(text) else 0.0
    f["shape_table"] = 1.0 if _TABLE_Q.search(info.text) and chunk.chunk_type == "table" else 0.0
    f["shape_other_unit"] = 0.0
    if chunk.chunk_type == "personnel" and s.item:
        # 市教育局副局长 asked: an appointment to another unit's post (审计局副局长) is not it
        units = _UNIT_Q.findall(flat(info.text))
        f["shape_other_unit"] = -1.0 if units and not any(u in text for u in units) else 0.0
    removal = _REMOVAL.search(text) or "免去" in s.lead
    f["shape_removal"] = 0.0
    if _REMOVAL_Q.search(info.text) and chunk.chunk_type == "personnel":
        f["shape_removal"] = 1.0 if removal else -1.0 if s.item else 0.0
    elif _APPOINT_Q.search(info.text) and chunk.chunk_type == "personnel" and s.item:
        f["shape_removal"] = -1.0 if removal else 0.0
    f["shape_located"] = 1.0 if _WHERE_Q.search(info.text) and _LOCATED.search(text) else 0.0
    asked_text = f"{info.text} {info.topic}"
    f["shape_extreme_row"] = 0.0
    if chunk.chunk_type == "table" and (_MOST_Q.search(asked_text) or _LEAST_Q.search(asked_text)):
        row = extreme_row(chunk.text, flat(asked_text), highest=bool(_MOST_Q.search(asked_text)))
        if row and (f"：{row}，" in s.text or s.text.startswith(f"{row}，")):
            f["shape_extreme_row"] = 1.0  # the row holding the highest (lowest) value the question asks for
    return f
