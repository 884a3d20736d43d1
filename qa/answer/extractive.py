"""The default answerer, no LLM needed: pick the sentences of the retrieved passages that answer
the question and compose a short answer with a [n] marker after each sentence.

Which sentence answers, and whether to answer at all, is one of two decisions (ExtractiveParams.decision,
setting QA_ANSWER_DECISION):
- "rules": the hand-set scores — lexical overlap with the question (character bigrams of the normalised
  text), the passage's retrieval rank, answer-type cues (多少 -> numbers, 何时 -> dates, 谁 -> names),
  shape bonuses and refusal thresholds;
- "trained": the trained decision (qa/answer/decision.py) scores each sentence's features
  (qa/answer/features.py) with the probability that it answers; the best answers when it reaches the
  model's threshold.
Both give candidates best first (`score_sentences`) and a threshold (`answer_threshold`); the rest of the
composition is shared. The answer leads with what was asked (a figure, a date, the holder of the asked
role), then the cited sentence. Document questions are answered from the document cards.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from qa.question import QuestionInfo, analyse, asks_about_document, asks_document, bigrams, clauses, conjunct_parts
from qa.answer.form import final_form
from qa.answer.phrasing import record_statement
from qa.answer.grounding import CHECKS, ungrounded
from qa.answer.selection import asked_figures, asks_list, english_value, flat, holds, plain_overlap, question_terms, role_holders, shape_bonus, term_weights, weighted_overlap
from qa.answer.sentences import Sentence, continuation, introduction, passage_body, passage_sentences, split_sentences
from qa.answer.types import AnswerResult, Citation
from qa.corpus.normalize import normalize_for_search
from qa.answer.decision import Decision, shipped_decision
from qa.answer.features import Row, add_context_semantic, add_relative, add_semantic, agreement_with_role, base_features, role_agreement
from qa.answer.synonyms import linked
from qa.models import SearchHit, issue_name, source_name
from qa.vocabulary import (GROUP_NOUNS, NAME_ROLE as _NAME_ROLE, PERSON_PRONOUN as _PRONOUN, ROLES as _ROLES,
                           ROW_ROLE as _ROW_ROLE, alternation, asked_role)

if TYPE_CHECKING:
    from qa.answer.crossenc import AnswerCrossEncoder
    from qa.answer.gate import AnswerGate

_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万元|亿元|元|万|亿|个|项|家|人|名|天|日|个月|月|年|小时|周岁|岁|公里|千米|米|平方米|亩|吨|户|所|座|辆|处|次|条|件|倍|分钟|kW|千瓦|兆瓦)")
_DATE = re.compile(r"\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?(?:底|前|起|以前|之前)?|\d{1,2}\s*月\s*\d{1,2}\s*日|\d+\s*(?:个)?(?:工作日|日内|天内|小时内|月内|年内)")
# A start point said without a date (自印发之日起施行 / 试用期从原任职时间算起) answers 从什么时候 too.
_CALENDAR = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|\d{1,2}\s*月\s*\d{1,2}\s*日")
_DATE_RELATIVE = re.compile(r"之日起|时间算起|时起算|日起算|起计算")

_CONTEXT_MAX_CHARS = 120  # characters of a title or heading embedded (cost grows with length)

NOT_FOUND_ZH = "公报中未找到能回答该问题的内容。"
NOT_FOUND_EN = "The gazette does not contain an answer to this question."


DECISIONS = ("rules", "trained")


@dataclass(frozen=True)
class ExtractiveParams:
    """How the answer is chosen and composed. `decision` names who picks the answering sentence and
    decides whether to answer: "rules" (the hand-set scores and thresholds below) or "trained" (`model`,
    None: the model shipped with the package; a fold's model under cross-validation)."""

    decision: str = "rules"
    model_override: Decision | None = None
    trained_candidates: int = 10  # trained: sentences embedded (the pre-selection model's best)
    max_passages: int = 3  # sentences are taken from the top passages only
    max_sentences: int = 2
    second_ratio: float = 0.9  # a second sentence joins when it scores this close to the best
    same_passage_ratio: float = 0.5  # a sentence of the best one's passage with a further asked value joins this close
    second_adds: float = 0.1  # ... and holds at least this share (by weight) of the question's terms the best lacks
    # One year's part of a multi-year question has its own answer: another passage joins it only with a value
    # of the asked kind the best lacks (at 1.0 no share of further terms suffices).
    part_second_adds: float = 1.0
    min_score: float = 0.35  # refusal threshold on the best sentence score (benchmarks/results/refusal_calibration.md)
    min_score_en: float = 0.05  # cross-lingual similarities run lower; the grounding checks do the refusing (benchmarks/results/refusal_calibration.md)
    semantic_weight_en: float = 1.0  # English evidence = w * semantic + (1 - w) * translated-term overlap + cues
    min_lexical: float = 0.2  # a Chinese answer sentence shares at least this much of the question's wording
    rank_decay: float = 0.05
    semantic_weight: float = 0.6  # sentence score = w * semantic + (1 - w) * lexical + cues
    semantic_floor: float = 0.75  # e5 cosines live in ~[0.7, 0.95]: rescale [floor, floor + span] to [0, 1]
    semantic_span: float = 0.17
    semantic_candidates: int = 8  # sentences embedded for selection (after a lexical pre-selection)
    selection_max_chars: int = 120
    selection_passages: int = 5  # the selection reads every passage the chain retrieves (top_k 5; the gate reads the top max_passages)
    gate_candidates: int = 5  # the plain-wording pool the gate reads (Chinese questions)
    semantic_candidates_en: int = 8
    selection_semantic_weight: float = 0.5  # selection = w * semantic + (1 - w) * rarity-weighted overlap + cues
    answer_gate: "AnswerGate | None" = None  # the answer gate the chain asks before answering (qa/answer/gate.py); None: off
    # the answer cross-encoder whose scores of the cited sentences the gate reads (qa/answer/crossenc.py); None: none
    answer_crossenc: "AnswerCrossEncoder | None" = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"unknown answer decision {self.decision!r} (one of {', '.join(DECISIONS)})")

    @property
    def model(self) -> Decision:
        return self.model_override or shipped_decision()


SentenceSimilarity = Callable[[str, list[str]], list[float]]  # question, sentences -> cosine per sentence


@dataclass
class _Candidate:
    hit_index: int
    sentence: str
    score: float  # evidence score: what the answer-or-refuse gate reads
    lexical: float = 0.0
    rank: float = 0.0  # selection score: which answering sentence reads best
    source: Sentence | None = None
    gate: bool = True  # in the pool the gate reads
    held: dict[int, float] | None = None  # the question terms the sentence itself holds: index -> weight
    covered: frozenset[int] = frozenset()  # ... and those its context (lead, heading, title) holds too
    features: dict[str, float] | None = None  # trained: the decision's inputs


def _role_bonus(question: str, sentence: str, block: str = "") -> float:
    """组长 asked (heads in English, `asked_role`) -> a row naming the 组长, not a 副组长 row (`agreement_with_role`),
    at the hand-set weight 0.2."""
    return 0.2 * agreement_with_role(asked_role(question), sentence, block)


def _cue_bonus(info: QuestionInfo, sentence: str, hit: SearchHit, block: str = "") -> float:
    bonus = _role_bonus(info.normalized, sentence, block)
    if "number" in info.cues and _NUMBER.search(sentence):
        bonus += 0.15
    if "date" in info.cues and (_DATE.search(sentence) or _DATE_RELATIVE.search(sentence)):
        bonus += 0.15
    if "person" in info.cues and (hit.chunk.persons and any(p in normalize_for_search(sentence) for p in hit.chunk.persons)
                                  or _NAME_ROLE.search(sentence) and hit.chunk.chunk_type in ("personnel", "table")):
        bonus += 0.15
    return bonus


@lru_cache(maxsize=16384)
def _text_bigrams(text: str) -> frozenset[str]:
    return frozenset(bigrams(normalize_for_search(text)))


def _overlap(q: set[str], sentence: str, context: str) -> float:
    if not q:
        return 0.0
    s = _text_bigrams(sentence)
    c = _text_bigrams(context) if context else frozenset()
    # The sentence's own words count fully; its section heading and title count half.
    return (len(q & s) + 0.5 * len((q - s) & c)) / len(q)


@dataclass
class _Row:
    hit_index: int
    sentence: Sentence
    lexical: float  # plain bigram overlap (gate)
    extra: float  # cues - rank decay (gate)
    context: str = ""  # the introducing sentence, section heading and title (flattened)
    selective: float = 0.0  # rarity-weighted overlap, with `context` counting half
    shape: float = 0.0
    held: dict[int, float] | None = None
    covered: frozenset[int] = frozenset()


def score_sentences(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
                    similarity: SentenceSimilarity | None = None,
                    keep: Callable[[str, SearchHit, float], bool] | None = None) -> list[_Candidate]:
    """Candidates best first (`rank`), each with the `score` the answer-or-refuse gate compares with
    `answer_threshold`: the hand-set rules' or the trained decision's (`params.decision`)."""
    if params.decision == "trained":
        return trained_scores(info, hits, params, similarity)
    return rules_scores(info, hits, params, similarity, keep)


def answer_threshold(info: QuestionInfo, params: ExtractiveParams) -> float:
    """The best candidate's score at which the answer is given rather than refused."""
    if params.decision == "trained":
        return params.model.threshold
    return params.min_score_en if info.lang == "en" else params.min_score


def _role_ok(info: QuestionInfo, sentence: str, params: ExtractiveParams) -> bool:
    """The sentence assigns no other role than the one asked."""
    if params.decision == "trained":
        return role_agreement(info.normalized, sentence) >= 0
    return _role_bonus(info.normalized, sentence) >= 0


def rules_scores(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
                 similarity: SentenceSimilarity | None = None,
                 keep: Callable[[str, SearchHit, float], bool] | None = None) -> list[_Candidate]:
    """The hand-set rules: candidates best first by selection score (`rank`); each also carries the gate's evidence `score`.
    `keep(sentence, hit, lexical)` drops sentences before the costly embedding step."""
    q = bigrams(info.content)
    groups = question_terms(info) if info.lang == "en" else []
    rows: list[_Row] = []
    for i, hit in enumerate(hits[: max(params.max_passages, params.selection_passages)]):
        c = hit.chunk
        context = f"{c.doc_title} {' '.join(c.section_path)}"
        for s in passage_sentences(c):
            # A list item or roster row reads with the sentence introducing it (组 长：雷健坤 市长).
            item_context = f"{s.lead} {context}"
            # English: the share of the question's words whose Chinese terms the sentence holds.
            lexical = plain_overlap(groups, flat(s.text), flat(item_context)) if groups else _overlap(q, s.text, item_context)
            rows.append(_Row(i, s, lexical, _cue_bonus(info, s.text, hit, s.lead if s.item else "") - params.rank_decay * i,
                             context=flat(item_context)))
    if not rows:
        return []
    # The gate's pool: the best few by plain wording and cues (what the refusal thresholds were
    # calibrated on). English questions share no wording with the source: their pool is the selection's.
    gate_pool = set() if info.lang == "en" else \
        {id(r) for r in sorted((r for r in rows if r.hit_index < params.max_passages
                                and not _other_year(info, r.sentence.text, hits[r.hit_index])),
                               key=lambda r: -(r.lexical + r.extra))[: params.gate_candidates]}
    if keep is not None:
        rows = [r for r in rows if keep(r.sentence.text, hits[r.hit_index], r.lexical)]
    if not rows:
        return []
    terms = question_terms(info)
    weights = term_weights(terms, [flat(r.sentence.text) + " " + r.context for r in rows])
    for r in rows:
        # An item means what its introduction says plus itself (草地贪夜蛾防控领导小组 + 组 长：雷健坤).
        own = flat(f"{r.sentence.lead}{r.sentence.text}" if r.sentence.item else r.sentence.text)
        r.selective = weighted_overlap(terms, weights, own, r.context)
        r.held = {k: w for k, ((alts, _), w) in enumerate(zip(terms, weights)) if w and any(holds(own, a) for a in alts)}
        r.covered = frozenset(r.held) | {k for k, ((alts, _), w) in enumerate(zip(terms, weights))
                                         if w and any(holds(r.context, a) for a in alts)}
        r.shape = shape_bonus(info, r.sentence, hits[r.hit_index].chunk)
    # Embedding sentences is the costly step: only the best few by wording and cues are embedded.
    n = params.semantic_candidates_en if info.lang == "en" else params.semantic_candidates
    chosen = sorted(rows, key=lambda r: -(r.selective + r.extra + r.shape))[:n]
    if gate_pool:
        chosen += [r for r in rows if id(r) in gate_pool and r not in chosen]
    else:
        gate_pool = {id(r) for r in chosen}
    # English questions share no characters with the Chinese source: the gate reads meaning and the
    # words that translate (a cross-lingual cosine alone runs low and uneven).
    w = (params.semantic_weight_en if info.lang == "en" else params.semantic_weight) if similarity else 0.0
    ws = params.selection_semantic_weight if similarity else 0.0
    # Embedding cost grows with the longest text of the batch: a sentence only the selection reads is
    # embedded by its beginning (the gate's own pool is embedded whole, as it was calibrated).
    # (two batches, so the short ones are not padded to the gate pool's longest sentence).
    semantic = [0.0] * len(chosen)
    if similarity:
        whole = [k for k, r in enumerate(chosen) if id(r) in gate_pool]
        cut = [k for k, r in enumerate(chosen) if id(r) not in gate_pool]
        for ks, limit in ((whole, None), (cut, params.selection_max_chars)):
            if ks:
                cos = similarity(info.text, [_embedded(chosen[k].sentence)[:limit] for k in ks])
                for k, c in zip(ks, cos):
                    semantic[k] = c
    out = []
    for r, cos in zip(chosen, semantic):
        sem = min(1.0, max(0.0, (cos - params.semantic_floor) / params.semantic_span))
        rank = ws * sem + (1 - ws) * r.selective + r.extra + r.shape
        out.append(_Candidate(r.hit_index, r.sentence.text, w * sem + (1 - w) * r.lexical + r.extra, r.lexical,
                              rank, r.sentence, id(r) in gate_pool, r.held, r.covered))
    out.sort(key=lambda c: -c.rank)
    return out


def candidate_rows(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
                   similarity: SentenceSimilarity | None = None) -> list[Row]:
    """Every sentence of the retrieved passages with the features known before embedding sentences (the
    passages' titles and headings are embedded here: a few short texts per question, cached by the encoder)."""
    q = bigrams(info.content)
    groups = question_terms(info) if info.lang == "en" else []
    terms = question_terms(info)
    rows: list[Row] = []
    contexts: list[str] = []
    lexicals: list[tuple[float, float]] = []
    for i, hit in enumerate(hits[: max(params.max_passages, params.selection_passages)]):
        c = hit.chunk
        context = f"{c.doc_title} {' '.join(c.section_path)}"
        for s in passage_sentences(c):
            # A list item or roster row reads with the sentence introducing it (组 长：雷健坤 市长).
            item_context = f"{s.lead} {context}"
            # English: the share of the question's words whose Chinese terms the sentence holds.
            if groups:
                lexical = plain_overlap(groups, flat(s.text), flat(item_context))
                alone = plain_overlap(groups, flat(s.text), "")
            else:
                lexical, alone = _overlap(q, s.text, item_context), _overlap(q, s.text, "")
            rows.append(Row(i, s))
            contexts.append(flat(item_context))
            lexicals.append((lexical, alone))
    if not rows:
        return []
    weights = term_weights(terms, [flat(r.sentence.text) + " " + ctx for r, ctx in zip(rows, contexts)])
    for r, ctx, (lexical, alone) in zip(rows, contexts, lexicals):
        # An item means what its introduction says plus itself (草地贪夜蛾防控领导小组 + 组 长：雷健坤).
        own = flat(f"{r.sentence.lead}{r.sentence.text}" if r.sentence.item else r.sentence.text)
        hit = hits[r.hit_index]
        r.held = {k: w for k, ((alts, _), w) in enumerate(zip(terms, weights)) if w and any(holds(own, a) for a in alts)}
        r.covered = frozenset(r.held) | {k for k, ((alts, _), w) in enumerate(zip(terms, weights))
                                         if w and any(holds(ctx, a) for a in alts)}
        r.features = base_features(info, r.sentence, hit, r.hit_index, lexical, alone,
                                   weighted_overlap(terms, weights, own, ctx),
                                   r.hit_index < params.max_passages and _other_year(info, r.sentence.text, hit))
    _add_paraphrase(info, rows, hits, terms, weights, similarity)
    add_relative(rows, "selective", "selective_best_gap")
    add_relative(rows, "lexical", "lexical_best_gap")
    return rows


def _passage_parts(hit: SearchHit) -> dict[str, str]:
    """The texts that name what a passage is about: its document's title and its section heading."""
    return {"title": hit.chunk.doc_title or "", "heading": " ".join(hit.chunk.section_path or ())}


def _coverage(terms: list, weights: list[float], text: str, links: list[str]) -> float:
    """The share (by weight) of the question's terms `text` holds, a term inside a name whose defined
    synonym `text` holds (`links`) counting as held."""
    total = sum(weights)
    if not total or not text:
        return 0.0
    got = sum(w for (alts, _), w in zip(terms, weights)
              if w and any(holds(text, a) or any(a in name for name in links) for a in alts))
    return got / total


def _add_paraphrase(info: QuestionInfo, rows: list[Row], hits: list[SearchHit], terms: list, weights: list[float],
                    similarity: SentenceSimilarity | None) -> None:
    """How well each row's passage's title and heading paraphrase the question (cosine, share of its
    words, the corpus's synonym pairs), and whether the sentence or its context holds the other name of
    a name the question uses (骑共享单车… / 互联网租赁自行车…)."""
    question = flat(info.text)
    used = sorted({r.hit_index for r in rows})
    parts = {i: {k: flat(v) for k, v in _passage_parts(hits[i]).items()} for i in used}
    for part in ("title", "heading"):
        cover = {i: _coverage(terms, weights, parts[i][part], linked(question, parts[i][part])) for i in used}
        for r in rows:
            r.features[f"{part}_coverage"] = cover[r.hit_index]
        cosines: dict[int, float] = {}
        if similarity is not None:
            texts = {i: _passage_parts(hits[i])[part].strip() for i in used}
            todo = [i for i in used if texts[i]]
            if todo:
                cosines = dict(zip(todo, similarity(info.text, [texts[i][:_CONTEXT_MAX_CHARS] for i in todo])))
        add_context_semantic(rows, part, cosines)
    for r in rows:
        own = flat(f"{r.sentence.lead}{r.sentence.text}" if r.sentence.item else r.sentence.text)
        context = f"{flat(r.sentence.lead)}{parts[r.hit_index]['title']}{parts[r.hit_index]['heading']}"
        r.features["synonym_sentence"] = float(bool(linked(question, own)))
        r.features["synonym_context"] = float(bool(linked(question, context)))


def embed_rows(info: QuestionInfo, rows: list[Row], params: ExtractiveParams, pre: list[float] | None,
               similarity: SentenceSimilarity | None) -> list[Row]:
    """The rows worth embedding (the pre-selection model's best), with their semantic features added.
    Without a similarity function the semantic features stay missing (the trees route them as trained)."""
    if pre is not None:
        order = sorted(range(len(rows)), key=lambda k: (-pre[k], k))[: params.trained_candidates]
        rows = [rows[k] for k in order]
    if similarity and rows:
        add_semantic(rows, similarity(info.text, [_embedded(r.sentence)[: params.selection_max_chars] for r in rows]))
    return rows


def trained_scores(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
                   similarity: SentenceSimilarity | None = None) -> list[_Candidate]:
    """Candidates best first by the trained decision's probability that they answer."""
    rows = candidate_rows(info, hits, params, similarity)
    if not rows:
        return []
    model = params.model
    pre = model.pre_scores([r.features for r in rows]).tolist()
    rows = embed_rows(info, rows, params, pre, similarity)
    probs = model.scores([r.features for r in rows]).tolist()
    out = [_Candidate(r.hit_index, r.sentence.text, p, r.features.get("lexical", 0.0), p, r.sentence, True,
                      r.held, r.covered, r.features) for r, p in zip(rows, probs)]
    out.sort(key=lambda c: -c.rank)
    return out


_ALL_BUT_YEARS = frozenset(CHECKS) - {"years"}


def _other_year(info: QuestionInfo, sentence: str, hit: SearchHit) -> bool:
    """A sentence of another year's passage than the one the question names (2022年调整…领导小组: the 2021
    roster) is no evidence either way: it does not fill the gate's pool."""
    return bool(info.years) and bool(ungrounded(info, sentence, hit, _ALL_BUT_YEARS))


def _embedded(s: Sentence) -> str:
    """What is embedded for a sentence: an item with its introduction (医学救援组 组长：市卫健委主任)."""
    return f"{s.lead[-40:]} {s.text}" if s.item and s.lead else s.text  # (the lead's end: cost grows with length)


def _answers_the_type(info: QuestionInfo, sentence: str, hit: SearchHit) -> bool:
    """The sentence carries what the question asks for: the year it names, a number in the unit it
    asks for, a date, the place (qa/answer/grounding.py). A sentence that does not is no answer,
    however similar it reads."""
    return not ungrounded(info, sentence, hit)


def _card_answer(info: QuestionInfo, hit: SearchHit) -> str:
    """The document's number, title and issue; its date as written when a date is asked (哪天印发的)."""
    c = hit.chunk
    where = source_name(c)  # 2022年第3期公报, or the collection of a document that is no gazette issue
    m = re.search(r"^成文日期：(\d{4})-(\d{1,2})-(\d{1,2})$", c.embed_text, re.M) if "date" in info.cues and c.chunk_type == "card" else None
    if info.lang == "en":
        source = f"gazette issue {c.issue}" if c.issue else (c.collection or c.source_file)
        return f"{c.doc_number} is 《{c.doc_title}》 ({source}{', dated ' + '-'.join(m.groups()) if m else ''})."
    dated = f"成文日期为{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日，" if m else ""
    return f"{c.doc_number}是《{c.doc_title}》，{dated}{'刊于' if c.issue else '见'}{where}。"


def _named_document(info: QuestionInfo, hits: list[SearchHit], i: int, margin: float = 0.1) -> int:
    """The document a "which document" question asks for: the best sentence's own (passage i), unless a
    retrieved document's title reads clearly more like the question (the best sentence may quote the
    document asked for: 原《…第二批…的通告》(阳政函〔2020〕19号)同时废止)."""
    q = bigrams(info.content)
    if not q:
        return i
    def fit(k: int) -> float:
        return len(q & bigrams(flat(hits[k].chunk.doc_title))) / len(q)
    best = max(range(len(hits)), key=lambda k: (fit(k), k == i, -k))
    return best if fit(best) >= fit(i) + margin else i


def _card_of(hits: list[SearchHit], hit_index: int) -> int:
    """The retrieved card of a passage's document (it holds the number and title the answer names), else
    the passage itself."""
    key = hits[hit_index].chunk.doc_key
    return next((i for i, h in enumerate(hits) if h.chunk.chunk_type == "card" and h.chunk.doc_key == key), hit_index)


def role_holder(role: str, sentence: str, persons: tuple[str, ...] | list[str] = ()) -> str:
    """The person a roster row or appointment names in `role` (组长：韩加政（副市长） -> 韩加政), or ""."""
    text = flat(sentence)
    m = re.search(rf"(?<![副务]){role}[：:]", text)
    if m:
        after = text[m.end():]
        known = [p.replace(" ", "") for p in persons if after.startswith(p.replace(" ", ""))]
        if known:
            return max(known, key=len)
        n = re.match(r"[\u4e00-\u9fff]{2,3}?(?=[（(，,；;。]|$|市|副|同志)", after)
        return n.group(0) if n else ""
    # a post filled (办公室主任由…耿胜兼任): the role right before 由, the name within one clause (flat text has
    # half-width punctuation: 由安海润兼任,副主任由任仔苏兼任 must not read 由任仔苏 as a 局长)
    m = re.search(rf"(?<![副务]){role}由(?:[^，。；,;]{{1,20}}?(?:员|长|任|记|师))?([\u4e00-\u9fff]{{2,4}}?)(?:同志)?(?:兼任|担任)", text)
    if m:
        return m.group(1)
    return ""


def asked_value(info: QuestionInfo, sentence: str, hit: SearchHit) -> str:
    """What the question asks for, read off the answering sentence: the holder of the asked role (组长 韩加政),
    a figure of the asked kind, a date; "" when the sentence gives none plainly."""
    if "person" in info.cues:
        role = asked_role(info.normalized if info.lang == "zh" else info.text)
        name = role_holder(role, sentence, hit.chunk.persons) if role else ""
        if name:
            return f"{role} {name}"
    if "date" in info.cues and "number" not in info.cues:
        m = _DATE.search(sentence)
        if m:
            return m.group(0).replace(" ", "")
    if "number" in info.cues:
        # a figure, not a piece of a calendar date nor a bare year (于 2023 年 12 月 21 日 gives no "12月" to lead
        # with); none left: no lead rather than a wrong one
        dates = [m.span() for m in _CALENDAR.finditer(sentence)]
        figures = [m.group(0) for m in _NUMBER.finditer(sentence)
                   if not any(a <= m.start() < b for a, b in dates) and not re.fullmatch(r"\d{4}\s*年", m.group(0))]
        return english_value(info, figures).replace(" ", "")
    return ""


def _lead_value(info: QuestionInfo, text: str, hit: SearchHit) -> str:
    """What a Chinese answer leads with (组长 韩加政 before 组长：韩加政…): the asked value read off the answering
    sentence, or "" when there is none or the sentence already starts with it."""
    if info.lang != "zh":
        return ""
    value = asked_value(info, text, hit)
    if not value or flat(text).startswith(flat(value)):
        return ""
    return value


def _leading_with(result: AnswerResult, value: str) -> AnswerResult:
    """The answer text led by the asked value (the citations keep the cited sentence as it stands)."""
    if value and result.answered and not flat(result.answer).startswith(flat(value)):
        result.answer = f"{value}。{result.answer}"
    return result


def compose(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams, doc_route: bool,
            similarity: SentenceSimilarity | None = None, split_clauses: bool = True) -> AnswerResult:
    """Pick and order the answering sentences; cite only the passages they come from. A question
    asking two things (组长是谁？办公室设在哪？) also gets the best sentence of each clause."""
    if not hits:
        return refuse(info, hits)
    picks: list[tuple[int, str]] = []
    threshold = answer_threshold(info, params)
    if doc_route and hits[0].chunk.chunk_type == "card" and asks_about_document(info.text):
        # the question names a document number and asks what that document is; what it says
        # (免去了谁, 有效期多久) is answered from its sentences, which the route put next to the card
        result = _assemble(info, hits, [(0, _card_answer(info, hits[0]))])
        result.trace = {"route": "card"}
        return result
    candidates = _answering(info, hits, params, similarity)
    parts = asking_parts(info.text) if split_clauses and info.lang == "zh" else [(info.text, "")]
    if len(parts) >= 2:
        picks, answered = _clause_picks(info, parts, hits, params, similarity)
        if answered == len(parts):  # every part answered from its own sentence
            return _assemble(info, hits, list(dict.fromkeys(picks)))
    evidence = _evidence(candidates)
    value = ""
    if not picks and evidence < threshold:
        return refuse(info, hits, missing(info))
    if candidates and evidence >= threshold:
        best = _leading(info, hits, candidates, params)
        wants_document = asks_document(info.text) and not {"date", "person"} & info.cues
        if wants_document:
            d = _named_document(info, hits, best.hit_index)
            lead = [(_card_of(hits, d), _card_answer(info, hits[d]))]
        else:
            lead = []
        shown = _shown(info, best, hits)
        value = "" if wants_document else _lead_value(info, shown, hits[best.hit_index])
        lead.append((best.hit_index, shown))
        held_role = _held_role(info, hits, best)
        for cand in candidates:
            if len(lead) >= params.max_sentences or cand.rank < params.same_passage_ratio * best.rank:
                break
            cited = {i for i, _ in lead}
            if cand is best or cand.sentence == best.sentence or _another_holder(info, hits, held_role, cand):
                continue
            if cand.rank >= params.second_ratio * best.rank:
                if cand.hit_index in cited or _adds(info, hits, best, cand, params.second_adds):
                    lead.append((cand.hit_index, _shown(info, cand, hits)))
            elif cand.hit_index == best.hit_index and _role_ok(info, cand.sentence, params) \
                    and _values(info, cand.sentence, hits[cand.hit_index]) - _values(info, best.sentence, hits[best.hit_index]):
                # The rest of a figure-asking answer in the best sentence's own passage (不低于55%… / 不低于70%):
                # a further value of the asked kind, at no cost to the citations (not a roster row of
                # another role than the one asked).
                lead.append((cand.hit_index, _shown(info, cand, hits)))
        picks = list(dict.fromkeys([*lead, *picks]))
    result = _assemble(info, hits, picks)
    result.trace = _trace(candidates, evidence, threshold, "clauses" if len(parts) >= 2 else "compose")
    if value and result.citations:  # read off the sentence shown first: final_form may put a later year's first
        value = _lead_value(info, result.citations[0].sentence, result.citations[0].hit)
    return _leading_with(result, value)


def _held_role(info: QuestionInfo, hits: list[SearchHit], best: _Candidate) -> str:
    """The role the question asks the holder of, when the best sentence names that holder; else ""."""
    if "person" not in info.cues:
        return ""
    role = asked_role(info.normalized if info.lang == "zh" else info.text)
    return role if role and role_holder(role, best.sentence, hits[best.hit_index].chunk.persons) else ""


def _another_holder(info: QuestionInfo, hits: list[SearchHit], held_role: str, cand: _Candidate) -> bool:
    """The best sentence names the holder of the asked role (`held_role`) and `cand` names someone not in that
    role (the next column of a two-column roster row, 组长：韩加政（副市长）；冯仁科（…）): the answer names the
    holder, not the people beside them (issue 12 §4). Fellow holders of the same role (副组长：李治华…；
    副组长：王昊达…) still join."""
    if not held_role:
        return False
    hit = hits[cand.hit_index]
    return bool(_values(info, cand.sentence, hit)) and not role_holder(held_role, cand.sentence, hit.chunk.persons)


def _trace(candidates: list[_Candidate], evidence: float, threshold: float, route: str) -> dict:
    """What the decision saw when it answered (the answer gate's inputs, qa/answer/gate.py)."""
    pool = sorted((c.score for c in candidates if c.gate), reverse=True)
    best = candidates[0] if candidates else None
    return {"route": route, "evidence": evidence, "threshold": threshold, "candidates": len(candidates),
            "above": sum(s >= threshold for s in pool), "second": pool[1] if len(pool) > 1 else None,
            "best_rank": best.rank if best else None, "best_lexical": best.lexical if best else None}


def _leading(info: QuestionInfo, hits: list[SearchHit], candidates: list[_Candidate], params: ExtractiveParams) -> _Candidate:
    """The best-reading of the sentences that could answer, unless another passage's sentence that reads
    as close says all it says and more: that one answers (and the best, adding nothing to it, earns no
    citation). Where a value is asked (a figure, a date, a name), only a sentence carrying one may lead."""
    best = candidates[0]
    asks_value = bool({"number", "date", "person"} & info.cues)
    return next((c for c in candidates[1:] if c.rank >= params.second_ratio * best.rank and c.hit_index != best.hit_index
                 and (not asks_value or _values(info, c.sentence, hits[c.hit_index]))
                 and _dominates(info, hits, best, c, params.second_adds)), best)


def _values(info: QuestionInfo, sentence: str, hit: SearchHit) -> set[str]:
    """The values of the kind the question asks for that a sentence carries (numbers, dates, names)."""
    out: set[str] = set()
    text = flat(sentence)
    if "number" in info.cues:  # (a bare year, 2020年继续开展…, is not the figure asked)
        out |= {flat(m.group(0)) for m in _NUMBER.finditer(sentence) if not re.fullmatch(r"\d{4}\s*年", m.group(0))}
    if "date" in info.cues:
        out |= {flat(m.group(0)) for m in _DATE.finditer(sentence)} | set(_DATE_RELATIVE.findall(text))
    if "person" in info.cues:
        # (a passage whose persons were not extracted still names a role holder: 办公室主任由…耿胜兼任)
        out |= {p.replace(" ", "") for p in hit.chunk.persons if p.replace(" ", "") in text} | role_holders(text)
    return out


def _adds(info: QuestionInfo, hits: list[SearchHit], best: _Candidate, cand: _Candidate, share: float) -> bool:
    """A second sentence from another passage earns its citation when it says something the best one
    does not: question terms neither the best nor its context (its lead, heading, document title) holds,
    or a value of the asked kind the best does not carry (a near-duplicate from another issue, or a
    sentence that merely reads close, adds nothing). Only words count: the numbers a question names
    (its year, its month) scope it and the grounding checks them, and a lone character or a bigram
    across 的 (的地, 组的) says nothing by itself."""
    if best.held is None or cand.held is None:
        return True
    cand_values = _values(info, cand.sentence, hits[cand.hit_index])
    best_values = _values(info, best.sentence, hits[best.hit_index])
    if cand_values and not best_values:
        return True  # the best carries no value of the asked kind; this one does
    if best_values and asked_figures(info, cand_values) and asked_figures(info, cand_values) <= asked_figures(info, best_values):
        return False  # the same figure or name said again elsewhere (a table row and the prose restating it)
    if best_values and not cand_values:
        return False  # the best answers with a value of the asked kind; this one carries none
    noise = {k for k, (alts, _) in enumerate(question_terms(info)) if alts[0][:1].isdigit() or len(alts[0]) < 2 or "的" in alts[0]}
    added = sum(w for k, w in cand.held.items() if k not in best.covered and k not in noise)
    total = sum(best.held.values()) + added
    return total > 0 and added >= share * total


def _dominates(info: QuestionInfo, hits: list[SearchHit], best: _Candidate, cand: _Candidate, share: float) -> bool:
    """`cand` says what the best says and more: it adds to the best, and the best adds nothing to it
    (领导小组办公室设在市发改委 over a sentence on the group's duties that merely reads as close)."""
    return _adds(info, hits, best, cand, share) and not _adds(info, hits, cand, best, share)


def _evidence(candidates: list[_Candidate]) -> float:
    """What the answer-or-refuse gate reads: the best evidence score in its pool."""
    return max((c.score for c in candidates if c.gate), default=0.0)


def _shown(info: QuestionInfo, cand: _Candidate, hits: list[SearchHit]) -> str:
    """The sentence as the answer shows it: one that announces a list carries the list's items; an
    item answering "which ones" (哪些场所…) shows the whole list it belongs to."""
    if cand.source is None:
        return cand.sentence
    intro = cand.source if cand.source.intro else None
    sentences = passage_sentences(hits[cand.hit_index].chunk)
    if intro is None and cand.source.item and asks_list(info):
        intro = introduction(sentences, cand.source)
    if intro is None:
        return cand.sentence
    items = continuation(sentences, intro)
    return f"{intro.text}{items}" if items else cand.sentence


def _answering(info: QuestionInfo, hits: list[SearchHit], params: ExtractiveParams,
               similarity: SentenceSimilarity | None) -> list[_Candidate]:
    """Sentences that could answer, best first: scored, and carrying what the question asks for."""
    def admissible(sentence: str, hit: SearchHit, lexical: float) -> bool:
        return _answers_the_type(info, sentence, hit) and (info.lang == "en" or lexical >= params.min_lexical)

    if params.decision == "trained":  # the grounding checks are the model's inputs, not a filter
        return _unqualified_first(info, hits, score_sentences(info, hits, params, similarity))

    return _unqualified_first(info, hits, score_sentences(info, hits, params, similarity, admissible))


_WORDS_ONLY = re.compile(r"[^\u4e00-\u9fffA-Za-z0-9]")


def _unqualified_first(info: QuestionInfo, hits: list[SearchHit], candidates: list[_Candidate], margin: float = 0.85,
                       max_extra: int = 6) -> list[_Candidate]:
    """The best sentence worded as a close runner-up of its document plus a qualifier the question does
    not ask about (黄色和橙色预警解除由…审批 vs 黄色和橙色预警由…审批: lifting, not issuing) gives way to
    the runner-up. (Another document's near-duplicate is another document's answer: not compared.)"""
    if len(candidates) < 2:
        return candidates
    best = candidates[0]
    long = _WORDS_ONLY.sub("", best.sentence)
    terms = [a for alts, _ in question_terms(info) for a in alts if a]
    for k, cand in enumerate(candidates[1:], 1):
        if cand.rank < margin * best.rank:
            break
        if hits[cand.hit_index].chunk.doc_key != hits[best.hit_index].chunk.doc_key:
            continue
        short = _WORDS_ONLY.sub("", cand.sentence)
        if not short or short == long or len(long) - len(short) > max_extra:
            continue
        ops = difflib.SequenceMatcher(None, short, long, autojunk=False).get_opcodes()
        if any(op not in ("equal", "insert") for op, *_ in ops):
            continue
        extra = [long[j1:j2] for op, _, _, j1, j2 in ops if op == "insert"]
        if not any(t in x or x in t for x in extra for t in terms):
            return [cand, *candidates[1:k], best, *candidates[k + 1:]]
    return candidates


def asking_parts(question: str) -> list[tuple[str, str]]:
    """The things a question asks, one question each with the first clause as a later one's topic: its
    asking clauses (组长是谁？办公室设在哪？), and within a clause its coordinated items (组长和副组长是谁,
    6月和7月的合格率分别是多少)."""
    cs = clauses(question)
    # The subject is said once, in the first clause; a later clause (原主任是谁) inherits it.
    return [(p, cs[0] if k else "") for k, clause in enumerate(cs) for p in conjunct_parts(clause)]


# A roster row as rendered with its group (阳泉市大样本轮换领导小组：组长：石峥（副市长）).
_ROW_GROUP = re.compile(rf"^([^：:，,。]{{4,40}}?(?:{alternation(GROUP_NOUNS)}))[：:]")


def _clause_picks(info: QuestionInfo, parts: list[tuple[str, str]], hits: list[SearchHit], params: ExtractiveParams,
                  similarity: SentenceSimilarity | None) -> tuple[list[tuple[int, str]], int]:
    """The best sentence for each asking part, and how many parts got one; the years and places the
    whole question names bind every part. A part asking for a document is answered by the top passage's card. 他/她 in a later
    part is the person an earlier part's answer names (谁是新校长？他之前在哪所学校当校长？)."""
    picks: list[tuple[int, str]] = []
    answered = 0
    named: list[str] = []
    groups: list[str] = []  # the groups earlier parts' roster rows read with
    for part, topic in parts:
        if named and _PRONOUN.search(part):
            part = _PRONOUN.sub(named[0], part, count=1)
        part_info = analyse(part)
        part_info.topic = analyse(topic).content if topic else ""
        part_info.years = part_info.years or info.years
        part_info.places = part_info.places or info.places
        candidates = _answering(part_info, hits, params, similarity)
        if "document" in part_info.cues and not {"number", "date", "person"} & part_info.cues \
                or asks_document(part) and not {"date", "person"} & part_info.cues:
            i = candidates[0].hit_index if candidates else 0
            picks.append((_card_of(hits, i), _card_answer(info, hits[i])))
            answered += 1
        elif candidates and _evidence(candidates) >= answer_threshold(part_info, params):
            best = _leading(part_info, hits, candidates, params)
            # A later clause asks about the first one's subject: a sentence reading as close from a
            # passage an earlier part already cites answers it at no further citation (组长是谁？办公室
            # 设在哪？). (Coordinated items, 6月和7月…分别, are other subjects: each reads its own.)
            # (The group an earlier part's roster row reads with, 阳泉市大样本轮换领导小组：组长：…, is that subject
            # too: a passage naming it answers before one on other groups, 各县(区)…领导小组办公室设在….)
            cited = {i for i, _ in picks}

            def about_subject(c: _Candidate) -> bool:
                return c.hit_index in cited or any(g in flat(hits[c.hit_index].chunk.text) for g in groups)
            if topic and not about_subject(best):
                best = next((c for c in candidates[1:] if about_subject(c) and c.rank >= params.second_ratio * best.rank), best)
            pick = (best.hit_index, _shown(part_info, best, hits))
            fellows = _fellow_holders(part_info, best, candidates, params)
            if pick in picks:  # an earlier part's sentence: this part may be answered by the next one
                runner_up = next((c for c in candidates[1:] if c.sentence != best.sentence), None)
                if runner_up and runner_up.rank >= params.second_ratio * best.rank:
                    picks.append((runner_up.hit_index, _shown(part_info, runner_up, hits)))
            picks.append(pick)
            picks.extend((c.hit_index, _shown(part_info, c, hits)) for c in fellows)
            answered += 1
            flat_best = flat(best.sentence)
            group = _ROW_GROUP.match(best.sentence) if hits[best.hit_index].chunk.chunk_type == "table" else None
            if group:
                groups.append(flat(group[1]))
            named.extend(p.replace(" ", "") for p in hits[best.hit_index].chunk.persons if p.replace(" ", "") in flat_best)
    return list(dict.fromkeys(picks)), answered


def _fellow_holders(info: QuestionInfo, best: _Candidate, candidates: list[_Candidate], params: ExtractiveParams,
                    limit: int = 2) -> list[_Candidate]:
    """A role asked (副组长是谁) and the best row names one of its holders: the other rows of the same roster
    block holding that role (副组长：李治华…；副组长：王昊达…), from the same passage, at no further citation."""
    asked = next((r for r in _ROLES if r in info.normalized), None)
    roles = _ROW_ROLE.findall(flat(best.sentence))
    if not asked or "person" not in info.cues or best.source is None or not roles or roles[-1] != asked:
        return []
    return [c for c in candidates if c is not best and c.hit_index == best.hit_index and c.source is not None
            and c.source.lead == best.source.lead and c.rank >= params.same_passage_ratio * best.rank
            and (found := _ROW_ROLE.findall(flat(c.sentence))) and found[-1] == asked][:limit]


def _assemble(info: QuestionInfo, hits: list[SearchHit], picks: list[tuple[int, str]]) -> AnswerResult:
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for shown in final_form(info, hits, picks):  # the answer's form: latest year first, sentence bounds, English
        if shown.hit_index not in numbers:
            numbers[shown.hit_index] = len(numbers) + 1
            citations.append(Citation(numbers[shown.hit_index], hits[shown.hit_index], shown.sentence))
        parts.append(f"{shown.text}[{numbers[shown.hit_index]}]")
    related = [h for i, h in enumerate(hits) if i not in numbers]
    return AnswerResult(info.text, " ".join(parts), True, citations, related)


# What a question asks, once its asking words are gone: 阳泉市人民医院的床位有多少张？ -> 阳泉市人民医院的床位.
_ASKING_TAIL = re.compile(r"(?:一共|总共|共|大概|大约|分别|具体)?(?:有|是|为|要|需要|能|可以|应该|应当|得|在)?"
                          r"(?:多少[\u4e00-\u9fff]?|几[\u4e00-\u9fff]?|什么[\u4e00-\u9fff]{0,2}|哪[\u4e00-\u9fff]{0,2}|谁|何时|怎么[\u4e00-\u9fff]{0,2}|如何)"
                          r"(?:呢|吗|啊|呀)?[？?。！!]*$")
_MISSING_KIND = (("person", "是谁"), ("date", "的时间"), ("number", "的具体数字"))


def missing(info: QuestionInfo) -> str:
    """What the refusal says is missing (（公报中没有写明“阳泉市人民医院的床位”的具体数字）), or "" when the
    question's subject cannot be told apart from its asking words."""
    if info.lang != "zh":
        return ""
    subject = _ASKING_TAIL.sub("", info.text.strip()).rstrip("的，, ")
    if not 2 <= len(subject) <= 40 or subject == info.text.strip():
        return ""
    kind = next((what for cue, what in _MISSING_KIND if cue in info.cues), "")
    return f"（公报中没有写明“{subject}”{kind}）"


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
        # The name in the text counts too: a garbled line (阳泉市人民政府闫献忠为…) escapes the persons extractor.
        if c.chunk_type == "card" or not (set(persons) & set(c.persons) or any(p in normalize_for_search(c.text).replace(" ", "") for p in persons)):
            continue
        body = passage_body(c)
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
        label = f"{issue_name(issue) or c.collection or c.source_file}（{c.doc_number}）"
        picks.append((i, f"{label}：{sentence.rstrip('；;。')}。" if info.lang == "zh" else record_statement(info, c, sentence)))
    result = _assemble(QuestionInfo(info.text, info.normalized, "zh", info.cues), hits, picks)
    return result
