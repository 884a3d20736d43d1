"""The trained answer-or-refuse decision: which candidate sentence answers, and whether to answer at all.

A model trained on the labelled questions (`qa train`, qa/evaluation/train.py) scores each candidate
sentence's features (qa/answer/features.py) with the probability that it holds the answer. Two models
of the same kind: `pre` reads the features known before embedding and chooses which sentences are
embedded; `main` reads all of them. The best candidate answers when its probability reaches the
threshold chosen on the training questions for a target precision; else the answer is a refusal.

The model ships as JSON (qa/answer/decision_model.json: the trees or the coefficients, the feature
names, the threshold and how it was chosen) and is evaluated here with numpy: no pickle, no
scikit-learn at answer time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("decision_model.json")
FORMAT_VERSION = 1


class ModelFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Scorer:
    """One fitted model over named features: gradient-boosted trees or a logistic regression."""

    kind: str  # "trees" | "linear"
    features: tuple[str, ...]
    params: dict

    def raw(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "linear":
            p = self.params
            z = (np.nan_to_num(x, nan=0.0) - np.asarray(p["mean"])) / np.asarray(p["scale"])
            return z @ np.asarray(p["coef"]) + float(p["intercept"])
        out = np.full(len(x), float(self.params["baseline"]))
        for tree in self.params["trees"]:
            out += _tree_values(tree, x)
        return out

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw(x)))

    @classmethod
    def from_dict(cls, d: dict) -> "Scorer":
        if d.get("kind") not in ("trees", "linear"):
            raise ModelFormatError(f"unknown model kind {d.get('kind')!r}")
        return cls(d["kind"], tuple(d["features"]), d["params"])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "features": list(self.features), "params": self.params}


def _tree_values(tree: dict, x: np.ndarray) -> np.ndarray:
    """Walk every row down one tree at once (nodes as parallel arrays, node 0 the root)."""
    feature = np.asarray(tree["feature"], dtype=np.int64)
    threshold = np.asarray(tree["threshold"], dtype=np.float64)
    left = np.asarray(tree["left"], dtype=np.int64)
    right = np.asarray(tree["right"], dtype=np.int64)
    missing_left = np.asarray(tree["missing_left"], dtype=bool)
    leaf = np.asarray(tree["leaf"], dtype=bool)
    value = np.asarray(tree["value"], dtype=np.float64)
    node = np.zeros(len(x), dtype=np.int64)
    rows = np.arange(len(x))
    for _ in range(64):  # deeper than any tree trained here
        active = ~leaf[node]
        if not active.any():
            break
        f = feature[node]
        v = x[rows, np.where(active, f, 0)]
        go_left = np.where(np.isnan(v), missing_left[node], v <= threshold[node])
        node = np.where(active, np.where(go_left, left[node], right[node]), node)
    return value[node]


@dataclass(frozen=True)
class Decision:
    """The shipped (or a fold's) decision: pre-selection model, main model, answer threshold."""

    pre: Scorer
    main: Scorer
    threshold: float
    meta: dict

    def pre_scores(self, rows: list[dict[str, float]]) -> np.ndarray:
        return self.pre.proba(_matrix(rows, self.pre.features)) if rows else np.zeros(0)

    def scores(self, rows: list[dict[str, float]]) -> np.ndarray:
        return self.main.proba(_matrix(rows, self.main.features)) if rows else np.zeros(0)

    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, **self.meta, "threshold": self.threshold,
                "pre": self.pre.to_dict(), "main": self.main.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Decision":
        if d.get("format") != FORMAT_VERSION:
            raise ModelFormatError(f"decision model format {d.get('format')!r}, expected {FORMAT_VERSION}")
        meta = {k: v for k, v in d.items() if k not in ("format", "threshold", "pre", "main")}
        return cls(Scorer.from_dict(d["pre"]), Scorer.from_dict(d["main"]), float(d["threshold"]), meta)

    def describe(self) -> dict:
        return {"method": self.meta.get("method"), "threshold": round(self.threshold, 4),
                "target_precision": self.meta.get("target_precision"), "trained_on": self.meta.get("trained_on")}


def _matrix(rows: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[float(r.get(n, np.nan)) for n in names] for r in rows], dtype=np.float64)


def load_decision(path: Path | str = MODEL_PATH) -> Decision:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"cannot read the answer decision model {path}: {exc}") from exc
    return Decision.from_dict(data)


@lru_cache(maxsize=1)
def shipped_decision() -> Decision:
    """The model shipped with the package (read once; a read-only data file)."""
    return load_decision(MODEL_PATH)
