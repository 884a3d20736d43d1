"""Scoring: pure functions from (passages, evidence, answer) to figures, and their aggregation.

Matching is whitespace-insensitive on NFKC text (`squash`): a passage *holds* an evidence string when
the squashed evidence is a substring of the squashed passage.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from qa.corpus.normalize import squash

KS = (1, 3, 5, 10)
RANK_DEPTH = 10  # MRR@10, nDCG@10


# ---------------------------------------------------------------------------------------- matching


def holds(passage: str, evidence: str) -> bool:
    return squash(evidence) in squash(passage)


def held_evidence(passages: Sequence[str], evidences: Sequence[str]) -> list[frozenset[int]]:
    """For each passage, the indices of the evidence strings it holds (squashing each text once)."""
    evs = [squash(e) for e in evidences]
    out = []
    for p in passages:
        sp = squash(p)
        out.append(frozenset(i for i, e in enumerate(evs) if e and e in sp))
    return out


def count_relevant(squashed_passages: Iterable[str], evidences: Sequence[str]) -> int:
    """How many passages of a whole collection (already squashed) hold any of the evidences: nDCG's ideal."""
    evs = [squash(e) for e in evidences if squash(e)]
    return sum(1 for p in squashed_passages if any(e in p for e in evs))


# ---------------------------------------------------------------------------------------- retrieval


def hit_at_k(held: Sequence[frozenset[int]], n_evidence: int, k: int) -> float:
    """1 when the top-k passages together hold every evidence string (multi-passage items need all)."""
    if n_evidence <= 0:
        return 0.0
    covered = frozenset().union(*held[:k]) if held[:k] else frozenset()
    return 1.0 if len(covered) >= n_evidence else 0.0


def reciprocal_rank(held: Sequence[frozenset[int]], k: int = RANK_DEPTH) -> float:
    """1/rank of the first passage holding any evidence within the top k, else 0."""
    for rank, h in enumerate(held[:k], start=1):
        if h:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(held: Sequence[frozenset[int]], n_relevant: int, k: int = RANK_DEPTH) -> float:
    """Binary-relevance nDCG@k: a passage is relevant when it holds any evidence.

    `n_relevant` is the number of relevant passages in the whole collection (the ideal ranking puts
    min(n_relevant, k) of them on top); it is raised to the number retrieved if it is lower."""
    rel = [1.0 if h else 0.0 for h in held[:k]]
    n_ideal = min(max(n_relevant, int(sum(rel))), k)
    if n_ideal == 0:
        return 0.0
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel))
    idcg = sum(1.0 / math.log2(i + 2) for i in range(n_ideal))
    return dcg / idcg


def retrieval_scores(passages: Sequence[str], evidences: Sequence[str], n_relevant: int | None = None,
                     ks: Sequence[int] = KS) -> dict[str, float]:
    held = held_evidence(passages, evidences)
    scores = {f"hit@{k}": hit_at_k(held, len(evidences), k) for k in ks}
    scores[f"mrr@{RANK_DEPTH}"] = reciprocal_rank(held)
    scores[f"ndcg@{RANK_DEPTH}"] = ndcg_at_k(held, n_relevant if n_relevant is not None else 0)
    return scores


# ---------------------------------------------------------------------------------------- answers


def contains_all(answer: str, must_contain: Sequence[str]) -> bool:
    a = squash(answer)
    return bool(must_contain) and all(squash(m) in a for m in must_contain)


@dataclass(frozen=True)
class AnswerScores:
    accuracy: float
    citation_precision: float | None  # None where not defined (unanswerable or refused)
    citation_recall: float | None


def answer_scores(answerable: bool, must_contain: Sequence[str], evidences: Sequence[str], answer: str,
                  answered: bool, cited_passages: Sequence[str]) -> AnswerScores:
    """Accuracy: an answerable item is right when it is answered and holds every must_contain string;
    an unanswerable item is right when it is refused. Citation precision/recall are scored on answered,
    answerable items only; an answer with no citation scores 0 on both (an uncited answer is a defect)."""
    if not answerable:
        return AnswerScores(1.0 if not answered else 0.0, None, None)
    accuracy = 1.0 if answered and contains_all(answer, must_contain) else 0.0
    if not answered:
        return AnswerScores(accuracy, None, None)
    held = held_evidence(cited_passages, evidences)
    precision = sum(1 for h in held if h) / len(held) if held else 0.0
    covered = frozenset().union(*held) if held else frozenset()
    recall = len(covered) / len(evidences) if evidences else 0.0
    return AnswerScores(accuracy, precision, recall)


# ---------------------------------------------------------------------------------------- records


@dataclass
class ItemRecord:
    """One question's outcome for one system: what the report and the aggregation read."""

    id: str
    question: str
    type: str
    lang: str
    answerable: bool
    must_contain: list[str]
    answer: str
    answered: bool
    accuracy: float
    citation_precision: float | None = None
    citation_recall: float | None = None
    n_citations: int = 0
    retrieval: dict[str, float] | None = None  # answerable items only
    timings_ms: dict[str, float] = field(default_factory=dict)  # search, retrieve, answer, total
    top5: list[dict] = field(default_factory=list)  # doc_number, section_path, text (first 80 chars)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ItemRecord":
        return cls(**d)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default; None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def summarise(records: Sequence[ItemRecord]) -> dict:
    """Headline figures over a set of records; a figure with no population is None."""
    ans = [r for r in records if r.answerable]
    unans = [r for r in records if not r.answerable]
    with_ret = [r.retrieval for r in ans if r.retrieval is not None]
    out: dict = {"n": len(records), "n_answerable": len(ans), "n_unanswerable": len(unans)}
    keys = [f"hit@{k}" for k in KS] + [f"mrr@{RANK_DEPTH}", f"ndcg@{RANK_DEPTH}"]
    for key in keys:
        out[key] = _mean(r[key] for r in with_ret)
    out["accuracy"] = _mean(r.accuracy for r in records)
    out["accuracy_answerable"] = _mean(r.accuracy for r in ans)
    answered = [r for r in ans if r.answered]
    # Of the answers given, the share holding every key string: what a user who gets an answer can trust.
    out["correct_among_answered"] = _mean(r.accuracy for r in answered)
    out["citation_precision"] = _mean(r.citation_precision for r in answered)
    out["citation_recall"] = _mean(r.citation_recall for r in answered)
    out["answered_rate"] = _mean(1.0 if r.answered else 0.0 for r in ans)
    out["refusal_rate"] = _mean(0.0 if r.answered or r.error else 1.0 for r in unans)
    # Context for accuracy: a long answer (the baseline's whole passage) holds key strings more easily.
    out["answer_chars_p50"] = percentile([float(len(r.answer)) for r in records if r.answered], 50)
    out["errors"] = sum(1 for r in records if r.error)
    return out


def latency(records: Sequence[ItemRecord]) -> dict[str, dict[str, float | None]]:
    """p50/p95 (ms) per stage seen in the records' timings."""
    stages = sorted({s for r in records for s in r.timings_ms})
    return {s: {"p50": percentile([r.timings_ms[s] for r in records if s in r.timings_ms], 50),
                "p95": percentile([r.timings_ms[s] for r in records if s in r.timings_ms], 95)}
            for s in stages}


def breakdown(records: Sequence[ItemRecord], key: Callable[[ItemRecord], str]) -> dict[str, dict]:
    groups: dict[str, list[ItemRecord]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return {k: summarise(v) for k, v in sorted(groups.items())}


def failures(records: Sequence[ItemRecord]) -> list[dict]:
    """Items answered wrongly (or that raised), with what was expected and what was retrieved."""
    return [{"id": r.id, "type": r.type, "lang": r.lang, "question": r.question, "expected": r.must_contain,
             "answer": r.answer, "answered": r.answered, "error": r.error, "top5": r.top5}
            for r in records if r.accuracy < 1.0 or r.error]
