"""Fusion of dense and BM25 scores over a candidate set (both methods kept; the eval set picks)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class FusionParams:
    method: Literal["rrf", "weighted"] = "weighted"  # best of the two in a first check on eval/questions.jsonl
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: float = 60.0


def ranks(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
    """1-based rank by descending score among `present` entries; +inf for the others."""
    out = np.full(len(scores), np.inf)
    idx = np.flatnonzero(present)
    order = idx[np.argsort(-scores[idx], kind="stable")]
    out[order] = np.arange(1, len(order) + 1)
    return out


def rrf(dense: np.ndarray, bm25: np.ndarray, p: FusionParams) -> np.ndarray:
    """Reciprocal rank fusion; a chunk with BM25 score 0 matched no query token and gets no BM25 term."""
    rd = ranks(dense, np.ones(len(dense), bool))
    rb = ranks(bm25, bm25 > 0)
    return p.dense_weight / (p.rrf_k + rd) + p.bm25_weight / (p.rrf_k + rb)


def weighted(dense: np.ndarray, bm25: np.ndarray, p: FusionParams) -> np.ndarray:
    """Weighted sum of per-query normalised scores: dense min-max over the candidates (cosines bunch
    up in a narrow band), BM25 divided by its max (0 stays 'no lexical match')."""
    if len(dense) == 0:
        return np.zeros(0)
    span = float(dense.max() - dense.min())
    dn = (dense - dense.min()) / span if span > 0 else np.ones_like(dense)
    bmax = float(bm25.max())
    bn = bm25 / bmax if bmax > 0 else np.zeros_like(bm25)
    return p.dense_weight * dn + p.bm25_weight * bn


def fuse(dense: np.ndarray, bm25: np.ndarray, p: FusionParams) -> np.ndarray:
    dense = np.asarray(dense, np.float64)
    bm25 = np.asarray(bm25, np.float64)
    if p.method == "rrf":
        return rrf(dense, bm25, p)
    if p.method == "weighted":
        return weighted(dense, bm25, p)
    raise ValueError(f"unknown fusion method {p.method!r}; expected 'rrf' or 'weighted'")
