"""`qa train-ranker`: fit the learned re-ranking of the fused candidates (qa/index/ranker.py) on labelled questions.

Each answerable question is searched as `search` does with the fusion order; its best fused candidates
(within the route tiers) become rows of features, labelled 1 when the chunk holds any of the question's
evidence strings (qa.evaluation.metrics.held_evidence: the relevance the eval scores hit@k and MRR by).
Questions whose candidates are all relevant or all not teach no order and are left out. The model is a
pointwise gradient-boosted classifier (scikit-learn), exported as trees in JSON.

Training questions: the eval questions of the training issues, and the template questions
(eval/training_questions.jsonl) of those issues when they help. Which of the two sets is used is chosen
on the training issues alone (rule fixed before the first cross-validated run, see TRAINING_SETS):
leave one training issue out at a time, fit on the rest, and keep the set whose held-out eval questions
get the higher MRR@10 (ties: eval questions only, the smaller model of the two).

Deterministic: questions sorted by id, rows in fused order, a fixed seed, single-threaded fitting.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.evaluation.folds import corpus_issues, item_issues
from qa.evaluation.items import EvalItem
from qa.evaluation.metrics import held_evidence
from qa.index.ranker import FEATURES, TOP_N, LearnedRanker
from qa.scoring import Scorer

SEED = 0
TRAINING_SETS = ("eval", "eval+templates")
# Fixed before the first CV run (see the commit message): small trees, many rows per question.
GBM_PARAMS = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40,
              "l2_regularization": 1.0}


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


def fit_scorer(data: Sequence[RankRows]) -> Scorer:
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415

    used = [q for q in data if q.informative]
    if not used:
        raise ValueError("no question with both relevant and irrelevant candidates to learn an order from")
    x = np.vstack([q.x for q in used])
    y = np.concatenate([q.labels for q in used])
    clf = HistGradientBoostingClassifier(**GBM_PARAMS, early_stopping=False, random_state=SEED)
    clf.fit(x, y)
    trees = []
    for (pred,) in clf._predictors:  # binary: one tree per iteration
        n = pred.nodes
        trees.append({"feature": n["feature_idx"].astype(int).tolist(),
                      "threshold": [float(t) for t in n["num_threshold"]],
                      "left": n["left"].astype(int).tolist(), "right": n["right"].astype(int).tolist(),
                      "missing_left": n["missing_go_to_left"].astype(bool).tolist(),
                      "leaf": n["is_leaf"].astype(bool).tolist(),
                      "value": [float(v) for v in n["value"]]})
    return Scorer("trees", FEATURES, {"baseline": float(np.ravel(clf._baseline_prediction)[0]), "trees": trees})


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


def choose_training_set(data: Sequence[RankRows]) -> tuple[str, dict]:
    """'eval' or 'eval+templates', by inner leave-one-issue-out MRR@10 over the training issues' eval questions."""
    issues = sorted({q.issue for q in data if not is_template(q.item)})
    figures = {}
    for name in TRAINING_SETS:
        scores = []
        for issue in issues:
            train = [q for q in data if q.issue != issue and (name != "eval" or not is_template(q.item))]
            test = [q for q in data if q.issue == issue and not is_template(q.item)]
            if not any(q.informative for q in train) or not test:
                continue
            scores.append(reordered_mrr(test, fit_scorer(train)) * len(test))
        n = sum(1 for q in data if not is_template(q.item) and q.issue in issues)
        figures[name] = round(sum(scores) / n, 4) if n else 0.0
    best = max(TRAINING_SETS, key=lambda k: (figures[k], -TRAINING_SETS.index(k)))
    return best, figures


def fit(data: Sequence[RankRows], choose: bool = True) -> LearnedRanker:
    """The ranker fitted on `data` (eval and template questions): the training set chosen by inner CV when
    there are template questions and `choose`, else all of `data`."""
    data = sorted(data, key=lambda q: q.item.id)
    chosen, inner = "eval+templates", {}
    if choose and any(is_template(q.item) for q in data):
        chosen, inner = choose_training_set(data)
    used = [q for q in data if chosen != "eval" or not is_template(q.item)]
    scorer = fit_scorer(used)
    digest = hashlib.sha256("\n".join(f"{q.item.id}\t{q.item.question}\t{int(q.labels.sum())}\t{len(q.labels)}"
                                      for q in used).encode()).hexdigest()[:16]
    meta = {"method": "gbm", "gbm_params": GBM_PARAMS, "training_set": chosen, "inner_cv_mrr@10": inner,
            "trained_on": {"questions": len(used), "informative": sum(q.informative for q in used),
                           "issues": sorted({q.issue for q in used}), "rows": int(sum(len(q.labels) for q in used)),
                           "data_sha256": digest},
            "in_sample_mrr@10": {"fusion": round(reordered_mrr(used, None), 4),
                                 "learned": round(reordered_mrr(used, scorer), 4)}}
    return LearnedRanker(scorer, TOP_N, meta)


def write_model(ranker: LearnedRanker, path: Path | str) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(ranker.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


__all__ = ["RankRows", "choose_training_set", "extract", "fit", "fit_scorer", "reordered_mrr", "write_model"]
