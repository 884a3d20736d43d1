"""The default answerer, no LLM needed: pick the sentences of the retrieved passages that answer
the question and compose a short answer with a [n] marker after each sentence.

Sentences are scored by lexical overlap with the question (character bigrams of the normalised
text), the passage's retrieval rank, and answer-type cues (多少 -> numbers, 何时 -> dates, 谁 ->
names, 哪个文件 -> documents). Document questions are answered from the document cards.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.question import QuestionInfo, analyse, bigrams, clauses
from qa.answer.grounding import ungrounded
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
    max_passages: int = 3  # sentences are taken from the top passages only
    max_sentences: int = 2
    second_ratio: float = 0.9  # a second sentence joins when it scores this close to the best
    min_score: float = 0.35  # refusal threshold on the best sentence score (benchmarks/results/refusal_calibration.md)
    min_score_en: float = 0.05  # cross-lingual similarities run lower; the grounding checks do the refusing (benchmarks/results/refusal_calibration.md)
    min_lexical: float = 0.2  # a Chinese answer sentence shares at least this much of the question's wording
    rank_decay: float = 0.05
    semantic_weight: float = 0.6  # sentence score = w * semantic + (1 - w) * lexical + cues
    semantic_floor: float = 0.75  # e5 cosines live in ~[0.7, 0.95]: rescale [floor, floor + span] to [0, 1]
    semantic_span: float = 0.17
    semantic_candidates: int = 5  # sentences embedded per question (after a lexical pre-selection)
    semantic_candidates_en: int = 8


SentenceSimilarity = Callable[[str, list[str]], list[float]]  # question, sentences -> cosine per sentence


@dataclass
class _Candidate:
    hit_index: int
    sentence: str
    score: float
    lexical: float = 0.0


# Roster rows that lost their line breaks in the source (组 长：雷健坤 市长副组长：李文兵 …) split at each role label.
_ROSTER_ROW = re.compile(r"(?<!办公室)(?<![副务：:])(?=(?:常务副组长|副组长|组\s*长|副指挥长|指挥长|成\s*员|副主任|主\s*任)\s*[：:])")


def split_sentences(text: str) -> list[str]:
    out = []
    for s in _SENTENCES.findall(text):
        out.extend(part.strip() for part in _ROSTER_ROW.split(s))
    return [s for s in out if len(s) >= 4]


_ROLES = ("常务副组长", "副组长", "组长", "副指挥长", "指挥长", "副主任", "主任", "副局长", "局长", "成员")


def _role_bonus(question: str, sentence: str) -> float:
    """组长 asked -> a row naming the 组长, not a 副组长 row."""
    asked = next((r for r in _ROLES if r in question), None)
    if not asked:
        return 0.0
    flat = normalize_for_search(sentence).replace(" ", "")
    said = [r for r in _ROLES if re.search(rf"(?<![副务]){r}[：:]|为.*{r}", flat) or f"{r}：" in flat]
    if not said:
        return 0.0
    return 0.2 if said[0] == asked or asked in flat and not flat.count("副" + asked) == flat.count(asked) else -0.2


def _cue_bonus(info: QuestionInfo, sentence: str, hit: SearchHit) -> float:
    bonus = _role_bonus(info.normalized, sentence)
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


def score_sentences(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
                    similarity: SentenceSimilarity | None = None) -> list[_Candidate]:
    q = bigrams(info.content)
    rows: list[tuple[int, str, float, float]] = []  # hit index, sentence, lexical overlap, cues - rank decay
    for i, hit in enumerate(hits[: params.max_passages]):
        c = hit.chunk
        context = f"{c.doc_title} {' '.join(c.section_path)}"
        body = hit.chunk.text
        if c.chunk_type == "table":
            body = hit.chunk.embed_text.split("\n", 2)[-1]  # readable roster rows
        for sentence in split_sentences(body):
            rows.append((i, sentence, _overlap(q, sentence, context), _cue_bonus(info, sentence, hit) - params.rank_decay * i))
    if not rows:
        return []
    # Embedding sentences is the costly step: only the best few by wording and cues are embedded.
    if info.lang == "en":
        rows = [r for r in rows if r[0] < 2][: params.semantic_candidates_en]
    else:
        rows = sorted(rows, key=lambda r: -(r[2] + r[3]))[: params.semantic_candidates]
    # English questions share no characters with the Chinese source: meaning only.
    w = (1.0 if info.lang == "en" else params.semantic_weight) if similarity else 0.0
    semantic = similarity(info.text, [r[1] for r in rows]) if similarity else [0.0] * len(rows)
    out = []
    for (i, sentence, lexical, extra), cos in zip(rows, semantic):
        sem = min(1.0, max(0.0, (cos - params.semantic_floor) / params.semantic_span))
        out.append(_Candidate(i, sentence, w * sem + (1 - w) * lexical + extra, lexical))
    out.sort(key=lambda c: -c.score)
    return out


def _answers_the_type(info: QuestionInfo, sentence: str, hit: SearchHit) -> bool:
    """The sentence carries what the question asks for: the year it names, a number in the unit it
    asks for, a date, the place (qa/answer/grounding.py). A sentence that does not is no answer,
    however similar it reads."""
    return not ungrounded(info, sentence, hit)


def _card_answer(info: QuestionInfo, hit: SearchHit) -> str:
    c = hit.chunk
    issue = f"{c.issue[:4]}年第{int(c.issue[5:])}期"
    if info.lang == "en":
        return f"{c.doc_number} is 《{c.doc_title}》 (gazette issue {c.issue})."
    return f"{c.doc_number}是《{c.doc_title}》，刊于{issue}公报。"


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


def compose(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams, doc_route: bool,
            similarity: SentenceSimilarity | None = None, split_clauses: bool = True) -> AnswerResult:
    """Pick and order the answering sentences; cite only the passages they come from. A question
    asking two things (组长是谁？办公室设在哪？) also gets the best sentence of each clause."""
    if not hits:
        return refuse(info, hits)
    picks: list[tuple[int, str]] = []
    threshold = params.min_score_en if info.lang == "en" else params.min_score
    if doc_route and hits[0].chunk.chunk_type == "card":  # the question names a document number
        return _assemble(info, hits, [(0, _card_answer(info, hits[0]))])
    candidates = _answering(info, hits, params, similarity)
    parts = clauses(info.text) if split_clauses and info.lang == "zh" else [info.text]
    if len(parts) >= 2:
        picks = _clause_picks(info, parts, hits, params, similarity)
    if not picks and (not candidates or candidates[0].score < threshold):
        return refuse(info, hits)
    if candidates and candidates[0].score >= threshold:
        best = candidates[0]
        wants_document = "document" in info.cues and not {"number", "date", "person"} & info.cues
        lead = [(best.hit_index, _card_answer(info, hits[best.hit_index]))] if wants_document else []
        lead.append((best.hit_index, best.sentence))
        for cand in candidates[1:]:
            if len(lead) >= params.max_sentences or cand.score < params.second_ratio * best.score:
                break
            if cand.sentence != best.sentence:
                lead.append((cand.hit_index, cand.sentence))
        picks = list(dict.fromkeys([*lead, *picks]))
    return _assemble(info, hits, picks)


def _answering(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
               similarity: SentenceSimilarity | None) -> list[_Candidate]:
    """Sentences that could answer, best first: scored, and carrying what the question asks for."""
    return [c for c in score_sentences(info, hits, params, similarity)
            if _answers_the_type(info, c.sentence, hits[c.hit_index])
            and (info.lang == "en" or c.lexical >= params.min_lexical)]


def _clause_picks(info: QuestionInfo, parts: list[str], hits: list[SearchHit], params: ExtractiveParams,
                  similarity: SentenceSimilarity | None) -> list[tuple[int, str]]:
    """The best sentence for each asking clause; the years and places the whole question names bind
    every clause. A clause asking for a document is answered by the top passage's card."""
    picks: list[tuple[int, str]] = []
    for part in parts:
        part_info = analyse(part)
        part_info.years = part_info.years or info.years
        part_info.places = part_info.places or info.places
        candidates = _answering(part_info, hits, params, similarity)
        if "document" in part_info.cues and not {"number", "date", "person"} & part_info.cues:
            i = candidates[0].hit_index if candidates else 0
            picks.append((i, _card_answer(info, hits[i])))
        elif candidates and candidates[0].score >= params.min_score:
            picks.append((candidates[0].hit_index, candidates[0].sentence))
    return picks


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
    return AnswerResult(info.text, " ".join(parts), True, citations, related)


def refuse(info: QuestionInfo, hits: list[SearchHit], reason: str = "") -> AnswerResult:
    text = NOT_FOUND_EN if info.lang == "en" else NOT_FOUND_ZH
    if reason:
        text = f"{text}{reason}"
    return AnswerResult(info.text, text, False, [], list(hits))


def person_timeline(info: QuestionInfo, persons: list[str], hits: list[SearchHit]) -> AnswerResult | None:
    """A person's appointments and removals across issues, oldest first, each line cited."""
    rows: list[tuple[str, int, str]] = []  # issue, hit index, sentence
    for i, hit in enumerate(hits):
        c = hit.chunk
        if c.chunk_type == "card" or not set(persons) & set(c.persons):
            continue
        body = c.embed_text.split("\n", 2)[-1] if c.chunk_type == "table" else c.text
        for sentence in split_sentences(body):
            flat = normalize_for_search(sentence).replace(" ", "")
            for p in persons:
                if re.search(rf"{p}(为|任)|[：:；;]?{p}（|^{p}$", flat):
                    rows.append((c.issue, i, sentence))
                elif re.search(rf"{p}的.+职务", flat):  # a removal: the context word 免去 sits on an earlier line
                    rows.append((c.issue, i, "免去" + sentence.lstrip()))
    if not rows:
        return None
    rows.sort(key=lambda r: (r[0], r[1]))
    picks = []
    for issue, i, sentence in rows[:6]:
        c = hits[i].chunk
        label = f"{issue[:4]}年第{int(issue[5:])}期（{c.doc_number}）"
        picks.append((i, f"{label}：{sentence.rstrip('；;。')}。" if info.lang == "zh" else f"{issue} ({c.doc_number}): 「{sentence}」"))
    result = _assemble(QuestionInfo(info.text, info.normalized, "zh", info.cues), hits, picks)
    return result
