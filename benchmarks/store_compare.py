"""LocalStore vs MilvusStore (Milvus Lite) on the bundled corpus, side by side in one run: insert
throughput (the same chunks and vectors written into each store), search latency p50/p95 (the full
hybrid search, query embedding included), and the eval figures (hit@5, MRR, accuracy, refusal) of
the same questions answered from each store.

    .venv/bin/python benchmarks/store_compare.py [--index DIR] [--milvus-uri PATH_OR_URL] [--limit N]

The local index is read from --index (built if missing); its chunks and vectors are copied into a
fresh Milvus collection (nothing re-embedded), so both stores hold identical data.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.config import PROJECT_ROOT, Settings

FIGURES = ("hit@5", "mrr@10", "accuracy", "citation_precision", "answered_rate", "refusal_rate")


def pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs), q))


def load_str() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None, help="local index dir (default: settings index_dir)")
    ap.add_argument("--milvus-uri", default=None, help="Milvus URI (default: a temp Milvus Lite file)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N eval questions")
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results" / "store_compare.md")
    args = ap.parse_args()

    from qa.answer.similarity import CachedEncoder
    from qa.evaluation.items import load_items
    from qa.evaluation.runner import evaluate
    from qa.evaluation.systems import ServiceSystem
    from qa.index.milvus_store import MilvusStore
    from qa.index.search import HybridSearcher
    from qa.index.store import IndexNotFoundError, LocalStore, write_index_dir, _params_of
    from qa.service import GazetteService, build_index, make_encoder

    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    tmp = Path(tempfile.mkdtemp(prefix="store-compare-"))
    uri = args.milvus_uri or str(tmp / "milvus.db")
    load_before = load_str()
    encoder = make_encoder(settings)
    try:
        local = LocalStore.load(settings.index_dir)
    except IndexNotFoundError:
        build_index(settings, encoder)
        local = LocalStore.load(settings.index_dir)
    data = local.stored()
    n = len(data.chunks)

    # ---- insert: the same chunks and vectors into each store, until it can answer a search
    t0 = time.perf_counter()
    write_index_dir(tmp / "local", data, local.manifest, _params_of(local.manifest))
    local_copy = LocalStore.load(tmp / "local")
    local_copy.use_lexical()
    local_insert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    milvus = MilvusStore.at(uri, "store_compare")
    milvus.drop()
    milvus.copy_from(local, settings.corpus_dir)
    milvus_insert_s = time.perf_counter() - t0

    items = load_items(PROJECT_ROOT / "eval" / "questions.jsonl", limit=args.limit)
    rows = []
    runs = {}
    for name, store, insert_s in (("local (FAISS flat + SQLite + bm25s)", local_copy, local_insert_s),
                                  ("milvus-lite (HNSW + BM25 function)", milvus, milvus_insert_s)):
        searcher = HybridSearcher(store, encoder, settings)
        searcher.warm_up()
        for item in items[:20]:  # untimed: first-use costs (caches, lazy tables) out of the figures
            searcher.search(item.question, top_k=5)
        ms = []
        for item in items:
            t = time.perf_counter()
            searcher.search(item.question, top_k=5)
            ms.append((time.perf_counter() - t) * 1000)
        # The service as GazetteService.load makes it (a fresh embedding cache per store: the answer
        # chain's sentence similarity reads it).
        cached = CachedEncoder(encoder)
        service = GazetteService(settings.model_copy(update={"store": "milvus" if store is milvus else "local"}),
                                 cached, HybridSearcher(store, cached, settings))
        run = evaluate(ServiceSystem(service), items)
        runs[name] = run.figures()["overall"]
        rows.append((name, insert_s, pct(ms, 50), pct(ms, 95)))
    load_after = load_str()

    names = list(runs)
    lines = [
        "# LocalStore vs MilvusStore (Milvus Lite), same chunks and vectors", "",
        f"{n} chunks of the bundled corpus, {len(items)} eval questions; encoder {getattr(encoder, 'variant', '?')}. "
        f"Machine load (1/5/15-min) before {load_before}, after {load_after} (2 shared cores).", "",
        "| store | insert (s) | chunks/s | search p50 (ms) | search p95 (ms) |", "|---|---|---|---|---|",
    ]
    for name, ins, p50, p95 in rows:
        lines.append(f"| {name} | {ins:.1f} | {n / ins:.0f} | {p50:.1f} | {p95:.1f} |")
    lines += ["", "Insert = write the store and make it searchable (local: FAISS + SQLite + vectors.npy written "
              "atomically, loaded, BM25 matrix built; Milvus Lite: upserts incl. the BM25 function's jieba analysis, "
              "flush, tables and parsed documents). Search = HybridSearcher.search, top 5, query embedding included.", "",
              "| figure | " + " | ".join(names) + " | difference |", "|---|---|---|---|"]
    for f in FIGURES:
        a, b = runs[names[0]].get(f), runs[names[1]].get(f)
        lines.append(f"| {f} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(json.dumps({"rows": rows, "figures": runs}, indent=2, default=float),
                                              encoding="utf-8")
    print(text)
    if not args.milvus_uri:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
