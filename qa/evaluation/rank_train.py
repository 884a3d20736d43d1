"""`qa train-ranker`: fit the learned re-ranking of the fused candidates (qa/index/ranker.py) on labelled questions.

Each answerable question is searched as `search` does with the fusion order; its best fused candidates
(within the route tiers) become rows of features, labelled 1 when the chunk holds any of the question's
evidence strings (qa.evaluation.metrics.held_evidence: the relevance the eval scores hit@k and MRR by).
Questions whose candidates are all relevant or all not teach no order and are left out. The model is a
pointwise gradient-boosted classifier (scikit-learn), exported as trees in JSON.

Training questions and model: the eval questions of the training issues, with or without the template
questions (eval/training_questions.jsonl) of those issues; the model a gradient-boosted classifier of two
sizes or a logistic regression (MODELS). Which set and model are used is chosen on the training issues
alone: leave one training issue out at a time, fit on the rest, score the held-out issue's eval questions'
MRR@10; of the choices within SIMPLER_WITHIN of the best, the simplest (MODELS and TRAINING_SETS order).
(v1 chose the set only, with the large GBM: its in-sample minus cross-validated gap was 0.037-0.038 on
hit@5 and MRR@10, over issue 12's 0.03; v2 lets the training issues choose a smaller model.)

v3 (2026-12-03, criterion fixed before its first cross-validated run) adds the question's best e5 cosine with a
candidate's stored answer sentences (sent_max, its gap and rank; qa/index/ranker.py). Measured by
`qa eval --cv issue --decision rules --ranker learned` against v2's run on the same index
(eval/reports/cv-rank-base14): v3 is kept if its pooled MRR@10 is above v2's and its in-sample minus
cross-validated gaps on hit@5 and MRR@10 are both <= 0.03. It becomes the default order only if, besides,
its pooled hit@5 and MRR@10 are both above fusion's, the rules' accuracy is not below fusion's, search p95
<= 50 ms, and the search and answer tests pass with it on.

Deterministic: questions sorted by id, rows in fused order, a fixed seed, single-threaded fitting.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.evaluation.fitting import fit_logistic, fit_trees, write_model_file
from qa.evaluation.folds import corpus_issues, item_issues
from qa.evaluation.items import EvalItem
from qa.evaluation.metrics import held_evidence
from qa.index.ranker import FEATURES, TOP_N, LearnedRanker
from qa.scoring import Scorer

TRAINING_SETS = ("eval", "eval+templates")
# Fixed before the first CV run of v1 (see its commit message): small trees, many rows per question.
GBM_PARAMS = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40,
              "l2_regularization": 1.0}
# v2 (fixed before its CV run): simplest first.
MODELS = {"logistic": {"C": 1.0},
          "gbm-small": {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 7, "min_samples_leaf": 200,
                        "l2_regularization": 1.0},
          "gbm": GBM_PARAMS}
SIMPLER_WITHIN = 0.005  # inner-CV MRR@10 a simpler choice may lose to the best and still be taken


@dataclass
class RankRows:
    item: EvalItem
    issue: str  # its fold (its first issue)
    x: np.ndarray  # candidates x FEATURES, in fused order
    labels: np.ndarray  # 1: the candidate holds evidence

    @property
    def informative(self) -> bool:
        return 0 < int(self.labels.sum()) < len(self.labels)


def is_template(item: EvalItem) -> bool:
    """A template question generated for training (ids t0001…), never in the eval figures."""
    return item.id.startswith("t") and item.id[1:].isdigit()


def extract(searcher, items: Sequence[EvalItem], progress: bool = True) -> list[RankRows]:
    """Candidate features and labels for every answerable question, sorted by id (the searcher orders by fusion)."""
    from tqdm import tqdm  # noqa: PLC0415

    searcher = searcher.with_ranker(None)
    issues = corpus_issues(items)
    out = []
    for item in tqdm(sorted((i for i in items if i.answerable), key=lambda i: i.id), desc="ranking features",
                     unit="q", disable=not progress):
        chunks, x = searcher.ranking_candidates(item.question)
        held = held_evidence([c.text for c in chunks], item.evidence)
        labels = np.array([1 if h else 0 for h in held], dtype=np.int64)
        out.append(RankRows(item, item_issues(item, issues)[0] if issues else "", x, labels))
    return out


# ------------------------------------------------------------------------------------------- fitting


def fit_scorer(data: Sequence[RankRows], model: str = "gbm") -> Scorer:
    used = [q for q in data if q.informative]
    if not used:
        raise ValueError("no question with both relevant and irrelevant candidates to learn an order from")
    x = np.vstack([q.x for q in used])
    y = np.concatenate([q.labels for q in used])
    if model == "logistic":
        return fit_logistic(x, y, FEATURES, c=MODELS[model]["C"])
    if model not in MODELS:
        raise ValueError(f"unknown ranker model {model!r}; known: {', '.join(MODELS)}")
    return fit_trees(x, y, FEATURES, **MODELS[model])


def reordered_mrr(data: Sequence[RankRows], scorer: Scorer | None, depth: int = 10) -> float:
    """MRR@depth of the eval questions' candidates reordered by `scorer` within the route tiers (None: fused
    order): the ranking-level figure the training set is chosen by (no year-diverse or card rule)."""
    tier, card = FEATURES.index("tier"), FEATURES.index("card_of_named_doc")
    total, n = 0.0, 0
    for q in data:
        if is_template(q.item):
            continue
        n += 1
        if not len(q.labels):
            continue
        s = scorer.raw(q.x) if scorer is not None else -np.arange(len(q.labels), dtype=np.float64)
        order = sorted(range(len(s)), key=lambda j: (-q.x[j, tier], -q.x[j, card], -s[j], j))
        for rank, j in enumerate(order[:depth], start=1):
            if q.labels[j]:
                total += 1.0 / rank
                break
    return total / n if n else 0.0


def choose(data: Sequence[RankRows]) -> tuple[tuple[str, str], dict]:
    """(training set, model) by inner leave-one-issue-out MRR@10 over the training issues' eval questions: the
    simplest within SIMPLER_WITHIN of the best."""
    issues = sorted({q.issue for q in data if not is_template(q.item)})
    n = sum(1 for q in data if not is_template(q.item) and q.issue in issues)
    sets = TRAINING_SETS if any(is_template(q.item) for q in data) else TRAINING_SETS[:1]
    choices = [(m, t) for m in MODELS for t in sets]  # simplest first
    figures: dict[str, float] = {}
    for model, tset in choices:
        total = 0.0
        for issue in issues:
            train = [q for q in data if q.issue != issue and (tset != "eval" or not is_template(q.item))]
            test = [q for q in data if q.issue == issue and not is_template(q.item)]
            if any(q.informative for q in train) and test:
                total += reordered_mrr(test, fit_scorer(train, model)) * len(test)
        figures[f"{model}/{tset}"] = round(total / n, 4) if n else 0.0
    best = max(figures.values())
    model, tset = next(c for c in choices if figures[f"{c[0]}/{c[1]}"] >= best - SIMPLER_WITHIN)
    return (tset, model), figures


def fit(data: Sequence[RankRows], choose_model: bool = True, model: str = "gbm",
        training_set: str = "eval+templates") -> LearnedRanker:
    """The ranker fitted on `data` (eval and template questions): training set and model chosen by inner
    leave-one-issue-out (`choose_model`), else the given ones."""
    data = sorted(data, key=lambda q: q.item.id)
    inner: dict = {}
    if choose_model and len({q.issue for q in data if not is_template(q.item)}) >= 2:
        (training_set, model), inner = choose(data)
    used = [q for q in data if training_set != "eval" or not is_template(q.item)]
    scorer = fit_scorer(used, model)
    digest = hashlib.sha256("\n".join(f"{q.item.id}\t{q.item.question}\t{int(q.labels.sum())}\t{len(q.labels)}"
                                      for q in used).encode()).hexdigest()[:16]
    meta = {"method": model, "params": MODELS[model], "training_set": training_set, "inner_cv_mrr@10": inner,
            "trained_on": {"questions": len(used), "informative": sum(q.informative for q in used),
                           "issues": sorted({q.issue for q in used}), "rows": int(sum(len(q.labels) for q in used)),
                           "data_sha256": digest},
            "in_sample_mrr@10": {"fusion": round(reordered_mrr(used, None), 4),
                                 "learned": round(reordered_mrr(used, scorer), 4)}}
    return LearnedRanker(scorer, TOP_N, meta)


def write_model(ranker: LearnedRanker, path: Path | str) -> Path:
    return write_model_file(ranker.to_dict(), path)


__all__ = ["MODELS", "RankRows", "choose", "extract", "fit", "fit_scorer", "reordered_mrr", "write_model"]
