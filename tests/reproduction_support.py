"""A fresh training run measured against the shipped model it must reproduce (the trained decision, the answer
gate, the learned ranker).

The shipped models are fitted on data read through the real index. Where a fresh run reads the same data (the
same digest) it must give the same model: the tests then compare within 1e-6. The index's vectors are not the
same on every CPU, though: ONNX Runtime picks its kernels by CPU (AVX2, AVX-512 VNNI), their float rounding
differs in the last bits, and dynamic quantisation of the activations turns a few of those bits into different
vectors. Near-tied retrieval ranks and a few answers move (2026-12-03, an AVX-512 VNNI machine against the AVX2
kind the shipped data came from: the rules answered 824 of the 1001 eval questions, 558 of them right, against
827 and 554; retrieval hit@5 0.953 against 0.948).
Exact equality cannot hold there, so a fresh run on the other kind must stay within the tolerances below.

They were set after one measurement, 2026-12-03, of a VNNI machine's fresh runs against the shipped models
(fitted on the AVX2 kind's data): the data counts moved by under 1 %, yet the fitted models moved more. The
gate's threshold moved 0.045 (0.427 → 0.472) and its answer/refuse calls agree on 0.967 of the rows; the
decision's threshold moved 0.065 (0.349 → 0.283) and its pre-selection puts the shipped model's top candidate
first on 0.927 of the questions; the ranker chose gbm-small over logistic (their inner scores are close) and
ranks the shipped model's top passage first on 0.936 of the questions. So the bounds below record that variance
(a disagreement about twice the largest measured, 0.073) rather than a target, and catch a change well beyond
it. The trained parts are this sensitive to a few moved rows, which is itself a finding (issue 12)."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

# Each recorded count of the training data (rows, positive rows, answered, right, …) within 2 % of the shipped one.
COUNT_TOLERANCE = 0.02
# The share of questions (rows, for the gate) on which the fresh model makes the shipped model's choice (the top
# candidate, or the answer/refuse call at each model's own threshold) on the fresh data.
AGREEMENT = 0.85


def same_data(fresh: Mapping, shipped: Mapping) -> bool:
    """Whether the fresh run read the shipped model's data (`trained_on`, digest included). When it did not, the
    data must still be close: the same questions and issues, every count within COUNT_TOLERANCE."""
    if dict(fresh) == dict(shipped):
        return True
    assert fresh["data_sha256"] != shipped["data_sha256"], (fresh, shipped)
    for key, recorded in shipped.items():
        if key == "data_sha256":
            continue
        if key in ("questions", "issues"):
            assert fresh[key] == recorded, (key, fresh[key], recorded)
        else:
            assert abs(fresh[key] - recorded) <= COUNT_TOLERANCE * recorded, (key, fresh[key], recorded)
    return False


def top_choice_agreement(fresh: Sequence[np.ndarray], shipped: Sequence[np.ndarray]) -> float:
    """The share of questions (one score array per question) whose best-scored candidate is the same under both."""
    pairs = [(f, s) for f, s in zip(fresh, shipped, strict=True) if len(f)]
    return float(np.mean([int(np.argmax(f)) == int(np.argmax(s)) for f, s in pairs]))


def split(scores: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Row scores cut back into one array per question."""
    return np.split(np.asarray(scores), np.cumsum(sizes)[:-1])


def int8_kernels() -> str:
    """Which of ONNX Runtime's int8 kernel families this CPU runs: "vnni" (AVX-512 VNNI or AVX-VNNI) or "avx2".
    The shipped models' data was read on the "avx2" kind. A few borderline answers differ between the kinds; the
    tests that assert one say which kind they hold on."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "avx2"
    return "vnni" if re.search(r"\b(?:avx512_vnni|avx_vnni)\b", flags) else "avx2"
