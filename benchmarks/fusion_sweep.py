"""Retrieval figures (hit@5, MRR@10) on the answerable eval questions for a grid of fusion and BM25
settings, per half of the set (a*** over 2020-02/2021-01/2021-04, b*** over 2022-03/2023-06).
Retrieval only (no answers): one searcher, its config swapped per row. Results: benchmarks/results/fusion.md.

    .venv/bin/python benchmarks/fusion_sweep.py [--index DIR] [--grid fusion|bm25|all]
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator

from qa.config import PROJECT_ROOT, Settings
from qa.evaluation.items import load_items
from qa.evaluation.metrics import retrieval_scores
from qa.index.fusion import FusionParams
from qa.index.lexical import LexicalParams
from qa.index.search import HybridSearcher, SearchConfig


def grid(which: str) -> Iterator[tuple[str, SearchConfig]]:
    base = SearchConfig()
    if which in ("fusion", "all"):
        for dw in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            yield f"weighted dense={dw} bm25=1", dataclasses.replace(base, fusion=FusionParams("weighted", dw, 1.0))
        for k in (10, 30, 60):
            for dw in (1.0, 1.5):
                yield f"rrf k={k} dense={dw} bm25=1", dataclasses.replace(base, fusion=FusionParams("rrf", dw, 1.0, k))
    if which in ("bm25", "all"):
        for k1 in (0.8, 1.0, 1.2, 1.5, 2.0):
            for b in (0.3, 0.4, 0.5, 0.6, 0.75, 0.9):
                yield f"bm25 k1={k1} b={b}", dataclasses.replace(base, lexical=LexicalParams(k1=k1, b=b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", default=None)
    ap.add_argument("--grid", choices=("fusion", "bm25", "all"), default="all")
    args = ap.parse_args()
    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    from qa.service import make_encoder

    encoder = make_encoder(settings)
    searcher = HybridSearcher.open(settings, encoder)
    searcher.warm_up()
    items = [i for i in load_items(PROJECT_ROOT / "eval" / "questions.jsonl") if i.answerable]
    print("| setting | hit@5 | MRR@10 | a hit@5 | a MRR | b hit@5 | b MRR |\n|---|---|---|---|---|---|---|")
    for label, config in grid(args.grid):
        if config.lexical != searcher.config.lexical:  # the BM25 matrix depends on k1/b: rebuilt (~0.5 s)
            searcher = HybridSearcher(searcher.store, encoder, settings, config, tokenizer=searcher.tokenizer)
        searcher.config = config
        rows = []
        for item in items:
            hits = searcher.search(item.question, top_k=10)
            rows.append((item.id[0], retrieval_scores([h.chunk.text for h in hits], item.evidence)))
        cells = []
        for half in (None, "a", "b"):
            sel = [s for h, s in rows if half is None or h == half]
            cells += [sum(s["hit@5"] for s in sel) / len(sel), sum(s["mrr@10"] for s in sel) / len(sel)]
        print(f"| {label} | " + " | ".join(f"{x:.3f}" for x in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
