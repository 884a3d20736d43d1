"""The same rule stated by documents of different years (the 2020 and the 2022 地质灾害防治方案, one yearly notice
and the next): an answer to a question naming no year says the latest first, with its year, and the older
statement too, with its year, when it says otherwise.

Two statements are "the same rule" when their documents have the same title but for its years and numbers and
the sentences read alike once figures and names are set aside; they say it "otherwise" when their words differ.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from qa.answer.sentences import passage_sentences
from qa.corpus.normalize import normalize_for_search
from qa.models import Chunk, SearchHit
from qa.question import QuestionInfo
from qa.vocabulary import ROW_ROLES_OFFICE, alternation

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_TITLE_NOISE = re.compile(r"\d+|[（(〔〕）)—\-～~年度第号]")
SAME_TITLE = 0.85  # titles alike but for years and numbers (关于做好2020年/2021年…的通知)
SAME_RULE = 0.75  # sentences alike once their figures are masked (each year's own figure or name differs)
# The role a roster row gives (组长：李文兵 / 成员：郝文彤): rows of other roles state no same rule, however alike.
_ROLE = re.compile(rf"({alternation(ROW_ROLES_OFFICE)})[：:]")


@dataclass(frozen=True)
class Pick:
    hit_index: int
    sentence: str
    label: str = ""  # the year (and document) it is from, when the answer shows it next to another year's


def _flat(text: str) -> str:
    return normalize_for_search(text).replace(" ", "")


def same_kind(a: Chunk, b: Chunk) -> bool:
    """Two documents of different years with the same title but for their years and numbers."""
    if a.doc_key == b.doc_key or not a.year or not b.year or a.year == b.year:
        return False
    ta, tb = _TITLE_NOISE.sub("", _flat(a.doc_title)), _TITLE_NOISE.sub("", _flat(b.doc_title))
    return bool(ta) and difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio() >= SAME_TITLE


def likeness(a: str, b: str) -> float:
    """How alike two sentences read once their figures are masked (0..1)."""
    ma, mb = _DIGITS.sub("#", _flat(a)), _DIGITS.sub("#", _flat(b))
    return difflib.SequenceMatcher(None, ma, mb, autojunk=False).ratio() if ma and mb else 0.0


def year_label(chunk: Chunk, lang: str) -> str:
    """2022年（阳政办发〔2022〕42号）： / 2022 (阳政办发〔2022〕42号): """
    doc = f"（{chunk.doc_number}）" if lang == "zh" and chunk.doc_number else f" ({chunk.doc_number})" if chunk.doc_number else ""
    return f"{chunk.year}年{doc}：" if lang == "zh" else f"{chunk.year}{doc}: "


def _counterpart(hits: list[SearchHit], lead: Pick) -> Pick | None:
    """Another year's statement of the lead's rule among the retrieved passages: the sentence of a document
    of the same kind reading most like the lead's, the latest year first."""
    chunk = hits[lead.hit_index].chunk
    best: tuple[float, int, int, str] | None = None
    for i, hit in enumerate(hits):
        other = hit.chunk
        if other.chunk_type in ("card", "personnel") or not same_kind(chunk, other):
            continue
        roles = _ROLE.findall(_flat(lead.sentence))
        for s in passage_sentences(other):
            if _ROLE.findall(_flat(s.text)) != roles:
                continue
            score = likeness(lead.sentence, s.text)
            if score >= SAME_RULE and (best is None or (other.year, score) > (best[1], best[0])):
                best = (score, other.year, i, s.text)
    return Pick(best[2], best[3]) if best else None


def latest_first(info: QuestionInfo, hits: list[SearchHit], picks: list[Pick]) -> list[Pick]:
    """The answer's picks with its lead's rule said by the latest document first, each labelled with its year:
    the same words -> the latest alone; other words (another figure, another name) -> both, latest first.
    A question naming a year, and answers read off a card or an appointment record, are left as they are."""
    if not picks or info.years:
        return picks
    lead = picks[0]
    chunk = hits[lead.hit_index].chunk
    # (only a sentence of the passage itself: not a card's statement nor a labelled record)
    if chunk.chunk_type in ("card", "personnel") or not chunk.year \
            or not any(lead.sentence.startswith(s.text) for s in passage_sentences(chunk)):
        return picks
    other = _counterpart(hits, lead)
    if other is None:
        return picks
    other_chunk = hits[other.hit_index].chunk
    rest = [p for p in picks[1:] if p.sentence != other.sentence]
    if _flat(other.sentence) == _flat(lead.sentence):
        latest = other if other_chunk.year > chunk.year else lead
        kept = Pick(latest.hit_index, latest.sentence, year_label(hits[latest.hit_index].chunk, info.lang))
        return [kept, *rest]
    both = sorted([lead, other], key=lambda p: -hits[p.hit_index].chunk.year)
    return [Pick(p.hit_index, p.sentence, year_label(hits[p.hit_index].chunk, info.lang)) for p in both] + rest
