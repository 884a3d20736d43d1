"""Does a candidate sentence carry what the question asks for? The answerability gate.

A near miss reads like an answer: the right document, the right topic, but another district's figure,
another year's target, a percentage where an amount is asked, the title of a notice whose annex was
not printed. Similarity scores cannot tell those apart; these checks read the question's constraints
(years, gazette issue, places, the kind and unit of the value asked for) and require the answering
sentence, or for years and issues its passage, to carry them. `ungrounded` returns why a sentence is
no answer (a short reason, for tests and debugging) or "" when it may answer.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from qa.corpus.normalize import normalize_for_search
from qa.models import SearchHit
from qa.question import QuestionInfo, unit_forms
from qa.vocabulary import ASKS_NAMES as _ASKS_NAMES, ASKS_PEOPLE as _ASKS_PEOPLE, NAME_EVIDENCE as _NAME_EVIDENCE, PERSON_EVIDENCE as _PERSON_EVIDENCE

_CN_NUM = "一二三四五六七八九十百千万两零〇"
# A number: digits, or Chinese numerals (三个工作日, 一个月, 两座).
_NUM = rf"(?:\d+(?:\.\d+)?|[{_CN_NUM}]+)"
_ANY_NUMBER = re.compile(rf"\d|[{_CN_NUM}]+\s*(?:个|项|家|条|次|名|人|座|辆|处|所|年|月|日|天|周|倍|成)")
_YEAR_VALUE = re.compile(r"(?:19|20)\d{2}\s*年")
# Looser than a date: what can answer 何时/多久 (10月底前, 次月15日前, 一个月, 从原任职时间算起).
_TIME_LIKE = re.compile(rf"[\d{_CN_NUM}]\s*(?:个)?\s*(?:年|月|日|天|周|小时|工作日)|底前|之日|时间|即日|起施行|期间|同时")
_YEARS_IN = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:\s*(?:年)?\s*[-—–~至到]\s*((?:19|20)\d{2}))?(?!\d)")
_ISSUE_ZH = re.compile(r"((?:19|20)\d{2})\s*年\s*第\s*(\d{1,2})\s*期")
_ISSUE_EN = re.compile(r"((?:19|20)\d{2})\s*(?:No\.?|issue|#)\s*(\d{1,2})\b", re.I)

# The kind of value a question asks for, beyond qa.question's 多少+unit: (question pattern, unit forms
# the answer must carry). 败诉率是多少 asks for a percentage, 死亡人数 for a head count.
_RATE = ("%", "个百分点", "百分之", "成")
_ASKED_KIND_ZH: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"(?:率|比例|比重|占比|百分比)(?:的?(?:目标|标准|门槛|要求))?(?:要|应|需)?(?:是|为|到|达到|有|各是)?多少"), _RATE),
    (re.compile(r"人数(?:的?(?:目标|标准|门槛|要求))?(?:是|为|有|达到)?(?:多少|几)"), ("人", "名")),
    # ... and the largest of them (投资额最大的是哪个项目) is told by the amounts
    (re.compile(r"多少钱|(?:金额|资金|经费|投资额|总投资|补贴|补助|奖励|费用)(?:是|为|有|共|达|需要|要)?多少"
                r"|(?:金额|资金|经费|投资额?|补贴|补助|奖励|费用)最(?:大|多|高|少|低)"), ("元",)),
    (re.compile(r"面积(?:是|为|有|共|达|要)?多少"), ("亩", "平方米", "公顷", "平方公里", "平方千米")),
]
_ASKED_KIND_EN: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"\b(?:what|which)\s+(?:percentage|share|proportion|ratio)\b|\brate\b|\bper\s*cent|\bpercentage\b", re.I), _RATE),
    (re.compile(r"\bhow many\s+(?:people|persons|deaths|dead|casualties|staff|residents|participants)\b", re.I), ("人", "名")),
    (re.compile(r"\b(?:US\s+)?dollars\b", re.I), ("美元",)),
    (re.compile(r"\bhow much\s+(?:money|funding|subsidy|investment)|\byuan\b|\bin\s+RMB\b", re.I), ("元",)),
]
# 败诉率是多少 / 比例要达到多少: the rate asked about, which the answer's percentage must belong to.
_RATE_ASKED = re.compile(r"([\u4e00-\u9fff]率|比例|比重|占比)(?:的?(?:目标|标准|门槛|要求))?(?:要|应|需)?(?:是|为|到|达到|有)?多少")
# Between a rate and its value: another quantity (基准费率的基础上降幅不低于15%) means the value is not the rate's.
_OTHER_QUANTITY = re.compile(r"率|幅|比例|比重|占比|增长|下降|提高|降低")
# 哪几个单位 / 哪些 ask which ones, not how many.
_WHICH_ONES = re.compile(r"哪几|哪些|哪一些")
_ASKS_YEAR = re.compile(r"哪一?年|\b(?:what|which)\s+year\b", re.I)
# Asked for people (not for the unit that bears a cost: 由谁承担, 谁出); a list of people (专家组成员有哪些人)
# is answered by names or role rows, not by a sentence saying who is responsible.
# A who-question is answered by a name, a post holder (组长：市卫健委主任) or a lead unit (市纪委监委牵头).

# An actual figure asked (实际保留了多少座): a plan states targets, not outcomes; a report states outcomes.
_ASKS_OUTCOME = re.compile(r"实际|最终|\bactual(?:ly)?\b", re.I)
_PLAN_TITLE = re.compile(r"方案|计划|意见|规划|工作要点|措施|行动|办法|细则|预案")
_REPORT_TITLE = re.compile(r"报告|情况|总结|通报|结果")
_TARGET = re.compile(r"不低于|不少于|不超过|力争|目标|确保|预计|计划")
# Districts in English questions, as official translations and pinyin write them.
_PLACE_EN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bPingding\b", re.I), "平定县"),
    (re.compile(r"\bYu\s*(?:County|xian)\b|\bMeng\s*xian\b", re.I), "盂县"),
    (re.compile(r"\bCheng\s*qu\b|\bCheng District\b", re.I), "城区"),
    (re.compile(r"\bKuang\s*qu\b|\bMining District\b", re.I), "矿区"),
    (re.compile(r"\bJiao\s*qu\b|\bSuburban District\b", re.I), "郊区"),
    (re.compile(r"\bHigh[- ]?tech\b[\w\s-]*?\bZone\b", re.I), "高新区"),
    (re.compile(r"\bDevelopment Zone\b", re.I), "开发区"),
]
# An organisation the question names (阳泉市第三人民医院, 融盛投资控股集团, 驻北京联络处): a sentence about
# the document at large (对6家重大火灾隐患单位进行挂牌督办) does not answer a question about one of them.
_ORG = re.compile(r"((?:第[一二三四五六七八九十]+|[^\W\d的在里和与是被由要了从对为中]{1,6}?)"
                  r"(?:人民医院|医院|学校|中学|小学|集团|公司|联络处|办事处|银行))")
# ... and one named so that it is surely a proper name (阳泉市第一人民医院, 驻上海联络处): a passage that never
# names it is not about it.
_PROPER_ORG = re.compile(r"((?:阳泉市?|驻)[^\W\d的在里和与是被由要了从对为]{1,8}?(?:医院|中学|小学|学校|联络处|办事处)"
                         r"|第[一二三四五六七八九十]+[^\W\d]{0,4}?(?:医院|中学|小学))")
_ANNEX_POINTER = re.compile(r"见附件|见网络版|[（(]\s*略\s*[)）]")


@dataclass(frozen=True)
class Asked:
    """What the question's answer must carry."""

    years: tuple[int, ...]
    issues: tuple[str, ...]  # gazette issues named: "2023-06"
    places: tuple[str, ...]
    units: tuple[tuple[str, ...], ...]  # each tuple: alternative unit forms, one must follow a number
    number: bool  # some number must be given
    year_value: bool  # 哪一年: a year must be given
    time: bool  # 何时/多久: a date or duration must be given
    person: bool
    organisations: tuple[str, ...]
    proper_organisations: tuple[str, ...]
    names: bool  # a list of people: names or role rows
    rate_terms: tuple[str, ...]  # 败诉率 -> ("诉率",): the rate asked about must be the one given
    outcome: bool  # an actual figure, not a target


def asked(info: QuestionInfo) -> Asked:
    """What `info`'s answer must carry (memoised: every candidate sentence of a question asks it)."""
    return _asked(info.text, info.normalized, info.lang, frozenset(info.cues), tuple(info.years),
                  tuple(info.places), info.unit)


@lru_cache(maxsize=512)
def _asked(question: str, text: str, lang: str, cues: frozenset[str], years: tuple[int, ...],
           places: tuple[str, ...], unit: str) -> Asked:
    which_ones = bool(_WHICH_ONES.search(text))
    units: list[tuple[str, ...]] = []
    if unit and not which_ones:
        units.append(unit_forms(unit))
    for pattern, forms in (_ASKED_KIND_EN if lang == "en" else _ASKED_KIND_ZH):
        if pattern.search(text) and not any(set(forms) & set(u) for u in units):
            units.append(forms)
    if lang == "en":
        found = [zh for pattern, zh in _PLACE_EN if pattern.search(question)]
        if "高新区" in found:  # 阳泉高新技术产业开发区: the high-tech zone is also 'a development zone'
            found = [p for p in found if p != "开发区"]
        places = tuple(dict.fromkeys([*places, *found]))
    squashed = text.replace(" ", "")
    return Asked(
        years=years,
        issues=tuple(f"{int(y)}-{int(n):02d}" for y, n in (_ISSUE_ZH.findall(text) + _ISSUE_EN.findall(text))),
        places=places,
        units=tuple(units),
        number="number" in cues and not which_ones,
        year_value=bool(_ASKS_YEAR.search(text)),
        time="date" in cues and "number" not in cues and lang == "zh",
        person=bool(_ASKS_PEOPLE.search(text) or _ASKS_NAMES.search(text)),
        organisations=tuple(_ORG.findall(squashed)) if {"document", "date"}.isdisjoint(cues) else (),
        proper_organisations=tuple(re.sub(r"^(?:阳泉市?)?(?:市?政府)?", "", o) for o in _PROPER_ORG.findall(squashed)),
        names=bool(_ASKS_NAMES.search(text)),
        rate_terms=tuple(dict.fromkeys(m.group(1) for m in _RATE_ASKED.finditer(text) if m.group(1) not in ("效率", "频率"))),
        outcome=bool(_ASKS_OUTCOME.search(text)),
    )


@lru_cache(maxsize=4096)
def _flat(text: str) -> str:
    return normalize_for_search(text).replace(" ", "")


def _years_named(text: str) -> list[tuple[int, int]]:
    """Years and year ranges (2023-2025年) a text names, as (first, last)."""
    out = []
    for m in _YEARS_IN.finditer(text):
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        out.append((a, b) if a <= b else (b, a))
    return out


def _covers(spans: list[tuple[int, int]], year: int) -> bool:
    return any(a <= year <= b for a, b in spans)


def _has_value(flat: str, forms: tuple[str, ...]) -> bool:
    if "天" in forms:
        forms = (*forms, "工作日")
    for u in forms:
        if u in ("百分之", "成"):
            if re.search(rf"百分之{_NUM}" if u == "百分之" else rf"{_NUM}成", flat):
                return True
            continue
        # (20多人, 2万余人: an approximate count still carries the unit)
        for m in re.finditer(rf"({_NUM})\s*(?:多|余)?(?:万|亿|千)?(?:多|余)?\s*(?:个)?{re.escape(u)}", flat):
            if m.group(1) != "一" or u != "个":  # 上一个月, 一个平台: an article, not a count
                return True
    return False


_HEADING_LINE = re.compile(r"^[^。；;]{1,24}$")


def _rate_value(flat: str, term: str) -> bool:
    """The sentence gives the rate asked about: the term, then within a short stretch its percentage,
    with no other quantity in between (基准费率的基础上降幅不低于15% gives a reduction, not the rate)."""
    for m in re.finditer(re.escape(term), flat):
        v = re.search(rf"{_NUM}\s*[%％]|百分之{_NUM}", flat[m.end(): m.end() + 16])
        if v and not _OTHER_QUANTITY.search(flat[m.end(): m.end() + v.start()]):
            return True
    return False


def _sentence_scope(sentence: str, hit: SearchHit) -> str:
    """The sentence with what governs it in its passage: the lead of its line ('四、城区：…开工800套；
    基本建成240套') and the nearest heading line above it ('(三) 城区' over a paragraph)."""
    text = hit.chunk.text
    i = text.find(sentence)
    if i < 0:
        return sentence
    start = text.rfind("\n", 0, i) + 1
    lead = re.split(r"[。；;：:]", text[start:i], maxsplit=1)[0] if i > start else ""
    heading = ""
    for line in reversed(text[:start].splitlines()):
        if _HEADING_LINE.match(line.strip()):
            heading = line
            break
    return f"{heading} {lead} {sentence}"


@dataclass(frozen=True)
class _Candidate:
    """One sentence under test, with the texts the checks compare against."""

    asked: Asked
    info: QuestionInfo
    hit: SearchHit
    flat: str  # the sentence, normalised, no spaces
    scope: str  # the sentence with its line lead and heading
    passage: str  # title, section path and text of its passage


def _check_years(x: _Candidate) -> str:
    """The year asked is the document's (the years its title names, else its issue's year), or the
    section or the sentence's own line names it (ranges such as 2023-2025年 included); from elsewhere a
    sentence naming only other years is another year's figure, and a 2020 report printed in a 2021 issue
    does not give 2021's figure. A gazette issue asked (2023年第6期) must be the passage's."""
    c = x.hit.chunk
    title_years = _years_named(_flat(c.doc_title))
    for year in x.asked.years:
        if _covers(title_years, year) or not title_years and c.year == year:
            continue
        if not _covers(_years_named(_flat(" ".join(c.section_path)) + x.scope), year):
            in_passage = _covers(_years_named(x.passage), year)
            return f"year {year} not where the sentence is" if in_passage else f"year {year} not in passage"
        said = _years_named(x.flat)
        if said and not _covers(said, year):
            return f"sentence names other years than {year}"
    if x.asked.issues and c.issue not in x.asked.issues:
        return f"issue {c.issue} not asked"
    return ""


def _check_places(x: _Candidate) -> str:
    """The sentence, its line, its section or its document names the district asked about."""
    c = x.hit.chunk
    wider = (x.scope + _flat(" ".join(c.section_path)) + _flat(c.doc_title)).replace("孟县", "盂县")
    return next((f"place {p} not in sentence" for p in x.asked.places if p not in wider), "")


def _check_organisations(x: _Candidate) -> str:
    """An organisation asked about that the passage names must be named where the answer is; one that
    is surely a proper name must be named by the passage at all."""
    missing = next((f"{o} not in passage" for o in x.asked.proper_organisations if o not in x.passage), "")
    return missing or next((f"{o} not in sentence" for o in x.asked.organisations if o in x.passage and o not in x.scope), "")


def _check_pointers(x: _Candidate) -> str:
    """Pointers are not answers: a lead-in to a list of names (…决定，任命：), an annex reference
    (见附件1, 略, 见网络版), the document's title."""
    if x.asked.person and x.flat.endswith(("：", ":")):
        return "lead-in"
    if _ANNEX_POINTER.search(x.flat):
        return "annex pointer"
    title = _flat(x.hit.chunk.doc_title)
    if "document" not in x.info.cues and title and (
            len(x.flat) >= 8 and x.flat in title or title in x.flat and len(x.flat) <= len(title) + 12):
        return "document title"
    return ""


def _check_value(x: _Candidate) -> str:
    """The kind of value asked for: a number in the unit asked, a percentage of the rate asked, a year,
    a date or duration."""
    a, flat = x.asked, x.flat
    for forms in a.units:
        if not _has_value(flat, forms):
            return f"no value in {forms[0]}"
    if a.number and not _ANY_NUMBER.search(flat):
        return "no number"
    if a.year_value and not _YEAR_VALUE.search(flat):
        return "no year"
    if a.time and not _TIME_LIKE.search(flat):
        return "no date or duration"
    why = next((f"no value of {t}" for t in a.rate_terms if not _rate_value(flat, t)), "")
    if not why and a.outcome:
        title = x.hit.chunk.doc_title
        if _TARGET.search(flat) or _PLAN_TITLE.search(title) and not _REPORT_TITLE.search(title):
            why = "a target, not the actual figure"
    return why


def _check_people(x: _Candidate) -> str:
    """Who-questions are answered by a name, a post holder or a lead unit; a list of people by names."""
    named = any(p.replace(" ", "") in x.flat for p in x.hit.chunk.persons)
    if x.asked.names and not (named or _NAME_EVIDENCE.search(x.flat)):
        return "no names"
    if x.asked.person and not (named or _PERSON_EVIDENCE.search(x.flat)):
        return "no name or post"
    return ""


CHECKS: dict[str, Callable[[_Candidate], str]] = {
    "years": _check_years, "places": _check_places, "organisations": _check_organisations,
    "pointers": _check_pointers, "value": _check_value, "people": _check_people,
}


def check_failures(info: QuestionInfo, sentence: str, hit: SearchHit) -> dict[str, bool]:
    """Each check's verdict on `sentence`: True where it finds something asked missing (the trained
    decision's inputs: role/year/place/organisation agreement, the asked kind of value)."""
    c = hit.chunk
    x = _Candidate(asked(info), info, hit, _flat(sentence), _flat(_sentence_scope(sentence, hit)),
                   _flat(c.doc_title) + _flat(" ".join(c.section_path)) + _flat(c.text))
    return {name: bool(check(x)) for name, check in CHECKS.items()}


def ungrounded(info: QuestionInfo, sentence: str, hit: SearchHit, skip: frozenset[str] = frozenset()) -> str:
    """Why `sentence` (from `hit`) does not answer the question; "" when nothing is missing.
    `skip` names checks to leave out (the calibration's ablation)."""
    c = hit.chunk
    x = _Candidate(asked(info), info, hit, _flat(sentence), _flat(_sentence_scope(sentence, hit)),
                   _flat(c.doc_title) + _flat(" ".join(c.section_path)) + _flat(c.text))
    for name, check in CHECKS.items():
        if name not in skip:
            why = check(x)
            if why:
                return why
    return ""
