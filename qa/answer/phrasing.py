"""English answers in English where a template can say it: the figure, date, name or document number the
question asks for, in a short frame naming its source (The minimum age is 16 years (2022 issue 3,
阳政办发〔2022〕34号).), followed by the Chinese sentence quoted, which the answer cites.

The value is read off the cited sentence, never made up: a template only renders what the sentence says
(its digits, its date, the name in its roster row or appointment). No value found, the sentence is quoted
with its source (The gazette (2022 issue 3, …) says: 「…」).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from qa.models import Chunk
from qa.question import QuestionInfo
from qa.vocabulary import (
    AGE_Q_EN as _AGE_Q,
    DEADLINE_Q_EN as _DEADLINE_Q,
    DOCNUM_Q_EN as _DOCNUM_Q,
    FIGURE_Q_EN as _FIGURE_Q,
    HOW_LONG_Q_EN as _HOW_LONG_Q,
    MONEY_Q as _MONEY_Q,
    PERSON_Q_EN as _PERSON_Q,
    RATE_Q as _SHARE_Q,
    ROLE_NAMES_EN as _ROLE_NAMES,
    ROW_ROLES,
    TAKES_EFFECT_Q_EN as _TAKES_EFFECT,
    alternation,
    asked_role as _asked_role,
)

_NUMBER = re.compile(r"(?<![\d.])(?<!\d[\-—～~至])(\d+(?:\.\d+)?)(?!\s*(?:万|亿)?\s*[\-—～~至]\s*\d)\s*(万|亿)?\s*(?:余|多)?\s*(%|％|元|亩|人|名|个月|个|项|家|天|日|小时|周岁|岁|公里|千米|平方米|米|吨|户|所|座|辆|处"
                     r"|次|条|件|倍|分钟|千瓦时|kW|千瓦|兆瓦|月|年)?((?:/[人年月天日户次])*)")
_DATE_FULL = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_MONTH_DAY = re.compile(r"(?<![\d年])(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_YEAR_MONTH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月(?!\s*\d{1,2}\s*日)")
_MONTH_END = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*底")
_DAYS_WITHIN = re.compile(r"(\d+)\s*个?\s*(工作日|日|天|小时|个月|月|年)\s*内")
_AFTER = re.compile(r"^\s*(起|前|以前|之前)")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_UNITS = {"%": "%", "％": "%", "元": "yuan", "亩": "mu", "人": "people", "名": "people", "个月": "months", "项": "items",
          "天": "days", "日": "days", "小时": "hours", "周岁": "years", "岁": "years", "公里": "km", "千米": "km",
          "平方米": "square metres", "米": "metres", "吨": "tonnes", "户": "households", "辆": "vehicles", "处": "sites",
          "次": "times", "倍": "times", "分钟": "minutes", "千瓦时": "kWh", "kW": "kW", "千瓦": "kW", "兆瓦": "MW", "": ""}
_SCALE = {"万": 10_000, "亿": 100_000_000}
_PER = {"人": "person", "年": "year", "月": "month", "天": "day", "日": "day", "户": "household", "次": "time"}
# A roster row: its role and the name it gives (组长：雷健坤 市长).
_ROW = re.compile(rf"({alternation(ROW_ROLES)})\s*[：:]\s*([^，,；;。（(\s]{{2,12}}?)(?=$|[\s，,；;。（(]|市|县|区)")
# A roster's two-character name spaced to line up (王 玮, 组 长): one word.
_SPACED = re.compile(r"(?<![\u4e00-\u9fff])([\u4e00-\u9fff]) ([\u4e00-\u9fff])(?![\u4e00-\u9fff])")
_APPOINTED = re.compile(r"(?:^|[：:，,])\s*([\u4e00-\u9fff]{1,3}(?:\s?[\u4e00-\u9fff]{1,2})?)\s*为\s*([^，,；;。（(]{4,40}?)(?:（|\(|$|[，,；;。])")
_RELIEVED = re.compile(r"(?:免去)?([\u4e00-\u9fff]{1,3}(?:\s?[\u4e00-\u9fff]{1,2})?)的([^，,；;。]{4,40}?)职务")
_HELD_BY = re.compile(r"(主任|组长|召集人|负责人)由([^，,；;。]{0,20}?)([\u4e00-\u9fff]{2,3})(?:同志)?(?:兼任|担任)")
_WHAT_NOUN = re.compile(r"^(?:(?:according to|under|in|by|after|for) [^,?]+,\s*)?what (?:is|was|are|were) the ([a-z][a-z' -]{1,40}?)"
                        r"(?= (?:of|for|in|under|to|that|which|on|at|by|per|set|required|allowed|given|paid|when|from)\b|\?|$)"
                        r"|^(?:(?:according to|under|in|by|after|for) [^,?]+,\s*)?what ([a-z][a-z' -]{1,30}?)"
                        r"(?= (?:of|for)\b| (?:is|are|was|were|do|does|did|must|should|can|will|has|have)\b)", re.I)


def source_label(chunk: Chunk) -> str:
    """Where a passage comes from, in English: 2022 issue 3, 阳政办发〔2022〕34号."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", chunk.issue or "")
    where = f"{m.group(1)} issue {int(m.group(2))}" if m else (chunk.collection or chunk.source_file)
    return ", ".join(x for x in (where, chunk.doc_number) if x)


def _plain(x: Decimal) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _humane(x: Decimal) -> str:
    """18000000000 -> 18 billion; 10500 -> 10,500."""
    for size, word in ((Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million")):
        if x >= size:
            return f"{_plain(x / size)} {word}"
    return _plain(x)


def english_figure(number: str, scale: str = "", unit: str = "", per: str = "") -> str:
    """16周岁 -> 16 years; 1.05万亩 -> 10,500 mu; 180亿千瓦时 -> 18 billion kWh; 1000元/人/年 -> 1,000 yuan per
    person per year; a unit with no English word keeps the Chinese (5个)."""
    try:
        value = Decimal(number) * _SCALE.get(scale, 1)
    except InvalidOperation:
        return f"{number}{scale}{unit}{per}"
    if unit in ("%", "％"):
        return f"{number}%"
    word = _UNITS.get(unit)
    if word is None:
        return f"{_humane(value)} ({number}{scale}{unit})" if scale else f"{number}{unit}"
    pers = "".join(f" per {_PER[p]}" for p in per.split("/") if p in _PER)
    return f"{_humane(value)} {word}".strip() + pers


def _dates(text: str) -> list[tuple[int, str, str]]:
    """The dates a sentence says (position, English, what follows: 起 / 前 / …), in order."""
    out: list[tuple[int, str, str]] = []
    taken: list[range] = []

    def add(m: re.Match, said: str | None) -> None:
        if said and not any(m.start() in r for r in taken):
            taken.append(range(m.start(), m.end()))
            out.append((m.start(), said, text[m.end():m.end() + 3]))
    for m in _DATE_FULL.finditer(text):
        y, mo, d = (int(g) for g in m.groups())
        add(m, f"{d} {_MONTHS[mo - 1]} {y}" if 1 <= mo <= 12 else None)
    for m in _MONTH_END.finditer(text):
        mo = int(m.group(2))
        add(m, f"the end of {_MONTHS[mo - 1]}{' ' + m.group(1) if m.group(1) else ''}" if 1 <= mo <= 12 else None)
    for m in _YEAR_MONTH.finditer(text):
        y, mo = int(m.group(1)), int(m.group(2))
        add(m, f"{_MONTHS[mo - 1]} {y}" if 1 <= mo <= 12 else None)
    for m in _DATE_MONTH_DAY.finditer(text):
        mo, d = int(m.group(1)), int(m.group(2))
        add(m, f"{d} {_MONTHS[mo - 1]}" if 1 <= mo <= 12 else None)
    return sorted(out)


_WITHIN_UNITS = {"工作日": "working days", "日": "days", "天": "days", "小时": "hours", "个月": "months", "月": "months",
                 "年": "years"}


def english_date(text: str, wants: str = "") -> str | None:
    """The date a sentence says (2022年7月1日起, 8月底前, 3月10日前, 15个工作日内) in English, or None. `wants`
    起 (a start: takes effect) or 前 (a deadline) picks the date said with it, when the sentence says several
    (批复于2020年12月31日…决定于2021年2月1日起实施)."""
    dates = _dates(text)
    if not dates:
        w = _DAYS_WITHIN.search(text)
        return f"within {w.group(1)} {_WITHIN_UNITS[w.group(2)]}" if w else None
    _, said, after = next((d for d in dates if wants and (m := _AFTER.match(d[2])) and wants in m.group(1)), dates[0])
    tail = _AFTER.match(after)
    if tail and tail.group(1) == "起":
        return f"from {said}"
    if tail:
        return f"before {said}"
    return said


def _figures(info: QuestionInfo, sentence: str) -> list[tuple[str, str | None, str | None, str]]:
    """The figures of a sentence (number, unit), the asked kind first; none the question itself names."""
    asked_numbers = set(re.findall(r"\d+(?:\.\d+)?", info.text))
    found = [m.groups() for m in _NUMBER.finditer(sentence)
             if (m.group(2) or m.group(3)) and m.group(1) not in asked_numbers
             and not (m.group(3) in ("年", "月", "日") and not m.group(2))]
    if info.unit:
        kind = [f for f in found if f[2] == info.unit or f"{f[1] or ''}{f[2] or ''}" == info.unit]
    elif _SHARE_Q.search(info.text):
        kind = [f for f in found if f[2] in ("%", "％")]
    elif _AGE_Q.search(info.text):
        kind = [f for f in found if f[2] in ("岁", "周岁")]
    elif _MONEY_Q.search(info.text):
        kind = [f for f in found if f[2] == "元"]
    else:
        kind = []
    rest = kind + [f for f in found if f not in kind]
    per = next((p for w, p in (("annual|yearly|per year|a year|each year", "年"), ("daily|per day|a day|each day", "天"),
                               ("monthly|per month|a month|each month", "月")) if re.search(rf"\b(?:{w})\b", info.text, re.I)), "")
    return sorted(rest, key=lambda f: per not in (f[3] or "").replace("日", "天")) if per else rest


def _subject(question: str, default: str) -> str:
    """What the question asks the value of, as the frame's subject (What is the minimum age … -> The minimum age)."""
    m = _WHAT_NOUN.search(question.strip())
    noun = (m.group(1) or m.group(2)).strip() if m else ""
    if noun and len(noun.split()) <= 5 and not noun.lower().startswith(("document", "notice", "file")):
        return f"The {noun}"
    return default


def _person_frame(info: QuestionInfo, chunk: Chunk, sentence: str, lead: str = "") -> str | None:
    """Who: the name a roster row gives the asked role, an appointment or a removal names."""
    text = sentence.strip().lstrip("-—·• ")
    role = _asked_role(info.text)
    text = _SPACED.sub(r"\1\2", text)
    rows = _ROW.findall(text)
    if rows:
        said, name = next(((r, n) for r, n in rows if r == role), rows[0])
        if role and said != role:
            return None
        name = name.replace(" ", "")
        return f"The {_ROLE_NAMES[said]} ({said}) is {name}"
    held = _HELD_BY.search(text)
    if held and held.group(3) in {p.replace(" ", "") for p in chunk.persons}:  # (not 由牵头部门负责人兼任)
        return f"The {_ROLE_NAMES.get(held.group(1), 'post holder')} ({held.group(1)}) is {held.group(3)}"
    removal = _RELIEVED.search(text)
    if removal and (chunk.chunk_type == "personnel" or "免去" in text or "免去" in lead):
        return f"{removal.group(1).replace(' ', '')} was relieved of the post of {removal.group(2)}"
    appointed = _APPOINTED.search(text)
    if appointed and (chunk.chunk_type == "personnel" or appointed.group(1).replace(" ", "") in
                      {p.replace(" ", "") for p in chunk.persons}):
        return f"{appointed.group(1).replace(' ', '')} was appointed {appointed.group(2)}"
    return None


def value_frame(info: QuestionInfo, chunk: Chunk, sentence: str, lead: str = "") -> str | None:
    """The templated statement of the value the question asks for, read off the sentence (without its
    source), or None when no template says it."""
    q = info.text
    if "date" in info.cues or _HOW_LONG_Q.search(q):
        said = english_date(sentence, "起" if _TAKES_EFFECT.search(q) else "前" if _DEADLINE_Q.search(q) else "")
        if said:
            if _TAKES_EFFECT.search(q):
                return f"It takes effect {said if said.startswith(('from', 'within')) else 'on ' + said}"
            if said.startswith("within"):
                return f"The time limit is {said[len('within '):]}"
            if _DEADLINE_Q.search(q):
                return f"The deadline is {said.removeprefix('before ')}"
            if said.startswith(("from", "before")):
                return f"The date given is {said}"
            return f"The date is {said}"
    if "person" in info.cues or _PERSON_Q.search(q):
        who = _person_frame(info, chunk, sentence, lead)
        if who:
            return who
    if "number" in info.cues or any(p.search(q) for p in (_AGE_Q, _SHARE_Q, _MONEY_Q, _FIGURE_Q)):
        figures = _figures(info, sentence)
        if figures:
            number, scale, unit, per = figures[0]
            value = english_figure(number, scale or "", unit or "", per or "")
            default = "The amount is" if _MONEY_Q.search(q) and unit == "元" else \
                "The age is" if _AGE_Q.search(q) and unit in ("岁", "周岁") else "The figure is"
            subject = _subject(q, "")
            return f"{subject} is {value}" if subject else f"{default} {value}"
    return None


def card_statement(info: QuestionInfo, chunk: Chunk, dated: str = "") -> str:
    """An English answer from a document's card: its number when a number is asked, else what it is."""
    source = source_label(chunk).replace(f", {chunk.doc_number}", "") if chunk.doc_number else source_label(chunk)
    when = f", dated {dated}" if dated else ""
    if _DOCNUM_Q.search(info.text):
        return f"The document number is {chunk.doc_number}: 《{chunk.doc_title}》 ({source}{when})."
    return f"{chunk.doc_number} is 《{chunk.doc_title}》 ({source}{when})."


def english_answer(chunk: Chunk, sentence: str, frame: str | None = None, first: bool = True,
                   same_source: bool = False) -> str:
    """An English answer sentence: the value's frame with its source, then the Chinese sentence quoted; with
    no frame, the quote with its source (a later sentence of the answer: "Also (…): 「…」", its source
    left out when the sentence before it has the same)."""
    quote = f"「{sentence.strip()}」"
    source = source_label(chunk)
    if frame:
        return f"{frame} ({source}). {quote}"
    if first:
        return f"The gazette ({source}) says: {quote}"
    return f"Also: {quote}" if same_source else f"Also ({source}): {quote}"


def record_statement(info: QuestionInfo, chunk: Chunk, sentence: str) -> str:
    """One line of a person's record in English: who was appointed or relieved of what, with its source,
    then the record quoted."""
    return english_answer(chunk, sentence, _person_frame(info, chunk, sentence))
