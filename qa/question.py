"""What a question asks for: language, answer type cues, years, parts. Cheap and rule-based; read by
retrieval (year diversity, document questions) and by the answerer."""
from __future__ import annotations

import re

from dataclasses import dataclass, field

from qa.corpus.normalize import normalize_for_search
from qa.vocabulary import NAMED_ROLES, QUESTION_KINDS, YEAR as _YEAR, alternation

_EN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# The unit a 多少/几 question asks for (多少平方米, 多少万元, 几座): the answer must carry it.
_UNIT_Q = re.compile(r"(?:多少|几)(平方米|万元|亿元|公里|千米|辆|座|套|处|件|亩|度|元|吨|户|所|家|个百分点|个月|%|人|名|天|个)")
_UNIT_ALIASES = {"度": ("度", "℃"), "%": ("%", "％"), "个百分点": ("个百分点", "%"), "名": ("名", "人"),
                 "人": ("人", "名"), "个月": ("个月", "月"), "天": ("天", "日"), "元": ("元", "万元", "亿元")}
# Places: an answer about one district must not be taken from a passage about others.
PLACE = re.compile(r"(城区|矿区|郊区|平定县|盂县|孟县|高新区|开发区|经济技术开发区|北京|上海|天津|太原|晋中|深圳|广州)")

CUES: dict[str, re.Pattern[str]] = QUESTION_KINDS
_STOP = re.compile(
    r"请问|一下|能不能|会不会|是不是|有没有|可不可以|要不要|的是|是什么|是多少|多少|什么|哪些|哪个|哪里|哪|如何|怎么|怎样|吗|呢|吧|呀|啊|？|\?|，|。|、|：|；|！|《|》|“|”"
    r"|阳泉市|人民政府|市政府|公报|文件里|文件中|规定|要求|根据|关于"
)


@dataclass
class QuestionInfo:
    text: str
    normalized: str
    lang: str  # zh | en
    cues: set[str] = field(default_factory=set)
    years: list[int] = field(default_factory=list)
    content: str = ""  # the normalised question without question words: what overlap is measured on
    multi: bool = False
    unit: str = ""  # 多少亿元 -> 亿元: a number answer must come with this unit
    places: list[str] = field(default_factory=list)  # districts/counties/cities the question names
    # An English question's words as Chinese index terms, one tuple of alternatives per word or phrase
    # (filled by the answer chain from the searcher's cross-lingual expansion; empty otherwise).
    terms: tuple[tuple[str, ...], ...] = ()
    # For one part of a question asking several things: the content of the rest of the question, whose
    # words still say what the part is about (组长是谁？办公室设在哪？ -> 办公室设在哪 is about that group).
    topic: str = ""


def analyse(question: str) -> QuestionInfo:
    norm = normalize_for_search(question)
    lang = "en" if len(_EN.findall(question)) > 2 * len(_CJK.findall(question)) else "zh"
    cues = {name for name, pat in CUES.items() if pat.search(question)}
    years = sorted({int(y) for y in _YEAR.findall(norm)})
    content = _STOP.sub(" ", norm)
    multi = len(years) >= 2 or bool(re.search(r"分别|各自|respectively|both|each of", question, re.I))
    unit_m = _UNIT_Q.search(norm)
    places = sorted({p.replace("孟县", "盂县") for p in PLACE.findall(norm)})
    return QuestionInfo(question, norm, lang, cues, years, content, multi, unit_m.group(1) if unit_m else "", places)


# Years that are no part of their own: a span (2023-2025年, 2021年至2022年) and the base of a change asked as
# one figure (较2017年增加多少, 与2019年相比下降了多少, how much more than 2019). A comparison asked of both
# years (2022年比2020年有什么变化) keeps both.
_YEAR_SPAN = re.compile(r"((?:19|20)\d{2})\s*年?\s*(?:-|—|–|~|～|至|到|to)\s*((?:19|20)\d{2})", re.I)
_CHANGE_ZH = r"(?:增|减|提高|降低|下降|上升|多|少|高|低)"
_YEAR_BASE = re.compile(rf"(?:较|(?<![对相])比)\s*((?:19|20)\d{{2}})[^，,。？?；;]{{0,8}}?{_CHANGE_ZH}"
                        rf"|(?:与|跟|同|和)\s*((?:19|20)\d{{2}})\s*年?\s*度?\s*(?:同期)?相比.*?{_CHANGE_ZH}"
                        r"|(?:compared (?:with|to)|than|over)\s+((?:19|20)\d{2})", re.I)
_CHANGE_EN = re.compile(r"\b(?:increase|rise|rose|grow|grew|fall|fell|drop|decrease|decline|more|less|fewer|higher|lower)", re.I)


def part_years(info: QuestionInfo) -> list[int]:
    """The years a question asks about one by one (2020年和2022年的组长分别是谁): each is answered from its
    own year's passages. A span's years and a comparison base are no parts (2020年货运量较2017年增加多少
    asks one thing, of 2020)."""
    whole = {int(y) for m in _YEAR_SPAN.finditer(info.normalized) for y in m.groups()}
    bases = {int(y) for m in _YEAR_BASE.finditer(info.normalized) for y in m.groups()
             if y and (info.lang == "zh" or _CHANGE_EN.search(info.text))}
    return [y for y in info.years if y not in whole | bases]


_ASKS = re.compile(r"谁|什么|多少|几|哪|何|是否|吗|多久|多大|多长|怎样|如何|有无")


def clauses(question: str) -> list[str]:
    """A Chinese question asking two things (组长是谁？办公室设在哪？ / 从哪天施行、有效期多久) split
    into its asking clauses; one element when it asks one thing."""
    parts = [p.strip(" ，,？?；;") for p in re.split(r"[？?；;]|[，、](?=[^，、]*(?:谁|什么|多少|几|哪|何时|是否|多久))", question)]
    parts = [p for p in parts if p]
    if len(parts) < 2 or not all(_ASKS.search(p) for p in parts):
        return [question]
    return parts


def unit_forms(unit: str) -> tuple[str, ...]:
    return _UNIT_ALIASES.get(unit, (unit,))


def bigrams(text: str) -> set[str]:
    """Character bigrams of CJK runs and lowercased words of Latin/digit runs."""
    out: set[str] = set()
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        if len(run) == 1:
            out.add(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    out.update(w.lower() for w in re.findall(r"[A-Za-z]{2,}|\d+(?:\.\d+)?", text))
    return out


# Coordinated items a question asks about one by one (组长和副组长是谁 / 气象局和应急管理局分别派谁 /
# 6月和7月的合格率分别是多少): each kind is a short vocabulary or a suffix, so that "A和B" is two of a kind.
_CONJ = r"(?:和|与|及|以及|、)"
_ITEM_KINDS: dict[str, str] = {
    "role": alternation(NAMED_ROLES),
    "month": r"\d{1,2}\s*月(?:份)?",
    "level": r"[ⅠⅡⅢⅣⅤ]+\s*级|[一二三四]\s*级|[红橙黄蓝]色",
    "place": PLACE.pattern.strip("()"),
    "unit": r"[\u4e00-\u9fff]{1,6}?(?:局|委|办|厅|部|院|中心|支队|大队|公司)",
    "quantity": r"[\u4e00-\u9fff]{0,4}?\d+(?:\.\d+)?\s*(?:℃|度|%|％|岁|周岁|米|公里|吨|万元|元)(?:以内|以上|以下)?",
}
_SEPARATELY = re.compile(r"分别|各自|各是|各为|各有|respectively", re.I)
_WHO = re.compile(r"谁|哪位|何人")


def conjunct_parts(question: str) -> list[str]:
    """One question per coordinated item: 市政府稳经济工作专班的组长和常务副组长是谁 ->
    [...的组长是谁, ...的常务副组长是谁]. Roles split whenever a person is asked for; other kinds only
    when the question says 分别/各自. One element when nothing is coordinated."""
    separately = bool(_SEPARATELY.search(question))
    for kind, item in _ITEM_KINDS.items():
        if kind == "role" and not (separately or _WHO.search(question)):
            continue
        if kind != "role" and not separately:
            continue
        m = re.search(rf"(?:{item})(?:{_CONJ}(?:{item}))+", question)
        if not m:
            continue
        items = [x for x in re.split(_CONJ, m.group(0)) if x]
        if len(items) < 2 or len(set(items)) < len(items):
            continue
        rest = question[m.end():]
        if separately:
            rest = _SEPARATELY.sub("", rest, count=1)
        return [f"{question[:m.start()]}{x}{rest}" for x in items]
    return [question]


_ASKS_DOCUMENT = re.compile(
    r"文号|发文字号|(?:文件|通知|办法|方案|意见)(?:是|叫)?(?:哪个|哪份|哪一份|哪一个)|哪个文件|什么文件|哪份文件|哪一份文件"
    r"|(?:哪个|哪一个|什么)(?:部门|单位|机关)(?:印发|下发|出台|制定|颁布)|(?:部门|单位|机关)发的|谁(?:印发|下发|发的)|发文(?:机关|单位|部门)"
    r"|(?:which|what) (?:\d{4} )?(?:document|notice|file)s?\b|document number|who issued|issued by (?:which|what|whom)", re.I)
# What a document is (讲的是什么 / 印发的是什么方案 / 是关于谁的什么通知 / 哪天印发的 / what is document X about): asked of
# a document the question names by its number, the document's card answers it; anything else asked of
# that document (免去了谁 / 有效期多久) is answered from its sentences.
_ABOUT_DOCUMENT = re.compile(
    r"讲的?是?什么|讲了什么|关于什么|干什么的|做什么的|(?<!有)什么(?:文件|通知|方案|计划|办法|意见|细则|决定|通告)"
    r"|是(?:哪|什么)(?:份|个|一份|一个)?(?:文件|通知|方案|计划|办法|意见|决定)|标题|题目|名称|全称|叫什么"
    r"|(?:哪天|哪一天|何时|什么时候|什么时间|哪年|几月)(?:印发|发布|下发|出台|签发|发的|成文)|(?:印发|发文|成文|签发)(?:日期|时间)"
    r"|when was .{0,60}(?:issued|published|signed)"
    r"|what is (?:document|the document|it)|\babout\s*\??\s*$|title|which notice|what notice", re.I)


def asks_document(question: str) -> bool:
    """The answer is a document (its number and title): 文号是多少 / 促消费文件是哪个 / which document.
    Wider than the `document` cue retrieval reads (a 文号 asked with 多少 is still a document)."""
    return bool(_ASKS_DOCUMENT.search(question))


def asks_about_document(question: str) -> bool:
    """The question asks what a document is (its title, subject, issuer or number), not something it says."""
    return asks_document(question) or bool(_ABOUT_DOCUMENT.search(question))
