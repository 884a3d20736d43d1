"""The default answerer, no LLM needed: pick the sentences of the retrieved passages that answer
the question and compose a short answer with a [n] marker after each sentence.

Sentences are scored by lexical overlap with the question (character bigrams of the normalised
text), the passage's retrieval rank, and answer-type cues (多少 -> numbers, 何时 -> dates, 谁 ->
names, 哪个文件 -> documents). Document questions are answered from the document cards.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.question import QuestionInfo, bigrams
from qa.answer.types import AnswerResult, Citation
from qa.corpus.normalize import normalize_for_search
from qa.models import SearchHit

_SENTENCES = re.compile(r"[^。；！？!?;\n]+[。；！？!?;]?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万元|亿元|元|万|亿|个|项|家|人|名|天|日|个月|月|年|小时|周岁|岁|公里|千米|米|平方米|亩|吨|户|所|座|辆|处|次|条|件|倍|分钟|kW|千瓦|兆瓦)")
_DATE = re.compile(r"\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?(?:底|前|起|以前|之前)?|\d{1,2}\s*月\s*\d{1,2}\s*日|\d+\s*(?:个)?(?:工作日|日内|天内|小时内|月内|年内)")
_NAME_ROLE = re.compile(r"(组长|副组长|指挥长|主任|局长|市长|为|任|免去)")

NOT_FOUND_ZH = "公报中未找到能回答该问题的内容。"
NOT_FOUND_EN = "The gazette does not contain an answer to this question."


@dataclass(frozen=True)
class ExtractiveParams:
    max_passages: int = 5  # sentences are taken from the top passages only
    max_sentences: int = 2
    second_ratio: float = 0.8  # a second sentence joins when it scores this close to the best
    min_overlap: float = 0.34  # refusal threshold on the best sentence score (calibrated on the eval set)
    rank_decay: float = 0.08


@dataclass
class _Candidate:
    hit_index: int
    sentence: str
    score: float


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.findall(text) if len(s.strip()) >= 4]


def _cue_bonus(info: QuestionInfo, sentence: str, hit: SearchHit) -> float:
    bonus = 0.0
    if "number" in info.cues and _NUMBER.search(sentence):
        bonus += 0.15
    if "date" in info.cues and _DATE.search(sentence):
        bonus += 0.15
    if "person" in info.cues and (hit.chunk.persons and any(p in normalize_for_search(sentence) for p in hit.chunk.persons)
                                  or _NAME_ROLE.search(sentence) and hit.chunk.chunk_type in ("personnel", "table")):
        bonus += 0.15
    return bonus


def _overlap(q: set[str], sentence: str, context: str) -> float:
    if not q:
        return 0.0
    s = bigrams(normalize_for_search(sentence))
    c = bigrams(normalize_for_search(context))
    # The sentence's own words count fully; its section heading and title count half.
    return (len(q & s) + 0.5 * len((q - s) & c)) / len(q)


def score_sentences(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams) -> list[_Candidate]:
    q = bigrams(info.content)
    out: list[_Candidate] = []
    for i, hit in enumerate(hits[: params.max_passages]):
        c = hit.chunk
        context = f"{c.doc_title} {' '.join(c.section_path)}"
        body = hit.chunk.text
        if c.chunk_type == "table":
            body = hit.chunk.embed_text.split("\n", 2)[-1]  # readable roster rows
        for sentence in split_sentences(body):
            score = _overlap(q, sentence, context) + _cue_bonus(info, sentence, hit) - params.rank_decay * i
            out.append(_Candidate(i, sentence, score))
    out.sort(key=lambda c: -c.score)
    return out


def _card_answer(info: QuestionInfo, hit: SearchHit) -> str:
    c = hit.chunk
    issue = f"{c.issue[:4]}年第{int(c.issue[5:])}期"
    if info.lang == "en":
        return f"{c.doc_number} is 《{c.doc_title}》, published in the gazette issue {c.issue}"
    return f"{c.doc_number}是《{c.doc_title}》，刊于{issue}公报"


def _english(info: QuestionInfo, sentence: str) -> str:
    """English answers: a templated value where one can be read off, plus the Chinese source quoted."""
    value = ""
    if "date" in info.cues:
        m = _DATE.search(sentence)
        value = m.group(0) if m else ""
    if not value and "number" in info.cues:
        m = _NUMBER.search(sentence)
        value = m.group(0) if m else ""
    quote = f"「{sentence}」"
    return f"{value} — the gazette says: {quote}" if value else f"The gazette says: {quote}"


def compose(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams, doc_route: bool) -> AnswerResult:
    """Pick and order the answering sentences; cite only the passages they come from."""
    if not hits:
        return refuse(info, hits)
    picks: list[tuple[int, str]] = []
    wants_document = doc_route or ("document" in info.cues and not {"number", "date"} & info.cues)
    if wants_document:
        card = next((i for i, h in enumerate(hits[:3]) if h.chunk.chunk_type == "card"), None)
        if card is not None:
            picks.append((card, _card_answer(info, hits[card])))
    candidates = score_sentences(info, hits, params)
    if not picks:
        if not candidates or candidates[0].score < params.min_overlap:
            return refuse(info, hits)
        best = candidates[0]
        picks.append((best.hit_index, best.sentence))
        for cand in candidates[1:]:
            if len(picks) >= params.max_sentences or cand.score < params.second_ratio * best.score:
                break
            if cand.sentence != best.sentence:
                picks.append((cand.hit_index, cand.sentence))
    elif candidates and candidates[0].score >= params.min_overlap and not doc_route:
        # "which document covers X": the card, then the sentence that shows it does
        picks.append((candidates[0].hit_index, candidates[0].sentence))
    return _assemble(info, hits, picks)


def _assemble(info: QuestionInfo, hits: list[SearchHit], picks: list[tuple[int, str]]) -> AnswerResult:
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for hit_index, sentence in picks:
        if hit_index not in numbers:
            numbers[hit_index] = len(numbers) + 1
            citations.append(Citation(numbers[hit_index], hits[hit_index], sentence))
        text = sentence.rstrip("；;")
        if info.lang == "en" and not text.startswith(hits[hit_index].chunk.doc_number):
            text = _english(info, sentence)
        parts.append(f"{text}[{numbers[hit_index]}]")
    related = [h for i, h in enumerate(hits) if i not in numbers]
    return AnswerResult(info.text, "".join(_join(parts)), True, citations, related)


def _join(parts: list[str]) -> list[str]:
    out = []
    for n, p in enumerate(parts):
        sep = "" if n == len(parts) - 1 or p[-1] == "]" and re.search(r"[。！？.]\[\d+\]$", p) else ""
        out.append(p + sep + (" " if n < len(parts) - 1 else ""))
    return out


def refuse(info: QuestionInfo, hits: list[SearchHit], reason: str = "") -> AnswerResult:
    text = NOT_FOUND_EN if info.lang == "en" else NOT_FOUND_ZH
    if reason:
        text = f"{text}{reason}"
    return AnswerResult(info.text, text, False, [], list(hits))
