"""`qa train`: fit the answer decision (qa/answer/decision.py) on the labelled questions.

Each question is retrieved as the chain retrieves it; every sentence of its passages becomes a row of
features (qa/answer/features.py) labelled 1 when it holds the question's evidence (or all its key
strings), 0 otherwise (every row of an unanswerable question is 0). A pre-selection model is fitted on
the features known before embedding; its best sentences per question are embedded and the main model
is fitted on all features.

The answer threshold (rule fixed before any cross-validated run of this version, 2026-12-01 03:15 UTC):
read from out-of-fold scores (leave one issue out within the training questions, so it is not set on
scores the model has already fitted), over the eval questions of the training issues only (the template
questions are all answerable and would bias it towards answering), it is the best candidate's probability
that maximises the decision's accuracy on them: an answerable question counts right when its best
candidate reaches the threshold and is right, an unanswerable one when its best candidate stays below it.
Ties go to the higher threshold (a refusal costs staff less trust than a wrong answer). That is
`--threshold-rule accuracy`; the default `calibrated` (rule fixed 2026-12-01 04:38 UTC, before its CV run)
reads the same out-of-fold scores through a Platt-style calibration instead: a multinomial logistic
regression on logit(p) gives P(right answer), P(wrong answer), P(unanswerable) for each p, and the
threshold is where P(right) = P(unanswerable) (answering as likely right as refusing), a crossing of two
curves fitted on all the questions rather than the arg-max of a flat curve. `--threshold-rule precision`
keeps the oldest rule (the lowest threshold reaching a target precision).

Only the questions whose outcome the threshold decides are read: a question the chain refuses before any
sentence is scored (an issue, document number or year no retrieved passage covers:
qa/answer/chain.py `refused_before_scoring`) is refused whatever its score (rule fixed 2026-12-01 06:46
UTC, in 9c3152f, 878b6cc before a rebase, before its CV run).

The trees' size (GBM_CONFIGS, fixed before any run of them, 2026-12-01 06:16 UTC) is the one of higher
accuracy on those same inner out-of-fold scores, at its own threshold (ties: the more regularised).

Deterministic: questions sorted by id, rows in passage order, fixed seeds, single-threaded fitting.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.answer.decision import Decision, Scorer, FORMAT_VERSION
from qa.answer.extractive import ExtractiveParams, candidate_rows, embed_rows
from qa.answer.features import BASE_FEATURES, FEATURES, Row
from qa.corpus.normalize import squash
from qa.evaluation.fitting import fit_logistic, fit_trees, single_thread, write_model_file  # noqa: F401 (single_thread: `qa train` and the CV read it here)
from qa.evaluation.folds import corpus_issues, item_issues
from qa.evaluation.items import EvalItem

METHODS = ("gbm", "logistic")
THRESHOLD_RULES = ("calibrated", "accuracy", "precision")
THRESHOLD_RULE = "calibrated"
TARGET_PRECISION = 0.95  # (the "precision" rule only)
TRAIN_CANDIDATES = 16  # sentences per question the main model is fitted on (more than the 10 embedded at answer time)
# The trees' sizes tried, fixed before any run of them; `fit` keeps the one of higher accuracy on the inner
# out-of-fold scores of the training questions (ties: the more regularised, listed first).
GBM_CONFIGS = {
    "regularised": {"max_iter": 100, "learning_rate": 0.06, "max_leaf_nodes": 7, "min_samples_leaf": 100,
                    "l2_regularization": 5.0},
    "default": {"max_iter": 150, "learning_rate": 0.06, "max_leaf_nodes": 15, "min_samples_leaf": 20,
                "l2_regularization": 1.0},
}
DEFAULT_CONFIG = "default"


@dataclass
class QuestionRows:
    item: EvalItem
    issue: str  # the issue its fold is (its first)
    rows: list[Row]
    labels: list[int]
    question: str = ""
    refused_upstream: bool = False  # the chain refuses it before scoring (an issue/document/year not covered)

    @cached_property
    def base_matrix(self) -> np.ndarray:
        """Its rows' pre-selection features as a matrix: built once, read by every fold's fits."""
        return _matrix([r.features for r in self.rows], BASE_FEATURES).reshape(len(self.rows), len(BASE_FEATURES))


def label_row(item: EvalItem, row: Row, passage_text: str) -> int:
    """1 when the sentence holds the evidence the passage holds for this question, or all its key strings."""
    if not item.answerable:
        return 0
    passage = squash(passage_text)
    evidence = [e for e in (squash(x) for x in item.evidence) if e and e in passage]
    if not evidence:
        return 0
    sent = squash(row.sentence.text)
    if any(e in sent or len(sent) >= 6 and sent in e for e in evidence):
        return 1
    keys = [squash(m) for m in item.must_contain if squash(m)]
    whole = squash(row.sentence.lead + row.sentence.text) if row.sentence.item else sent
    return int(bool(keys) and all(k in whole for k in keys) and any(k in sent for k in keys))


def retrieved_rows(service, question: str, params: ExtractiveParams, similarity=None):
    """The question's analysis, its retrieved passages and their candidate sentence rows, as at answer time."""
    from qa.question import analyse  # noqa: PLC0415

    info = analyse(question)
    if info.lang == "en":
        info.terms = service._english_terms(question)
    hits = service.search(question, top_k=max(service.settings.top_k, params.max_passages))
    return info, hits, candidate_rows(info, hits, params, similarity)


def extract(service, items: Sequence[EvalItem], params: ExtractiveParams = ExtractiveParams(),
            progress: bool = True) -> list[QuestionRows]:
    """Rows (features before embedding) and labels for every question, sorted by id."""
    from tqdm import tqdm  # noqa: PLC0415

    from qa.answer.chain import part_years, refused_before_scoring  # noqa: PLC0415

    issues = corpus_issues(items)
    # the passages' titles and headings are embedded with the rows, as at answer time
    similarity = service._similarity if hasattr(service.encoder, "similarity") else None
    out = []
    for item in tqdm(sorted(items, key=lambda i: i.id), desc="features", unit="q", disable=not progress):
        info, hits, rows = retrieved_rows(service, item.question, params, similarity)
        labels = [label_row(item, r, hits[r.hit_index].chunk.text) for r in rows]
        # (a question of several years is answered per year from its own passages: not judged here)
        upstream = len(part_years(info)) < 2 and refused_before_scoring(
            info, hits, list(service.searcher.routes(item.question).doc_numbers)) is not None
        out.append(QuestionRows(item, item_issues(item, issues)[0] if issues else "", rows, labels, item.question,
                                upstream))
    return out


# ------------------------------------------------------------------------------------------- fitting


def _fit_scorer(method: str, x: np.ndarray, y: np.ndarray, names: tuple[str, ...], config: str = DEFAULT_CONFIG) -> Scorer:
    if y.min() == y.max():
        raise ValueError("training rows of one class only: need answerable questions whose evidence is retrieved")
    if method == "gbm":
        return fit_trees(x, y, names, **GBM_CONFIGS[config])
    if method == "logistic":
        return fit_logistic(x, y, names, c=1.0)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def _matrix(rows: Sequence[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[float(r.get(n, np.nan)) for n in names] for r in rows], dtype=np.float64)


def _base_matrix(data: Sequence[QuestionRows]) -> np.ndarray:
    return np.vstack([q.base_matrix for q in data]) if data else np.zeros((0, len(BASE_FEATURES)))


def _pre_orders(data: Sequence[QuestionRows], pre: Scorer, k: int) -> list[list[int]]:
    """Per question, its best `k` rows by the pre-selection model (all rows scored in one batch)."""
    if not any(q.rows for q in data):
        allp = []
    elif tuple(pre.features) == tuple(BASE_FEATURES):
        allp = pre.proba(_base_matrix(data))
    else:
        allp = pre.proba(_matrix([r.features for q in data for r in q.rows], pre.features))
    out, at = [], 0
    for q in data:
        p = allp[at: at + len(q.rows)]
        at += len(q.rows)
        out.append(sorted(range(len(q.rows)), key=lambda i: (-p[i], i))[:k])
    return out


def _with_semantic(q: QuestionRows, order: list[int], params: ExtractiveParams, similarity) -> list[dict[str, float]]:
    """The rows `order` of a question with semantic features relative to that set (cosines are cached)."""
    from qa.answer.extractive import _embedded as embedded_text  # noqa: PLC0415
    from qa.answer.features import add_semantic  # noqa: PLC0415

    rows = [Row(q.rows[k].hit_index, q.rows[k].sentence, dict(q.rows[k].features)) for k in order]
    if similarity and rows:
        add_semantic(rows, similarity(q.question, [embedded_text(r.sentence)[: params.selection_max_chars] for r in rows]))
    return [r.features for r in rows]


def fit(data: Sequence[QuestionRows], method: str, similarity, params: ExtractiveParams = ExtractiveParams(),
        target_precision: float = TARGET_PRECISION, inner_cv: bool = True, rule: str = THRESHOLD_RULE,
        threshold_on: Callable[[QuestionRows], bool] | None = None, configs: Sequence[str] | None = None) -> Decision:
    """Fit pre-selection and main models on `data`; choose the threshold on out-of-fold scores of the
    questions `threshold_on` accepts (default: all but the template questions, ids t…). `configs`: the
    trees' sizes to choose among (default all of GBM_CONFIGS; the reproduction test refits the chosen one)."""
    threshold_on = threshold_on or is_eval_question
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; known: {', '.join(THRESHOLD_RULES)}")
    # The threshold is read off the questions whose outcome it decides: not those the chain refuses before
    # scoring (an issue, document or year no passage covers), whatever their score.
    keep = [k for k, q in enumerate(data) if threshold_on(q) and not q.refused_upstream] or list(range(len(data)))
    # The trees' size: the config of higher accuracy on the inner out-of-fold scores (training issues only).
    if method == "gbm" and inner_cv and len({q.issue for q in data}) >= 2:
        configs = list(configs or GBM_CONFIGS)
    else:
        configs = [DEFAULT_CONFIG]
    inner: dict[str, float] = {}
    best = None
    for config in configs:
        tops = _out_of_fold_tops(data, method, similarity, params, config) if inner_cv else None
        if tops is None:
            pre, main, _ = _fit_pair(data, method, similarity, params, config)
            tops = _tops(data, pre, main, similarity, params)
        picked = [tops[k] for k in keep]
        calibration = None
        if rule == "calibrated":
            threshold, achieved, calibration = choose_threshold_calibrated(picked, [data[k].item.answerable for k in keep])
        elif rule == "accuracy":
            threshold, achieved = choose_threshold_accuracy(picked, [data[k].item.answerable for k in keep])
        else:
            threshold, achieved = choose_threshold(picked, target_precision)
        inner[config] = round(question_accuracy(picked, threshold, [data[k].item.answerable for k in keep]), 4)
        if best is None or inner[config] > inner[best[0]]:
            best = (config, threshold, achieved, picked, calibration)
    config, threshold, achieved, picked, calibration = best
    pre, main, _ = _fit_pair(data, method, similarity, params, config)
    answerable = [data[k].item.answerable for k in keep]
    at = question_figures(picked, threshold, answerable)
    issues = sorted({q.issue for q in data})
    digest = hashlib.sha256("\n".join(f"{q.item.id}\t{q.question}\t{sum(q.labels)}" for q in data).encode()).hexdigest()[:16]
    meta = {"method": method, "gbm_config": config if method == "gbm" else None, "inner_accuracy": inner,
            "threshold_rule": rule, "target_precision": target_precision if rule == "precision" else None,
            "precision_at_threshold": at["right_among_answered"], "accuracy_at_threshold": round(achieved, 4) if rule in ("accuracy", "calibrated") else None,
            "calibration": calibration,
            "threshold_questions": len(keep), "at_threshold": at,
            "refused_before_scoring": sum(q.refused_upstream for q in data),
            "trained_on": {"questions": len(data), "issues": issues, "rows": sum(len(q.rows) for q in data),
                           "positive_rows": sum(sum(q.labels) for q in data), "data_sha256": digest},
            "features": list(FEATURES)}
    return Decision(pre, main, threshold, meta)


def _fit_pair(data: Sequence[QuestionRows], method: str, similarity, params: ExtractiveParams,
              config: str = DEFAULT_CONFIG):
    base_y = np.array([lab for q in data for lab in q.labels])
    pre = _fit_scorer(method, _base_matrix(data), base_y, BASE_FEATURES, config)
    main_rows, main_y = [], []
    for q, order in zip(data, _pre_orders(data, pre, TRAIN_CANDIDATES)):
        main_rows += _with_semantic(q, order, params, similarity)
        main_y += [q.labels[k] for k in order]
    main = _fit_scorer(method, _matrix(main_rows, FEATURES), np.array(main_y), FEATURES, config)
    return pre, main, len(main_rows)


def _tops(data: Sequence[QuestionRows], pre: Scorer, main: Scorer, similarity, params: ExtractiveParams) -> list[tuple[float, int]]:
    """Per question: the best candidate's probability and whether it is right, as the answerer picks it
    (the pre-selection's best `semantic_candidates`, then the main model; all scored in one batch)."""
    orders = _pre_orders(data, pre, params.trained_candidates)
    feats = [_with_semantic(q, order, params, similarity) for q, order in zip(data, orders)]
    flat_rows = [f for fs in feats for f in fs]
    allp = main.proba(_matrix(flat_rows, main.features)) if flat_rows else []
    out, at = [], 0
    for q, order in zip(data, orders):
        p = allp[at: at + len(order)]
        at += len(order)
        if not len(order):
            out.append((0.0, 0))
            continue
        best = int(np.argmax(p))
        out.append((float(p[best]), q.labels[order[best]]))
    return out


def _out_of_fold_tops(data: Sequence[QuestionRows], method: str, similarity, params: ExtractiveParams,
                      config: str = DEFAULT_CONFIG) -> list[tuple[float, int]]:
    issues = sorted({q.issue for q in data})
    if len(issues) < 2:
        pre, main, _ = _fit_pair(data, method, similarity, params, config)
        return _tops(data, pre, main, similarity, params)
    out = []
    for issue in issues:
        train = [q for q in data if q.issue != issue]
        test = [q for q in data if q.issue == issue]
        pre, main, _ = _fit_pair(train, method, similarity, params, config)
        out.extend(_tops(test, pre, main, similarity, params))
    return out


def is_eval_question(q: QuestionRows) -> bool:
    """An eval question (not a template question generated for training: ids t0001…)."""
    return not (q.item.id.startswith("t") and q.item.id[1:].isdigit())


def choose_threshold_accuracy(tops: Sequence[tuple[float, int]], answerable: Sequence[bool]) -> tuple[float, float]:
    """The threshold on the best candidate's probability that maximises accuracy: answerable questions right
    when answered (p >= threshold) by a right candidate, unanswerable ones when refused. Ties: the higher
    threshold. Returns (threshold, accuracy)."""
    if not tops:
        return 0.5, 0.0
    n = len(tops)
    # candidate thresholds: each distinct probability (answer it and all above), or above every one (refuse all)
    ranked = sorted(zip(tops, answerable), key=lambda t: -t[0][0])
    refused_right = sum(1 for _, a in ranked if not a)  # threshold above every score: all refused
    best_acc, best_t = refused_right / n, 1.0
    right = refused_right
    for k, ((p, ok), a) in enumerate(ranked):
        right += (1 if ok else 0) if a else -1  # answering it: right if answerable and right; an unanswerable one is lost
        if k + 1 < n and ranked[k + 1][0][0] == p:
            continue  # ties answer together
        if right / n > best_acc:
            best_acc, best_t = right / n, p
    return math.floor(float(best_t) * 1e6) / 1e6, float(best_acc)


def question_accuracy(tops: Sequence[tuple[float, int]], threshold: float, answerable: Sequence[bool]) -> float:
    """Answerable questions answered right plus unanswerable ones refused, over all."""
    right = sum((p >= threshold and ok) if a else p < threshold for (p, ok), a in zip(tops, answerable))
    return right / max(1, len(tops))


def choose_threshold_calibrated(tops: Sequence[tuple[float, int]], answerable: Sequence[bool]) -> tuple[float, float, dict | None]:
    """Platt-style calibration of the best candidate's probability p into the chances of the three outcomes
    (answerable and the best candidate right / answerable and it wrong / unanswerable): a multinomial
    logistic regression on logit(p), fitted on the out-of-fold scores. Answering is right with
    P(right | p), refusing with P(unanswerable | p); the threshold is where they are equal (answer when
    answering is at least as likely right as refusing). The crossing of two smooth curves fitted on all the
    questions moves less from fold to fold than the arg-max of a flat accuracy curve. Falls back to the
    accuracy rule when the curves do not cross once (one outcome missing, or no slope).
    Returns (threshold, accuracy at it, the calibration's coefficients)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    if not tops:
        return 0.5, 0.0, None
    p = np.clip(np.array([t[0] for t in tops], dtype=np.float64), 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p)).reshape(-1, 1)
    outcome = np.array([(0 if ok else 1) if a else 2 for (_, ok), a in zip(tops, answerable)])
    if len(set(outcome.tolist()) & {0, 2}) < 2:
        t, acc = choose_threshold_accuracy(tops, answerable)
        return t, acc, None
    clf = LogisticRegression(C=1e4, max_iter=5000)  # hardly regularised: two parameters per outcome, hundreds of questions
    clf.fit(z, outcome)
    cls = [int(c) for c in clf.classes_]
    if len(cls) == 2:  # no wrong best candidate: binary, one row of coefficients for class 2 against class 0
        w = {0: 0.0, 2: float(clf.coef_[0][0])}
        b = {0: 0.0, 2: float(clf.intercept_[0])}
    else:
        w = {c: float(clf.coef_[i][0]) for i, c in enumerate(cls)}
        b = {c: float(clf.intercept_[i]) for i, c in enumerate(cls)}
    slope, offset = w[0] - w[2], b[0] - b[2]  # log P(right)/P(unanswerable) = offset + slope * z
    if slope <= 0:
        t, acc = choose_threshold_accuracy(tops, answerable)
        return t, acc, None
    z_star = -offset / slope
    threshold = math.floor(float(1.0 / (1.0 + math.exp(-z_star))) * 1e6) / 1e6
    right = sum((ok if a else 0) if pp >= threshold else (not a) for (pp, ok), a in zip(tops, answerable))
    calibration = {"method": "multinomial logistic on logit(p)", "classes": [
        ("right", "wrong", "unanswerable")[c] for c in cls], "coef": [w[c] for c in cls], "intercept": [b[c] for c in cls],
        "logit_threshold": round(z_star, 6)}
    return threshold, right / len(tops), calibration


def choose_threshold(tops: Sequence[tuple[float, int]], target: float) -> tuple[float, float]:
    """The lowest threshold at which the questions answered (best probability >= it) are right at least
    `target` of the time; if none reaches it, the one of highest precision. Returns (threshold, precision)."""
    ranked = sorted(tops, key=lambda t: -t[0])
    best_t, best_p = 1.0, 0.0
    right = 0
    chosen = None
    for n, (p, ok) in enumerate(ranked, 1):
        right += ok
        prec = right / n
        if n < len(ranked) and ranked[n][0] == p:
            continue  # ties answer together
        if prec >= target:
            chosen = (p, prec)
        if prec > best_p:
            best_t, best_p = p, prec
    if chosen is None:
        chosen = (best_t, best_p)
    return math.floor(float(chosen[0]) * 1e6) / 1e6, float(chosen[1])  # (rounded down: the question at it still answers)


# -------------------------------------------------------------------------------------- comparison


def question_figures(tops: Sequence[tuple[float, int]], threshold: float, answerable: Sequence[bool]) -> dict:
    """Decision-level figures: answered (answerable), refused (unanswerable), right among answered."""
    ans = [(p, ok) for (p, ok), a in zip(tops, answerable) if a]
    unans = [(p, ok) for (p, ok), a in zip(tops, answerable) if not a]
    answered = [(p, ok) for p, ok in tops if p >= threshold]
    return {"answered": round(sum(p >= threshold for p, _ in ans) / max(1, len(ans)), 4),
            "refused": round(sum(p < threshold for p, _ in unans) / max(1, len(unans)), 4),
            "right_among_answered": round(sum(ok for _, ok in answered) / max(1, len(answered)), 4),
            "top1_right_answerable": round(sum(ok for _, ok in ans) / max(1, len(ans)), 4)}


def compare_methods(data: Sequence[QuestionRows], similarity, params: ExtractiveParams = ExtractiveParams(),
                    target_precision: float = TARGET_PRECISION, methods: Sequence[str] = METHODS,
                    inner_cv: bool = True) -> dict:
    """Leave-one-issue-out at the decision level for each method: each fold's model and threshold fitted on
    the other issues (the threshold on inner out-of-fold scores, or with inner_cv False on the training
    issues' own scores, the cheaper), scored on the held-out issue."""
    issues = sorted({q.issue for q in data})
    result = {}
    for method in methods:
        tops, flags, per_fold = [], [], {}
        for issue in issues:
            train = [q for q in data if q.issue != issue]
            test = [q for q in data if q.issue == issue]
            d = fit(train, method, similarity, params, target_precision, inner_cv=inner_cv)
            t = _tops(test, d.pre, d.main, similarity, params)
            per_fold[issue] = {**question_figures(t, d.threshold, [q.item.answerable for q in test]),
                               "threshold": d.threshold}
            tops += t
            flags += [q.item.answerable for q in test]
        # pooled over questions: each held-out question judged by its own fold's threshold
        judged = []
        k = 0
        for issue in issues:
            n = sum(1 for q in data if q.issue == issue)
            th = per_fold[issue]["threshold"]
            judged += [(p >= th, ok, a) for (p, ok), a in zip(tops[k:k + n], flags[k:k + n])]
            k += n
        ans = [j for j in judged if j[2]]
        unans = [j for j in judged if not j[2]]
        given = [j for j in judged if j[0]]
        pooled = {"answered": round(sum(j[0] for j in ans) / max(1, len(ans)), 4),
                  "refused": round(sum(not j[0] for j in unans) / max(1, len(unans)), 4),
                  "right_among_answered": round(sum(j[1] for j in given) / max(1, len(given)), 4),
                  "top1_right_answerable": round(sum(j[1] for j in ans) / max(1, len(ans)), 4)}
        result[method] = {"pooled": pooled, "folds": per_fold, "threshold_on": "inner out-of-fold" if inner_cv else "training issues"}
    return result


def write_model(decision: Decision, path: Path | str) -> Path:
    return write_model_file(decision.to_dict(), path)


__all__ = ["FORMAT_VERSION", "METHODS", "QuestionRows", "choose_threshold", "compare_methods", "extract", "fit",
           "label_row", "write_model"]
