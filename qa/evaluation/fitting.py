"""Fitting the models `qa.scoring.Scorer` evaluates (a logistic regression, gradient-boosted trees) and
writing a trained model file: what `qa train` (answer decision), `qa train --gate` and `qa train-ranker`
share. Deterministic: fixed seed, one thread."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from qa.scoring import Scorer

SEED = 0


def fit_logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float) -> Scorer:
    """Logistic regression on standardised inputs; missing values read as 0, as Scorer evaluates them."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    x = np.nan_to_num(x, nan=0.0)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit((x - mean) / scale, y)
    return Scorer("linear", names, {"mean": [float(v) for v in mean], "scale": [float(v) for v in scale],
                                    "coef": [float(v) for v in clf.coef_[0]], "intercept": float(clf.intercept_[0])})


def fit_trees(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], **params) -> Scorer:
    """scikit-learn's HistGradientBoostingClassifier (binary), exported tree by tree as Scorer reads trees."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415

    clf = HistGradientBoostingClassifier(**params, early_stopping=False, random_state=SEED)
    clf.fit(x, y)
    trees = []
    for (pred,) in clf._predictors:  # binary: one tree per iteration
        n = pred.nodes
        trees.append({"feature": n["feature_idx"].astype(int).tolist(),
                      "threshold": [float(t) for t in n["num_threshold"]],  # exact: thresholds are data values
                      "left": n["left"].astype(int).tolist(), "right": n["right"].astype(int).tolist(),
                      "missing_left": n["missing_go_to_left"].astype(bool).tolist(),
                      "leaf": n["is_leaf"].astype(bool).tolist(),
                      "value": [float(v) for v in n["value"]]})
    return Scorer("trees", names, {"baseline": float(np.ravel(clf._baseline_prediction)[0]), "trees": trees})


def write_model_file(model: dict, path: Path | str) -> Path:
    """A model's JSON, written whole or not at all (a temporary file renamed over the old one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def single_thread() -> None:
    """Fitting on one thread: the histogram sums then add up in one order (a bit-identical model)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415

        threadpool_limits(1)
    except ImportError:
        pass
