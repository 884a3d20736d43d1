"""A fitted model over named features (gradient-boosted trees or a logistic regression) as plain JSON,
evaluated with numpy: what the trained answer decision and the learned retrieval ranker both ship."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class ModelFormatError(ValueError):
    pass


def read_model_file(path: Path | str, what: str) -> dict:
    """A shipped model's JSON; an unreadable file is a ModelFormatError naming `what` it is."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"cannot read the {what} {path}: {exc}") from exc


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
    """Walk every row down one tree at once (nodes as parallel arrays, node 0 the root); each step moves
    only the rows not yet at a leaf."""
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
        at = node[rows]
        inner = ~leaf[at]
        rows, at = rows[inner], at[inner]
        if not rows.size:
            break
        v = x[rows, feature[at]]
        go_left = np.where(np.isnan(v), missing_left[at], v <= threshold[at])
        node[rows] = np.where(go_left, left[at], right[at])
    return value[node]
