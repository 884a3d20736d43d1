"""Follow-up questions: rewrite a question that leans on earlier turns into a standalone one.

Rule-based on what the service already returns: an earlier turn's (standalone) question, its answer, the
document its first citation names (title, number, year) and the people its answer names. A follow-up is
recognised by a deictic or pronoun opening the question (这个文件, 该通知, 他, 她, this document, its document
number, he), by ellipsis ("副组长呢？", "2021年的呢？", "what about 2021?") or by a bare document attribute
("文号呢？"); anything else passes unchanged. No model: the rewritten question is shown to the user, so it must
be predictable. An ellipsis of another kind ("电动自行车呢？") is not guessed at.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from qa.vocabulary import (
    DEICTICS,
    DOC_ATTRIBUTES,
    DOC_NOUNS,
    EN_DOC_REF as _EN_DOC_REF,
    EN_PERSON as _EN_PERSON,
    FOLLOW_UP_GROUP_NOUNS,
    FOLLOW_UP_ROLES,
    PERSON_PRONOUN as _PERSON_PRONOUN,
    YEAR as _YEAR,
    YEAR_WORD as _YEAR_WORD,
    alternation,
)

# How many earlier turns a follow-up may reach back to: staff refer to what was just said.
MAX_TURNS = 3

# ---- the words (这个文件, 该通知, 他, 此人, 副组长, 2021年度) are qa/vocabulary.py's; the frames are this module's ----
_DOC_NOUN = rf"(?:{alternation(DOC_NOUNS)})"
_DEICTIC = rf"(?:{alternation(DEICTICS)})"
_DOC_ATTR = rf"(?:{alternation(DOC_ATTRIBUTES)})"
_ROLE = rf"(?:{alternation(FOLLOW_UP_ROLES)})"
# A group a roster belongs to (…领导小组, …指挥部, …委员会), with the year it is of.
_GROUP = re.compile(rf"((?:(?:19|20)\d{{2}}\s*年度?)?[\u4e00-\u9fff“”\"]{{2,30}}?(?:{alternation(FOLLOW_UP_GROUP_NOUNS)}))")
_LEADING_QI = re.compile(r"^其(?=[\u4e00-\u9fff])")  # 其后来… ; 其他/其中 are no pronouns
_OTHER = re.compile(r"^其[他它中余次实]")
_Q_END = r"[？?。.!！\s]*$"
# "那2021年的呢？", "2021年呢", "副组长呢？", "那么2020年度的组长呢？": what is left after the frame is the slot.
_ELLIPSIS = re.compile(r"^(?:那么?|还有|再问一下|换成|如果是|要是)?\s*(?:在)?(.{1,24}?)(?:的情况|的|的话)?(?:呢|怎么样|又如何|如何)" + _Q_END)
_BARE_ROLE = re.compile(rf"^(?:那么?|还有)?\s*({_ROLE})(?:是谁|是哪些人|都有谁|有谁|有哪些|分别是谁)" + _Q_END)
_BARE_ATTR = re.compile(rf"^(?:那么?|还有|它的|其)?\s*({_DOC_ATTR})(?:是什么|是多少|是哪个|是哪天|是哪一天|是何时|呢)" + _Q_END)
_DOC_REF_ZH = re.compile(rf"{_DEICTIC}\s*{_DOC_NOUN}|它(?=的)|^它")

# English: the references are the vocabulary's (EN_DOC_REF, EN_PERSON).
# "What is the document number?" with no document named: the one just answered.
_EN_BARE_NUMBER = re.compile(r"^(?:and )?what(?:'s| is| was) the (document number|issue date|title|issuer)\s*\??\s*$", re.I)
_EN_ITS = re.compile(r"\bits ((?:document )?number|title|date|issuer|issue date)\b", re.I)
_EN_NUMBER_ASK = re.compile(r"document number|\bnumber\b|\bnumbered\b", re.I)
_EN_YEAR_ELLIPSIS = re.compile(r"^(?:and|what about|how about|and what about|same for)\s+(?:in\s+|for\s+)?((?:19|20)\d{2})\s*\??\s*$", re.I)
_EN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class CitedDocument:
    """The document an answer cited first."""

    title: str = ""
    doc_number: str = ""
    year: int = 0


@dataclass(frozen=True)
class Turn:
    """One earlier exchange. `question` is the standalone form (already rewritten if it was a follow-up)."""

    question: str
    answer: str = ""
    document: CitedDocument | None = None
    persons: tuple[str, ...] = ()  # people named in the question, then the answer, in order of mention


@dataclass(frozen=True)
class Resolution:
    asked: str  # the question as the user typed it
    question: str  # what to answer: the standalone question
    kind: str = ""  # "" (standalone) | document | person | role | year

    @property
    def rewritten(self) -> bool:
        return self.question != self.asked


_CLAUSE_END = re.compile(r"[？?，,；;。！!：:]")
_EN_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+")  # a capitalised word past the first: a name in the question


def _leads(m: re.Match | None, question: str) -> bool:
    """Whether a reference opens the question (its first clause): "…是谁？他原来是什么职务？" and "暖气不热可以退费，
    这个规定是哪个文件？" point back inside the question itself, not to an earlier turn."""
    return bool(m) and not _CLAUSE_END.search(question, 0, m.start())


def _is_english(text: str) -> bool:
    return len(_EN.findall(text)) > 2 * len(_CJK.findall(text))


def _recent(history: Sequence[Turn]) -> list[Turn]:
    return list(reversed(history[-MAX_TURNS:]))


def _document(history: Sequence[Turn]) -> CitedDocument | None:
    return next((t.document for t in _recent(history) if t.document and (t.document.title or t.document.doc_number)), None)


def _doc_name(doc: CitedDocument) -> str:
    return f"《{doc.title}》" if doc.title else doc.doc_number


def _person(history: Sequence[Turn]) -> str | None:
    return next((t.persons[0] for t in _recent(history) if t.persons), None)


def _year_base(history: Sequence[Turn]) -> Turn:
    """The question "2021年的呢？" repeats: the latest naming a year, else the latest not about one named document
    (a year does not fit "《…》的文号是什么？")."""
    recent = _recent(history)
    own = [t for t in recent if "《" not in t.question]
    return next((t for t in own if _YEAR.search(t.question)), None) or (own or recent)[0]


def _replace_years(question: str, year: str) -> str:
    """The question with its year(s) replaced by `year`, or `year` put in front when it names none."""
    if _YEAR.search(question):
        return _YEAR.sub(year, question)
    if _is_english(question):
        return re.sub(r"\s*([?？.]?)\s*$", lambda m: f" in {year}{m.group(1) or '?'}", question, count=1)
    return f"{year}年{question}"


def _with_role(turn: Turn, role: str) -> str | None:
    """The previous question asking for `role` instead of the role it asked about (or of its group)."""
    q = turn.question
    if re.search(_ROLE, q):
        return re.sub(_ROLE, role, q, count=1)
    group = _GROUP.search(q) or _GROUP.search(turn.answer)
    if not group:
        return None
    name = re.sub(r"\s+", "", group.group(1))
    year = turn.document.year if turn.document and turn.document.year and not _YEAR.search(name) else 0
    return f"{year}年{name}的{role}是谁？" if year else f"{name}的{role}是谁？"


def _ellipsis_zh(question: str, history: Sequence[Turn]) -> Resolution | None:
    m = _ELLIPSIS.match(question) or _BARE_ROLE.match(question)
    if not m or not history:
        return None
    slot = re.sub(r"\s+", "", m.group(1))
    year = _YEAR_WORD.fullmatch(slot) or _YEAR.fullmatch(slot)
    if year:
        return Resolution(question, _replace_years(_year_base(history).question, year.group(1)), "year")
    role = re.fullmatch(rf"(?:((?:19|20)\d{{2}})\s*年度?的?)?({_ROLE})", slot)
    if role:
        base = next((t for t in _recent(history) if re.search(_ROLE, t.question) or _GROUP.search(t.question)), None)
        rewritten = _with_role(base, role.group(2)) if base else None
        if rewritten is None:
            return None
        if role.group(1):
            rewritten = _replace_years(rewritten, role.group(1))
        return Resolution(question, rewritten, "role")
    if re.fullmatch(_DOC_ATTR, slot):
        doc = _document(history)
        return Resolution(question, f"{_doc_name(doc)}的{slot}是什么？", "document") if doc else None
    return None


def _rewrite_zh(question: str, history: Sequence[Turn]) -> Resolution:
    found = _ellipsis_zh(question, history)
    if found:
        return found
    attr = _BARE_ATTR.match(question)
    doc = _document(history)
    if attr and doc:
        return Resolution(question, f"{_doc_name(doc)}的{attr.group(1)}是什么？", "document")
    if doc and _leads(_DOC_REF_ZH.search(question), question) and "《" not in question and "〔" not in question:
        return Resolution(question, _DOC_REF_ZH.sub(_doc_name(doc), question, count=1), "document")
    person = _person(history)
    if person and person not in question:
        if _leads(_PERSON_PRONOUN.search(question), question):
            return Resolution(question, _PERSON_PRONOUN.sub(person, question, count=1), "person")
        if _LEADING_QI.search(question) and not _OTHER.search(question):
            return Resolution(question, _LEADING_QI.sub(person, question, count=1), "person")
    return Resolution(question, question)


def _rewrite_en(question: str, history: Sequence[Turn]) -> Resolution:
    m = _EN_YEAR_ELLIPSIS.match(question.strip())
    if m and history:
        return Resolution(question, _replace_years(_year_base(history).question, m.group(1)), "year")
    person = _person(history)
    if person and _leads(_EN_PERSON.search(question), question) and not _EN_NAME.search(question) \
            and not _CJK.search(question):
        def name(p: re.Match) -> str:
            return f"{person}'s" if p.group(0).lower() == "his" else person
        return Resolution(question, _EN_PERSON.sub(name, question, count=1), "person")
    doc = _document(history)
    if doc and (_leads(_EN_DOC_REF.search(question), question) or _EN_BARE_NUMBER.match(question.strip())) \
            and "〔" not in question:
        # Asking for the number: name the document by its title; else by its number (the number route finds it).
        by_number = doc.doc_number and not _EN_NUMBER_ASK.search(question)
        ref = doc.doc_number if by_number else _doc_name(doc)

        bare = _EN_BARE_NUMBER.match(question.strip())
        if bare:
            return Resolution(question, f"What is the {bare.group(1)} of {_doc_name(doc)}?", "document")
        its = _EN_ITS.search(question)
        if its:  # "its document number" -> "the document number of 《…》"
            return Resolution(question, question[:its.start()] + f"the {its.group(1)} of {ref}" + question[its.end():],
                              "document")

        def sub(p: re.Match) -> str:
            return f"{ref}'s" if p.group(0).lower() == "its" else ref
        return Resolution(question, _EN_DOC_REF.sub(sub, question, count=1), "document")
    return Resolution(question, question)


def resolve(question: str, history: Sequence[Turn]) -> Resolution:
    """The standalone form of `question` after `history` (oldest first); unchanged when it stands alone."""
    question = question.strip()
    if not history:
        return Resolution(question, question)
    return (_rewrite_en if _is_english(question) else _rewrite_zh)(question, history)


# A context in which every kind of follow-up resolves: whether a question would be rewritten in it says
# whether it leans on earlier turns at all.
_FULL_CONTEXT = (Turn("2000年某工作领导小组组长是谁？", "组长：某某", CitedDocument("某文件", "某发〔2000〕1号", 2000), ("某某甲",)),)


def needs_context(question: str) -> bool:
    """Whether `question` is a follow-up (it would be rewritten given an earlier document, person, group, year)."""
    return resolve(question, _FULL_CONTEXT).rewritten


# ---- turns from what the service returns or a client sends back ------------------------------------

def _first(d: Mapping, *keys: str) -> str:
    return next((d[k].strip() for k in keys if isinstance(d.get(k), str) and d[k].strip()), "")


def cited_document(citations: Iterable[Mapping] | None) -> CitedDocument | None:
    """The first citation's document, from an answer's citations as /v1/ask returns them (either vocabulary:
    document_title/doc_title, document_number/doc_number, issue or year)."""
    for c in citations or ():
        title, number = _first(c, "document_title", "doc_title", "title"), _first(c, "doc_number", "document_number")
        if not (title or number):
            continue
        year = c.get("year")
        if not (isinstance(year, int) and not isinstance(year, bool) and 1000 <= year <= 9999):
            # an issue (2022-03) or the number's year (阳政办发〔2022〕34号); a client's odd year is ignored
            m = _YEAR.search(_first(c, "issue") or number)
            year = int(m.group(1)) if m else 0
        return CitedDocument(title, number, year)
    return None


def make_turn(question: str, answer: str = "", citations: Iterable[Mapping] | None = None,
              answered: bool = True, names_in: Callable[[str], list[str]] | None = None) -> Turn:
    """A Turn from one exchange; `names_in` finds person names in a text (the index's names, by the service).
    An unanswered turn cites nothing a follow-up could mean."""
    answer = answer if answered else ""
    persons: list[str] = []
    if names_in:
        for text in (question, answer):
            flat = re.sub(r"\s+", "", text)  # rosters space out two-character names (刘 鹏)
            found = sorted(names_in(text), key=lambda p: (flat.find(p) < 0, flat.find(p)))
            persons += [p for p in found if p not in persons]
    return Turn(question, answer, cited_document(citations) if answered else None, tuple(persons))


def resolve_history(turns: Sequence[Turn]) -> list[Turn]:
    """Each turn's question made standalone in the light of the turns before it (a client sends the questions
    as the user typed them)."""
    out: list[Turn] = []
    for t in turns:
        out.append(replace(t, question=resolve(t.question, out).question))
    return out
