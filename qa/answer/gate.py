"""The answer gate: the features of the answer the chain is about to give, and whether to give it.

A second, question-level model (trained by `qa train-gate`, qa/evaluation/train_gate.py, on what the real
answer path answered for the labelled questions) reads the chosen answer: its sentences, their grounding
checks and overlap with the question, the retrieval scores, the decision's own score and its margin over
its threshold, the question's kind and language, how many candidates and documents compete. It gives
the probability that the answer is right; below the threshold chosen on the training questions, the chain
refuses as it refuses today (qa/answer/extractive.py `refuse`). It works on top of either decision
(rules or trained): it reads what they chose, not how.

The model ships as JSON (qa/answer/gate_model.json) in the decision model's scorer format
(qa.answer.decision.Scorer: trees or a logistic regression, evaluated with numpy), read once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.answer.decision import ModelFormatError, Scorer
from qa.scoring import read_model_file
from qa.answer.features import DATE, NUMBER
from qa.answer.grounding import CHECKS, check_failures
from qa.answer.selection import flat, plain_overlap, question_terms
from qa.answer.types import AnswerResult
from qa.models import SearchHit
from qa.question import QuestionInfo, bigrams

GATE_PATH = Path(__file__).with_name("gate_model.json")
GATE_FORMAT = 1
ROUTES = ("compose", "clauses", "card", "parts", "timeline")
_CHUNK_TYPES = ("card", "personnel", "table")

GATE_FEATURES = (
    # the question
    "lang_en", "asks_number", "asks_date", "asks_person", "asks_document", "years", "multi", "question_chars",
    # how the chain answered
    *(f"route_{r}" for r in ROUTES),
    # the decision's own view (rules or trained): its score, threshold, margin, the competition
    "evidence", "threshold", "margin", "candidates", "above_threshold", "second_gap", "best_rank", "best_lexical",
    # retrieval
    "top_score", "score_gap12", "mean_top5", "docs_top5", "issues_top5", "cited_rank", "cited_score",
    # the answer
    "citations", "answer_chars", "sentence_chars",
    *(f"cited_{t}" for t in _CHUNK_TYPES),
    "overlap_sentence", "overlap_passage", "overlap_title", "value_present",
    # the grounding checks of the first cited sentence (and how many fail over all cited ones)
    *(f"fails_{name}" for name in CHECKS), "fails_any", "fails_total",
    # v3, meaning: e5 cosine of the question with the first / best cited sentence (the query vector the search
    # cached, the index's sentence vectors), the cited passage's dense cosine and its gap to the best hit's
    "sem_first", "sem_max", "dense_cited", "dense_gap",
)
# v5: the answer cross-encoder's P(the first / the best cited sentence answers the question)
# (qa/answer/crossenc.py); a gate fitted with them needs the cross-encoder at answer time
CROSSENC_FEATURES = ("ce_first", "ce_max")


def _share(q: set[str], text: str) -> float:
    return len(q & set(bigrams(flat(text)))) / len(q) if q else 0.0


def _overlap(info: QuestionInfo, text: str) -> float:
    """The share of the question's words the text holds (English: its translated terms)."""
    if info.lang == "en":
        terms = question_terms(info)
        return plain_overlap(terms, flat(text), "") if terms else 0.0
    return _share(set(bigrams(info.content)), text)


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def gate_features(info: QuestionInfo, hits: list[SearchHit], result: AnswerResult,
                  cosines: list[float] | None = None, crossenc: list[float] | None = None) -> dict[str, float]:
    """The gate's inputs for an answered question: `result` as the chain composed it (its `trace`
    says the route and the decision's score), `hits` what was retrieved for the question, `cosines` the
    question's e5 cosine with each cited sentence (None: no encoder at hand; the features are missing),
    `crossenc` the answer cross-encoder's score of each cited sentence (None: none at hand)."""
    t = result.trace
    f: dict[str, float] = {
        "lang_en": float(info.lang == "en"), "asks_number": float("number" in info.cues),
        "asks_date": float("date" in info.cues), "asks_person": float("person" in info.cues),
        "asks_document": float("document" in info.cues), "years": float(len(info.years)),
        "multi": float(info.multi), "question_chars": float(len(info.text)),
    }
    route = t.get("route", "compose")
    f.update({f"route_{r}": float(route == r) for r in ROUTES})
    evidence, threshold = t.get("evidence"), t.get("threshold")
    f.update({"evidence": _num(evidence), "threshold": _num(threshold),
              "margin": _num(evidence - threshold if evidence is not None and threshold is not None else None),
              "candidates": _num(t.get("candidates")), "above_threshold": _num(t.get("above")),
              "second_gap": _num(evidence - t["second"] if evidence is not None and t.get("second") is not None else None),
              "best_rank": _num(t.get("best_rank")), "best_lexical": _num(t.get("best_lexical"))})
    scores = [float(h.score) for h in hits]
    top5 = hits[:5]
    f.update({"top_score": scores[0] if scores else math.nan,
              "score_gap12": scores[0] - scores[1] if len(scores) > 1 else math.nan,
              "mean_top5": float(np.mean(scores[:5])) if scores else math.nan,
              "docs_top5": float(len({h.chunk.doc_key for h in top5})),
              "issues_top5": float(len({h.chunk.issue for h in top5}))})
    cites = result.citations
    first = cites[0] if cites else None
    ids = [h.chunk.chunk_id for h in hits]
    f.update({"cited_rank": float(ids.index(first.hit.chunk.chunk_id)) if first and first.hit.chunk.chunk_id in ids else math.nan,
              "cited_score": float(first.hit.score) if first else math.nan,
              "citations": float(len(cites)), "answer_chars": float(len(result.answer)),
              "sentence_chars": float(len(first.sentence)) if first else math.nan})
    f.update({f"cited_{c}": float(bool(first) and first.hit.chunk.chunk_type == c) for c in _CHUNK_TYPES})
    sentences = " ".join(c.sentence for c in cites)
    f.update({"overlap_sentence": _overlap(info, sentences),
              "overlap_passage": _overlap(info, " ".join(c.hit.chunk.text for c in cites)),
              "overlap_title": _overlap(info, " ".join(f"{c.hit.chunk.doc_title} {' '.join(c.hit.chunk.section_path)}" for c in cites)),
              "value_present": _value_present(info, cites)})
    fails = [check_failures(info, c.sentence, c.hit) for c in cites]
    f.update({f"fails_{name}": float(fails[0][name]) if fails else math.nan for name in CHECKS})
    f["fails_any"] = float(any(fails[0].values())) if fails else math.nan
    f["fails_total"] = float(sum(sum(x.values()) for x in fails))
    f["sem_first"] = float(cosines[0]) if cosines else math.nan
    f["sem_max"] = float(max(cosines)) if cosines else math.nan
    dense = [h.scores.get("dense") for h in hits if h.scores.get("dense") is not None]
    cited_dense = first.hit.scores.get("dense") if first else None
    f["dense_cited"] = _num(cited_dense)
    f["dense_gap"] = float(max(dense) - cited_dense) if dense and cited_dense is not None else math.nan
    f.update(crossenc_features(crossenc))
    return f


def crossenc_features(scores: list[float] | None) -> dict[str, float]:
    return {"ce_first": float(scores[0]) if scores else math.nan, "ce_max": float(max(scores)) if scores else math.nan}


def _value_present(info: QuestionInfo, cites) -> float:
    """1 when a cited sentence carries a value of every kind asked (a figure, a date, a named person); nan when none is asked."""
    kinds = {"number", "date", "person"} & info.cues
    if not kinds:
        return math.nan
    def has(kind: str, c) -> bool:
        if kind == "number":
            return bool(NUMBER.search(c.sentence))
        if kind == "date":
            return bool(DATE.search(c.sentence))
        return any(p.replace(" ", "") in flat(c.sentence) for p in c.hit.chunk.persons)
    return float(all(any(has(k, c) for c in cites) for k in kinds))


@dataclass(frozen=True)
class AnswerGate:
    """A fitted gate: P(the answer is right) from `GATE_FEATURES`; the chain answers when it reaches `threshold`."""

    scorer: Scorer
    threshold: float
    meta: dict

    def probability(self, features: dict[str, float]) -> float:
        x = np.array([[float(features.get(n, math.nan)) for n in self.scorer.features]], dtype=np.float64)
        return float(self.scorer.proba(x)[0])

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[float(r.get(n, math.nan)) for n in self.scorer.features] for r in rows], dtype=np.float64)
        return self.scorer.proba(x)

    def to_dict(self) -> dict:
        return {"format": GATE_FORMAT, **self.meta, "threshold": self.threshold, "model": self.scorer.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "AnswerGate":
        if d.get("format") != GATE_FORMAT:
            raise ModelFormatError(f"answer gate format {d.get('format')!r}, expected {GATE_FORMAT}")
        meta = {k: v for k, v in d.items() if k not in ("format", "threshold", "model")}
        return cls(Scorer.from_dict(d["model"]), float(d["threshold"]), meta)

    @property
    def needs_crossenc(self) -> bool:
        return any(n in CROSSENC_FEATURES for n in self.scorer.features)

    def describe(self) -> dict:
        return {"gate": self.meta.get("method"), "gate_threshold": round(self.threshold, 4),
                "gate_trained_on": self.meta.get("trained_on", {}).get("questions")}


def gated(gate: AnswerGate, info: QuestionInfo, hits: list[SearchHit], result: AnswerResult,
          cosines: list[float] | None = None) -> bool:
    """Whether the gate lets an answered `result` stand; records its features and probability in the trace."""
    features = result.trace.get("gate_features") or gate_features(info, hits, result)
    p = gate.probability(features)
    result.trace.update(gate_features=features, gate_p=p, gate_threshold=gate.threshold)
    return p >= gate.threshold


def load_gate(path: Path | str = GATE_PATH) -> AnswerGate:
    return AnswerGate.from_dict(read_model_file(path, "answer gate model"))


@lru_cache(maxsize=1)
def shipped_gate() -> AnswerGate:
    """The gate shipped with the package (read once; a read-only data file)."""
    return load_gate(GATE_PATH)
