"""`qa train --crossenc`: fine-tune the answer cross-encoder (qa/answer/crossenc.py) on the labelled questions.

Pairs (fixed before any run, 2026-12-01 12:10 UTC): every question is retrieved as the chain retrieves it
(qa/evaluation/train.py `extract`: every sentence of its passages, labelled 1 when it holds the question's
evidence or all its key strings, every sentence of an unanswerable question 0); a question gives its
labelled-1 sentences (at most MAX_POSITIVES) and its most word-sharing labelled-0 ones (the `lexical`
feature, the hard near misses) up to PAIRS_PER_QUESTION in all; plus, for the eval questions, the first
sentence the rules' answer cites, labelled by whether that answer is right (the gate's own label: the
sentences the gate will read). The template questions of the same issues (eval/training_questions.jsonl)
add pairs; no pair of an issue outside the training issues is read.

Training (fixed before any run): the top TUNED_LAYERS layers and a linear head, binary cross-entropy,
AdamW (layers LR, head HEAD_LR, linear decay), EPOCHS epochs of batches of BATCH pairs in a seeded order;
the lower layers' outputs are computed once per distinct pair and reused by every model (they do not
train). The tuned weights are rounded to float16 as shipped before the model is used.

For the gate's training rows the cross-encoder's scores must not come from a model trained on those very
questions: `cross_fitted` splits the training issues into two halves, fits one model per half and scores
each half's rows with the other half's model (two-fold cross-fitting); the model that answers new
questions is fitted on all training issues.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.evaluation.items import EvalItem

TUNED_LAYERS = 2
EPOCHS = 1  # (one pass: six fits per cross-validation on two cores; set before any run)
BATCH = 16
LR = 5e-5
HEAD_LR = 1e-3
SEED = 0
THREADS = 2  # torch's intra-op threads while tuning and scoring (the gate's fitting pins BLAS to one)
PAIRS_PER_QUESTION = 6
MAX_POSITIVES = 2


@dataclass(frozen=True)
class Pair:
    qid: str
    issue: str  # the issue its fold is (its question's first)
    question: str
    passage: str  # qa.answer.crossenc.pair_passage: title, heading and sentence
    label: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.question, self.passage)


def candidate_pairs(service, items: Sequence[EvalItem], progress: bool = True) -> list[Pair]:
    """The retrieved sentences' pairs of every question (see the module's text), sorted by question id."""
    from qa.answer.crossenc import pair_passage  # noqa: PLC0415
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.evaluation.folds import corpus_issues, item_issues  # noqa: PLC0415
    from qa.evaluation.train import label_row, retrieved_rows  # noqa: PLC0415
    from tqdm import tqdm  # noqa: PLC0415

    params = ExtractiveParams()
    issues = corpus_issues(items)
    out: list[Pair] = []
    for item in tqdm(sorted(items, key=lambda i: i.id), desc="cross-encoder pairs", unit="q", disable=not progress):
        _, hits, rows = retrieved_rows(service, item.question, params)
        issue = item_issues(item, issues)[0] if issues else ""
        labelled = [(label_row(item, r, hits[r.hit_index].chunk.text), k, r) for k, r in enumerate(rows)]
        positives = [(k, r) for y, k, r in labelled if y == 1][:MAX_POSITIVES]
        negatives = sorted(((k, r) for y, k, r in labelled if y == 0),
                           key=lambda t: (-t[1].features.get("lexical", 0.0), t[0]))
        chosen = [(1, r) for _, r in positives] + [(0, r) for _, r in negatives[: PAIRS_PER_QUESTION - len(positives)]]
        seen = set()
        for y, r in chosen:
            passage = pair_passage(hits[r.hit_index].chunk, r.sentence.text)
            if passage not in seen:
                seen.add(passage)
                out.append(Pair(item.id, issue, item.question, passage, y))
    return out


def gate_pairs(rows) -> list[Pair]:
    """The first cited sentence of each answered gate row (qa/evaluation/train_gate.py), labelled as the row."""
    return [Pair(r.item.id, r.issue, r.item.question, r.cited[0], r.label) for r in rows
            if r.features is not None and r.cited]


class BottomCache:
    """The frozen lower layers' output of every distinct pair, computed once (batches of similar length)."""

    def __init__(self, model) -> None:
        self.model = model
        self.states: dict[tuple[str, str], np.ndarray] = {}

    def fill(self, pairs: Sequence[Pair], batch: int = 32, progress: bool = True) -> None:
        from tqdm import tqdm  # noqa: PLC0415

        import torch  # noqa: PLC0415

        torch.set_num_threads(THREADS)
        todo = sorted({p.key for p in pairs if p.key not in self.states}, key=lambda k: (len(k[0]) + len(k[1]), k))
        for i in tqdm(range(0, len(todo), batch), desc="cross-encoder lower layers", unit="batch",
                      disable=not progress or not todo):
            keys = todo[i:i + batch]
            enc = self.model.encode_pairs([k[0] for k in keys], [k[1] for k in keys])
            hidden = self.model.bottom(enc).numpy()
            lengths = enc["attention_mask"].sum(1).tolist()
            for k, h, n in zip(keys, hidden, lengths):
                self.states[k] = h[: int(n)].astype(np.float32, copy=True)

    def batch(self, keys: Sequence[tuple[str, str]]):
        """(hidden, mask) tensors of the given pairs, padded to the longest."""
        import torch  # noqa: PLC0415

        arrays = [self.states[k] for k in keys]
        width = max(a.shape[0] for a in arrays)
        hidden = np.zeros((len(arrays), width, arrays[0].shape[1]), dtype=np.float32)
        mask = np.zeros((len(arrays), width), dtype=np.int64)
        for j, a in enumerate(arrays):
            hidden[j, : a.shape[0]] = a
            mask[j, : a.shape[0]] = 1
        return torch.from_numpy(hidden), torch.from_numpy(mask)


def fit(base_dir: Path | str, pairs: Sequence[Pair], cache: BottomCache, progress: bool = True):
    """A cross-encoder fine-tuned on `pairs` (deterministic: seeded head, seeded order, sorted input)."""
    import torch  # noqa: PLC0415
    from tqdm import tqdm  # noqa: PLC0415

    from qa.answer.crossenc import AnswerCrossEncoder  # noqa: PLC0415

    pairs = sorted(pairs, key=lambda p: (p.qid, p.passage, p.label))
    labels = [p.label for p in pairs]
    if not pairs or min(labels) == max(labels):
        raise ValueError("cross-encoder pairs of one class only: need sentences that answer and ones that do not")
    cache.fill(pairs, progress=progress)
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    model = AnswerCrossEncoder(base_dir, TUNED_LAYERS, seed=SEED)
    for p in model.model.parameters():
        p.requires_grad_(False)
    layers = [p for layer in model.model.encoder.layer[model.split:] for p in layer.parameters()]
    for p in layers:
        p.requires_grad_(True)
    optimiser = torch.optim.AdamW([{"params": layers, "lr": LR}, {"params": model.head.parameters(), "lr": HEAD_LR}],
                                  weight_decay=0.01)
    steps = EPOCHS * math.ceil(len(pairs) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: max(0.0, 1.0 - s / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order_rng = np.random.RandomState(SEED)
    for layer in model.model.encoder.layer[model.split:]:
        layer.train()
    bar = tqdm(total=steps, desc="cross-encoder training", unit="batch", disable=not progress)
    for _epoch in range(EPOCHS):
        order = order_rng.permutation(len(pairs))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            hidden, mask = cache.batch([pairs[j].key for j in idx])
            logits = model.top(hidden, mask)
            loss = loss_fn(logits, torch.tensor([float(labels[j]) for j in idx]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            bar.update(1)
    bar.close()
    model.model.eval()
    for p in model.model.parameters():
        p.requires_grad_(False)
    model.round_to_shipped()
    digest = pairs_digest(pairs)[:16]
    model.meta = {"pairs": len(pairs), "positives": int(sum(labels)), "issues": sorted({p.issue for p in pairs}),
                  "questions": len({p.qid for p in pairs}), "data_sha256": digest, "tuned_layers": TUNED_LAYERS,
                  "epochs": EPOCHS, "batch": BATCH, "lr": LR, "head_lr": HEAD_LR, "seed": SEED}
    return model


def score_cached(model, cache: BottomCache, keys: Sequence[tuple[str, str]], batch: int = 64) -> list[float]:
    """The model's probabilities for pairs whose lower layers the cache holds (or computes now)."""
    import torch  # noqa: PLC0415

    missing = [Pair("", "", q, s, 0) for q, s in keys if (q, s) not in cache.states]
    if missing:
        cache.fill(missing, progress=False)
    out: list[float] = []
    with torch.no_grad():
        for i in range(0, len(keys), batch):
            hidden, mask = cache.batch(keys[i:i + batch])
            out.extend(torch.sigmoid(model.top(hidden, mask)).tolist())
    return out


def halves(issues: Sequence[str]) -> tuple[list[str], list[str]]:
    """The training issues split in two for cross-fitting (sorted, alternating)."""
    ordered = sorted(issues)
    return ordered[0::2], ordered[1::2]


def pairs_digest(pairs: Sequence[Pair]) -> str:
    """What a fit depends on besides the fixed settings: its pairs, order-free."""
    rows = sorted(f"{p.qid}\t{p.passage}\t{p.label}" for p in pairs)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def cross_fitted(base_dir, pairs: Sequence[Pair], cache: BottomCache, issues: Sequence[str], progress: bool = True,
                 fitted: dict[str, object] | None = None):
    """(model on all `issues`, {issue: the model fitted on the other half of the issues}) for two-fold cross-fitting.
    `fitted` keeps models by their pairs' digest: a fit is deterministic, so the folds of a cross-validation that
    share a half reuse its model instead of fitting it again."""
    fitted = {} if fitted is None else fitted

    def fit_once(subset: list[Pair]):
        key = pairs_digest(subset)
        if key not in fitted:
            fitted[key] = fit(base_dir, subset, cache, progress)
        return fitted[key]

    first, second = halves(issues)
    by_half = {}
    if first and second:
        for own, other in ((first, second), (second, first)):
            model = fit_once([p for p in pairs if p.issue in other])
            by_half.update((issue, model) for issue in own)
    full = fit_once([p for p in pairs if p.issue in set(issues)])
    return full, by_half


def held_out_comparison(factory, is_original) -> dict:
    """The three gates each fold fitted (with the cross-encoder's features, without them, the cross-encoder's
    alone) applied to the held-out issue's answers, pooled: the comparison the issue asks for. Exact for a
    gate, which only turns the ungated answer into a refusal."""
    from qa.answer.gate import crossenc_features  # noqa: PLC0415

    all_issues = sorted({r.issue for r in factory.rows()})
    outcomes: dict[str, list[tuple]] = {"with": [], "without": [], "alone": []}
    folds = []
    for comp in factory.comparisons:
        if sorted(comp["issues"]) == all_issues:
            continue  # the in-sample fit
        test = [r for r in factory.rows() if r.issue not in set(comp["issues"])]
        model, gates = comp["crossenc"], dict(zip(("with", "without", "alone"), comp["gates"]))
        cache = BottomCache(model)
        fold = {"held_out": sorted({r.issue for r in test})}
        for kind, gate in gates.items():
            got = []
            for r in test:
                given = False
                if r.features is not None:
                    ce = score_cached(model, cache, [(r.item.question, s) for s in r.cited])
                    given = gate.probability({**r.features, **crossenc_features(ce)}) >= gate.threshold
                got.append((r, given))
            outcomes[kind] += got
            fold[kind] = _figures(got)
        folds.append(fold)
    pooled = {kind: {"all": _figures(got), "original": _figures([g for g in got if is_original(g[0].item.id)]),
                     "new": _figures([g for g in got if not is_original(g[0].item.id)])} for kind, got in outcomes.items()}
    return {"pooled": pooled, "folds": folds}


def _figures(got: Sequence[tuple]) -> dict:
    ans = [(r, g) for r, g in got if r.answerable]
    unans = [(r, g) for r, g in got if not r.answerable]
    given = [(r, g) for r, g in got if g]
    right = sum(1 for r, g in ans if g and r.label) + sum(1 for r, g in unans if not g)
    return {"questions": len(got), "accuracy": round(right / max(1, len(got)), 4),
            "answered": round(sum(1 for _, g in ans if g) / max(1, len(ans)), 4),
            "refused": round(sum(1 for _, g in unans if not g) / max(1, len(unans)), 4),
            "right_among_answered": round(sum(1 for r, _ in given if r.label) / max(1, len(given)), 4)}
