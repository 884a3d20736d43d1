"""In-process latency on the eval questions: index load, search (query embedding included, cache
cold), and the stages of ask. Loopback-free: no server involved.

    .venv/bin/python benchmarks/search_latency.py [--index DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from qa.config import PROJECT_ROOT, Settings


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results" / "search_latency.md")
    args = ap.parse_args()
    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    from qa.index.search import HybridSearcher
    from qa.service import GazetteService, make_encoder

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    encoder = make_encoder(settings)  # model load is not index load: timed apart
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    from qa.answer.precompute import sentence_texts

    searcher = HybridSearcher.open(settings, encoder, sentence_texts=sentence_texts)
    load_s = time.perf_counter() - t0
    searcher.warm_up() if hasattr(searcher, "warm_up") else None
    questions = [json.loads(l)["question"] for l in (PROJECT_ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if l]
    search_ms, search_cpu_ms = [], []
    for q in questions:
        t, c = time.perf_counter(), time.process_time()
        searcher.search(q, top_k=5)
        search_ms.append((time.perf_counter() - t) * 1000)
        # CPU time of the whole process (every thread): what a busy shared machine does not inflate
        search_cpu_ms.append((time.process_time() - c) * 1000)
    service = GazetteService.load(settings)  # fresh caches for ask
    stages: dict[str, list[float]] = {}
    for q in questions:
        r = service.ask(q)
        for k, v in r.timings_ms.items():
            stages.setdefault(k, []).append(v)
    load_after = os.getloadavg()
    lines = [
        "# In-process latency (eval questions, 2-core CPU)", "",
        f"Encoder {getattr(encoder, 'variant', '?')} (settings: embedding_backend={settings.embedding_backend}, "
        f"quantize={settings.quantize}); index {settings.index_dir.name} built as "
        f"{searcher.store.manifest.encoder or '(unrecorded)'}. Machine load (1/5/15-min averages) "
        f"before {'/'.join(f'{x:.1f}' for x in load_before)}, after {'/'.join(f'{x:.1f}' for x in load_after)} "
        f"(this job alone is ~1-2 on {os.cpu_count()} cores).", "",
        f"- embedding model load (once per process): {model_s:.2f} s",
        f"- index load (FAISS + SQLite chunk store + BM25): {load_s:.2f} s ({len(searcher.store)} chunks)",
        f"- search, query embedding included, cache cold: p50 {pct(search_ms, 50):.1f} ms, p95 {pct(search_ms, 95):.1f} ms (n={len(search_ms)});"
        f" CPU time (all threads) p50 {pct(search_cpu_ms, 50):.1f} ms, p95 {pct(search_cpu_ms, 95):.1f} ms",
    ]
    for k, v in stages.items():
        lines.append(f"- ask stage `{k}`: p50 {pct(v, 50):.1f} ms, p95 {pct(v, 95):.1f} ms")
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
