"""`qa train --gate`: fit the answer gate (qa/answer/gate.py) on what the real answer path answered.

Every labelled question is asked through GazetteService.ask with the gate off (the answer decision as
configured: rules or trained); an answered one gives a row: the gate's features of that answer (the
chain's own trace) and its label, 1 when the question is answerable and the answer right by the eval's
own metric (answered and holding every key string, qa/evaluation/metrics.py), else 0 (a wrong answer, or
any answer to an unanswerable question). Refused questions give no row: the gate only turns answers
into refusals, so it cannot change them.

Model and threshold (rule fixed before the first cross-validated run, 2026-12-01 06:40 UTC): logistic
regression and a small regularised GBM are compared by leave-one-issue-out WITHIN the training
questions (inner out-of-fold probabilities); for each, the threshold is the out-of-fold probability that
maximises accuracy over all training questions (answerable: right iff answered right; unanswerable: right
iff refused; the questions the chain refuses anyway count at their fixed outcome). Version 2 (06:25 UTC,
after version 1's cross-validated accuracy gap of +0.045; read on the training folds: the GBM's accuracy
on its own training rows exceeds its inner out-of-fold accuracy by 0.022-0.047, the logistic's by
0.006-0.027): a method whose training gap (accuracy of the model refitted on all training rows at its
inner threshold, minus its inner out-of-fold accuracy) exceeds MAX_TRAINING_GAP is not kept; of the rest
the one of higher inner accuracy (ties: logistic, the simpler); none left: the one of smallest gap. It is
refitted on all training rows, with its own inner threshold. Ties between thresholds go to the lower one
(the gate refuses no more than it must).

Deterministic: questions sorted by id, fixed seeds, single-threaded fitting.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.decision import Scorer
from qa.answer.gate import GATE_FEATURES, AnswerGate
from qa.evaluation.fitting import fit_logistic, fit_trees, single_thread, write_model_file
from qa.evaluation.folds import corpus_issues, item_issues
from qa.evaluation.items import EvalItem
from qa.evaluation.metrics import answer_scores

GATE_METHODS = ("logistic", "gbm")
MAX_TRAINING_GAP = 0.02  # (below the report's 0.03: the held-out issue's shift comes on top of the inner optimism)


@dataclass
class GateRow:
    item: EvalItem
    issue: str  # the issue its fold is (its first)
    answered: bool
    features: dict[str, float] | None  # None: refused (no row for the gate)
    label: int  # 1: answerable and answered right
    cited: tuple[str, ...] = ()  # the cited sentences as the cross-encoder reads them (crossenc.pair_passage)

    @property
    def answerable(self) -> bool:
        return self.item.answerable


def collect(service, items: Sequence[EvalItem], progress: bool = True) -> list[GateRow]:
    """Ask every question through `service` (its gate off) and read the gate's rows off the answers."""
    from dataclasses import replace  # noqa: PLC0415

    from tqdm import tqdm  # noqa: PLC0415

    from qa.answer.crossenc import pair_passage  # noqa: PLC0415

    if service.chain_params.answer_gate is not None:
        service = service.with_params(replace(service.chain_params, answer_gate=None))
    issues = corpus_issues(items)
    out = []
    for item in tqdm(sorted(items, key=lambda i: i.id), desc="gate rows", unit="q", disable=not progress):
        r = service.ask(item.question)
        s = answer_scores(item.answerable, item.must_contain, item.evidence, r.answer, r.answered,
                          [c.hit.chunk.text for c in r.citations])
        feats = r.trace.get("gate_features") if r.answered else None
        out.append(GateRow(item, item_issues(item, issues)[0] if issues else "", r.answered,
                           dict(feats) if feats is not None else None, int(item.answerable and s.accuracy == 1.0),
                           tuple(pair_passage(c.hit.chunk, c.sentence) for c in r.citations) if r.answered else ()))
    return out


# ------------------------------------------------------------------------------------------- fitting


def _matrix(rows: Sequence[GateRow], names: Sequence[str] = GATE_FEATURES) -> np.ndarray:
    return np.array([[float(r.features.get(n, math.nan)) for n in names] for r in rows], dtype=np.float64)


def fit_scorer(method: str, rows: Sequence[GateRow], names: tuple[str, ...] = GATE_FEATURES) -> Scorer:
    x, y = _matrix(rows, names), np.array([r.label for r in rows])
    if y.min() == y.max():
        raise ValueError("gate rows of one class only: need right and wrong answers to train on")
    if method == "logistic":
        return fit_logistic(x, y, names, c=0.3)
    if method == "gbm":  # small and regularised: some 600-800 answered questions per training fold
        return fit_trees(x, y, names, max_iter=60, learning_rate=0.05, max_leaf_nodes=6, min_samples_leaf=25,
                         l2_regularization=2.0)
    raise ValueError(f"unknown gate method {method!r}; known: {', '.join(GATE_METHODS)}")


def choose_threshold(rows: Sequence[GateRow], probs: Sequence[float]) -> tuple[float, float]:
    """The threshold on the answered rows' probabilities maximising accuracy over all `rows` (the refused
    ones at their fixed outcome: right when unanswerable). Ties: the lower threshold. Returns (t, accuracy)."""
    n = len(rows)
    if not n:
        return 0.0, 0.0
    fixed = sum(1 for r in rows if r.features is None and not r.answerable)
    answered = sorted(((p, r) for p, r in zip(probs, (r for r in rows if r.features is not None))),
                      key=lambda t: (-t[0], t[1].item.id))
    # threshold above every probability: every answer refused -> right when unanswerable
    right = fixed + sum(1 for _, r in answered if not r.answerable)
    best_acc, best_t = right / n, 1.0
    for k, (p, r) in enumerate(answered):
        right += r.label - (0 if r.answerable else 1)  # answered: right iff label 1; an unanswerable one is lost
        if k + 1 < len(answered) and answered[k + 1][0] == p:
            continue  # ties answer together
        if right / n >= best_acc:  # (>=: ties to the lower threshold)
            best_acc, best_t = right / n, p
    return math.floor(float(best_t) * 1e6) / 1e6, float(best_acc)


def accuracy_at(rows: Sequence[GateRow], probs: Sequence[float], t: float) -> dict:
    """Question-level figures of the gated answers at threshold t."""
    p_of = dict(zip((r.item.id for r in rows if r.features is not None), probs))
    ans = [r for r in rows if r.answerable]
    unans = [r for r in rows if not r.answerable]
    given = [r for r in rows if r.features is not None and p_of[r.item.id] >= t]
    ids = {r.item.id for r in given}
    right = sum(r.label for r in given) + sum(1 for r in unans if r.item.id not in ids)
    return {"accuracy": round(right / max(1, len(rows)), 4),
            "answered": round(sum(1 for r in ans if r.item.id in ids) / max(1, len(ans)), 4),
            "refused": round(sum(1 for r in unans if r.item.id not in ids) / max(1, len(unans)), 4),
            "right_among_answered": round(sum(r.label for r in given) / max(1, len(given)), 4)}


def out_of_fold(rows: Sequence[GateRow], method: str, names: tuple[str, ...] = GATE_FEATURES) -> list[float]:
    """Probabilities of the answered rows, each from the model fitted without its issue (row order kept)."""
    answered = [r for r in rows if r.features is not None]
    issues = sorted({r.issue for r in answered})
    if len(issues) < 2:
        scorer = fit_scorer(method, answered, names)
        return scorer.proba(_matrix(answered, names)).tolist()
    probs: dict[str, float] = {}
    for issue in issues:
        train = [r for r in answered if r.issue != issue]
        test = [r for r in answered if r.issue == issue]
        scorer = fit_scorer(method, train, names)
        probs.update(zip((r.item.id for r in test), scorer.proba(_matrix(test, names)).tolist()))
    return [probs[r.item.id] for r in answered]


def fit_gate(rows: Sequence[GateRow], methods: Sequence[str] = GATE_METHODS, decision: str = "rules",
             names: tuple[str, ...] = GATE_FEATURES) -> AnswerGate:
    """Compare the methods by inner leave-one-issue-out on `rows`, keep the better, refit it on all rows."""
    single_thread()
    rows = sorted(rows, key=lambda r: r.item.id)
    answered = [r for r in rows if r.features is not None]
    comparison, scorers = {}, {}
    for method in methods:
        oof = out_of_fold(rows, method, names)
        t, acc = choose_threshold(rows, oof)
        scorers[method] = fit_scorer(method, answered, names)
        own = accuracy_at(rows, scorers[method].proba(_matrix(answered, names)).tolist(), t)["accuracy"]
        comparison[method] = {"inner_threshold": t, **accuracy_at(rows, oof, t), "training_accuracy": own,
                              "training_gap": round(own - acc, 4)}
    kept = [m for m in methods if comparison[m]["training_gap"] <= MAX_TRAINING_GAP]
    best = max(kept, key=lambda m: (comparison[m]["accuracy"], m == "logistic")) if kept else \
        min(methods, key=lambda m: (comparison[m]["training_gap"], m != "logistic"))
    scorer = scorers[best]
    threshold = comparison[best]["inner_threshold"]
    digest = hashlib.sha256("\n".join(f"{r.item.id}\t{r.answered}\t{r.label}" for r in rows).encode()).hexdigest()[:16]
    meta = {"method": best, "decision": decision, "threshold_rule": "accuracy on inner out-of-fold probabilities",
            "selection": f"inner out-of-fold accuracy among methods of training gap <= {MAX_TRAINING_GAP}",
            "comparison": comparison,
            "no_gate": accuracy_at(rows, [1.0] * len(answered), 0.0),
            "trained_on": {"questions": len(rows), "answered": len(answered), "right": sum(r.label for r in answered),
                           "issues": sorted({r.issue for r in rows}), "data_sha256": digest},
            "features": list(names)}
    return AnswerGate(scorer, threshold, meta)


def write_gate(gate: AnswerGate, path: Path | str) -> Path:
    return write_model_file(gate.to_dict(), path)
