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

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.scoring import ModelFormatError, Scorer, read_model_file  # noqa: F401  (the model format's scorer; re-exported)

MODEL_PATH = Path(__file__).with_name("decision_model.json")
FORMAT_VERSION = 1


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
    return Decision.from_dict(read_model_file(path, "answer decision model"))


@lru_cache(maxsize=1)
def shipped_decision() -> Decision:
    """The model shipped with the package (read once; a read-only data file)."""
    return load_decision(MODEL_PATH)
