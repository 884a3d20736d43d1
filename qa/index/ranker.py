"""Learned re-ranking of the fused candidates: per-candidate features and a small model trained on labelled questions.

Hybrid search fuses dense and BM25 scores by a hand-set weighted sum; with QA_RANKER=learned the best
`top_n` fused candidates are reordered by a model (`qa train-ranker`, qa/evaluation/rank_train.py)
scoring each (question, chunk) pair's features: the dense and BM25 scores and ranks, the fused score,
the chunk's kind, how much of the question's content words its text, section heading and document title
hold, and whether it is of a year the question names. The route tiers (a named document number, a named
person) still come first: the model orders within them, so an exact match is never ranked below a guess.

The model ships as JSON (qa/index/ranker_model.json: the trees, the feature names, how it was trained)
and is scored with numpy (qa.scoring.Scorer): no scikit-learn at query time.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.corpus.normalize import normalize_for_search
from qa.models import Chunk
from qa.scoring import ModelFormatError, Scorer, read_model_file

MODEL_PATH = Path(__file__).with_name("ranker_model.json")
FORMAT_VERSION = 1
TOP_N = 40  # fused candidates the model reorders (the rest follow in fused order)

FEATURES: tuple[str, ...] = (
    "dense", "dense_gap", "dense_rank", "bm25", "bm25_norm", "bm25_rank", "fused", "fused_gap", "fused_pos",
    "tier", "card_of_named_doc", "is_card", "is_personnel", "is_table",
    "cov_text", "cov_text_gap", "cov_heading", "cov_title", "bigram_text", "bigram_text_gap", "bigram_heading_title",
    "year_named", "year_match", "chars", "lang_en", "cue_document", "cue_person", "cue_number", "cue_date",
    "n_terms",
    # v3: the question's best e5 cosine with one of the candidate's stored answer sentences (NaN: none stored), its
    # gap to the best candidate's and its rank: a passage whose one sentence answers reads closer than its whole
    "sent_max", "sent_max_gap", "sent_max_rank",
)

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
NO_RANK = 100.0  # rank feature of a candidate the method did not match at all (BM25 score 0)


@dataclass(frozen=True)
class QueryView:
    """What the features read of the question (computed once per query)."""

    terms: tuple[tuple[str, ...], ...]  # content words, each with its alternatives (English: Chinese terms)
    bigrams: frozenset[str]  # character bigrams of the Chinese content
    years: tuple[int, ...]
    lang_en: bool
    cues: frozenset[str]


def query_view(content: str, tokens: Sequence[str], groups, years: Sequence[int], lang: str, cues,
               stopwords: frozenset[str]) -> QueryView:
    """`tokens`: the query's jieba tokens; `groups`: an English query's Chinese term groups (BM25Query.groups)."""
    if groups:
        terms = tuple(tuple(t for t, _ in g if t) for g in groups if g)
    else:
        terms = tuple((t,) for t in dict.fromkeys(tokens) if t not in stopwords and (len(t) >= 2 or t.isdigit()))
    bigrams = frozenset(run[i:i + 2] for run in _CJK_RUN.findall(content) for i in range(len(run) - 1))
    return QueryView(tuple(t for t in terms if t), bigrams, tuple(years), lang == "en", frozenset(cues))


def _coverage(terms: tuple[tuple[str, ...], ...], text: str) -> float:
    if not terms:
        return 0.0
    return sum(1 for alts in terms if any(a in text for a in alts)) / len(terms)


def _bigram_share(bigrams: frozenset[str], text: str) -> float:
    return sum(1 for b in bigrams if b in text) / len(bigrams) if bigrams else 0.0


def _ranks(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = np.full(len(scores), NO_RANK)
    idx = np.flatnonzero(present)
    order = idx[np.argsort(-scores[idx], kind="stable")]
    out[order] = np.arange(1, len(order) + 1)
    return out


def candidate_features(view: QueryView, chunks: Sequence[Chunk], dense: np.ndarray, bm25: np.ndarray,
                       fused: np.ndarray, tiers: np.ndarray, card_first: Sequence[int],
                       sentence_max: np.ndarray | None = None) -> np.ndarray:
    """One row of FEATURES per candidate; the candidates given in fused order (tiers first), best first.
    `sentence_max`: the question's best cosine with each candidate's stored sentences (None or NaN: none)."""
    n = len(chunks)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    dense, bm25, fused = (np.asarray(a, np.float64) for a in (dense, bm25, fused))
    bmax = float(bm25.max())
    text = [c.search_text.lower() for c in chunks]
    head = [normalize_for_search(" ".join(c.section_path)).lower() for c in chunks]
    title = [normalize_for_search(c.doc_title).lower() for c in chunks]
    cov = np.array([_coverage(view.terms, t) for t in text])
    sent = np.full(n, np.nan) if sentence_max is None else np.asarray(sentence_max, np.float64)
    known = ~np.isnan(sent)
    sent_gap = np.where(known, np.nanmax(sent) - sent, np.nan) if known.any() else sent
    sent_rank = np.where(known, _ranks(np.where(known, sent, -np.inf), known), np.nan)
    big = np.array([_bigram_share(view.bigrams, t) for t in text])
    cols = {
        "dense": dense, "dense_gap": dense.max() - dense, "dense_rank": _ranks(dense, np.ones(n, bool)),
        "bm25": bm25, "bm25_norm": bm25 / bmax if bmax > 0 else np.zeros(n), "bm25_rank": _ranks(bm25, bm25 > 0),
        "fused": fused, "fused_gap": fused.max() - fused, "fused_pos": np.arange(1, n + 1, dtype=np.float64),
        "tier": np.asarray(tiers, np.float64), "card_of_named_doc": np.asarray(card_first, np.float64),
        "is_card": np.array([c.chunk_type == "card" for c in chunks], np.float64),
        "is_personnel": np.array([c.chunk_type == "personnel" for c in chunks], np.float64),
        "is_table": np.array([c.chunk_type == "table" for c in chunks], np.float64),
        "cov_text": cov, "cov_text_gap": cov.max() - cov,
        "cov_heading": np.array([_coverage(view.terms, h) for h in head]),
        "cov_title": np.array([_coverage(view.terms, t) for t in title]),
        "bigram_text": big, "bigram_text_gap": big.max() - big,
        "bigram_heading_title": np.array([_bigram_share(view.bigrams, h + t) for h, t in zip(head, title)]),
        "year_named": np.full(n, float(bool(view.years))),
        # NaN when the question names no year: "no year asked" is not "the wrong year"
        "year_match": np.array([float(c.year in view.years) if view.years else np.nan for c in chunks]),
        "chars": np.array([len(c.text) for c in chunks], np.float64),
        "lang_en": np.full(n, float(view.lang_en)),
        **{f"cue_{k}": np.full(n, float(k in view.cues)) for k in ("document", "person", "number", "date")},
        "n_terms": np.full(n, float(len(view.terms))),
        "sent_max": sent, "sent_max_gap": sent_gap, "sent_max_rank": sent_rank,
    }
    return np.column_stack([cols[f] for f in FEATURES])


_NODE_DTYPES = {"feature": np.int64, "threshold": np.float64, "left": np.int64, "right": np.int64,
                "missing_left": bool, "leaf": bool, "value": np.float64}


@dataclass(frozen=True)
class LearnedRanker:
    """The shipped (or a fold's) ranker: a Scorer over FEATURES and how many fused candidates it reorders."""

    scorer: Scorer
    top_n: int
    meta: dict

    def __post_init__(self) -> None:
        # The trees' node lists as arrays once, not on every query (~200 trees x 7 lists): the same numbers.
        params = self.scorer.params
        if self.scorer.kind == "trees":
            params = {**params, "trees": [{k: np.asarray(v, dtype=_NODE_DTYPES[k]) for k, v in t.items()}
                                          for t in params["trees"]]}
        object.__setattr__(self, "_fast", Scorer(self.scorer.kind, self.scorer.features, params))

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.scorer.features != FEATURES:  # a model of another feature set would read the wrong columns
            index = {f: k for k, f in enumerate(FEATURES)}
            missing = [f for f in self.scorer.features if f not in index]
            if missing:
                raise ModelFormatError(f"ranker model reads features this code does not compute: {missing}")
            x = x[:, [index[f] for f in self.scorer.features]]
        return self._fast.raw(x)

    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, "top_n": self.top_n, **self.meta, "model": self.scorer.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "LearnedRanker":
        if d.get("format") != FORMAT_VERSION:
            raise ModelFormatError(f"ranker model format {d.get('format')!r}, expected {FORMAT_VERSION}")
        meta = {k: v for k, v in d.items() if k not in ("format", "top_n", "model")}
        return cls(Scorer.from_dict(d["model"]), int(d["top_n"]), meta)

    def describe(self) -> dict:
        return {"ranker": "learned", "method": self.meta.get("method"), "top_n": self.top_n,
                "trained_on": self.meta.get("trained_on")}


def load_ranker(path: Path | str = MODEL_PATH) -> LearnedRanker:
    return LearnedRanker.from_dict(read_model_file(path, "ranker model"))


@lru_cache(maxsize=1)
def shipped_ranker() -> LearnedRanker:
    """The model shipped with the package (read once; a read-only data file)."""
    return load_ranker(MODEL_PATH)
