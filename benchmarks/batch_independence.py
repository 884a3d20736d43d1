"""Does a text's vector depend on its batch? And what does embedding each text alone cost?

The default encoder (ONNX Runtime, dynamic int8 on every MatMul) quantises activations with one scale per
call. This embeds corpus chunks the old way (length-sorted batches of up to 32 texts and 1024 padded tokens)
and one text per call, alternating rounds, and reports passages/s (wall and CPU) and how far batched vectors
are from the same texts embedded alone.

    .venv/bin/python benchmarks/batch_independence.py --n 200 --rounds 3 --out benchmarks/results/batch_independence.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.corpus.chunker import chunk_corpus  # noqa: E402
from qa.embeddings.embedder import E5Embeddings  # noqa: E402


def batched(onnx, texts: list[str], max_n: int = 32, budget: int = 1024) -> np.ndarray:
    """The grouping E5Embeddings used before: longest first, at most max_n texts and `budget` padded tokens."""
    lens = np.array([len(x) for x in onnx.tokenize(texts)])
    order = np.argsort(-lens, kind="stable")
    out = np.empty((len(texts), onnx.dim), np.float32)
    start = 0
    while start < len(order):
        k = max(1, min(max_n, budget // int(lens[order[start]])))
        idx = order[start:start + k]
        out[idx] = onnx.encode([texts[i] for i in idx])
        start += k
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def alone(onnx, texts: list[str]) -> np.ndarray:
    out = np.vstack([onnx.encode([t]) for t in texts])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def timed(fn, *args):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="corpus chunks (every k-th, spread over the corpus)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    args = ap.parse_args()
    emb = E5Embeddings(Settings())
    if emb._onnx is None:
        sys.exit("needs the ONNX backend")
    chunks = chunk_corpus(ROOT / "corpus")
    step = max(1, len(chunks) // args.n)
    texts = [emb.settings.passage_prefix + c.embed_text for c in chunks[::step][: args.n]]
    rows = []
    for r in range(args.rounds):
        b, bw, bc = timed(batched, emb._onnx, texts)
        a, aw, ac = timed(alone, emb._onnx, texts)
        rows.append((r, len(texts) / bw, len(texts) / bc, len(texts) / aw, len(texts) / ac))
    cos = (a * b).sum(1)
    again = alone(emb._onnx, texts[:20])
    load = os.getloadavg()[0]
    lines = [
        f"# Batch independence of the default encoder ({emb.variant}, {len(texts)} corpus chunks)",
        "",
        f"`benchmarks/batch_independence.py --n {args.n} --rounds {args.rounds}`; 1-minute load at the end: {load:.1f} "
        f"on {os.cpu_count()} cores.",
        "",
        "| round | batched passages/s (wall) | batched per CPU-s | alone passages/s (wall) | alone per CPU-s |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {r} | {bw:.1f} | {bc:.1f} | {aw:.1f} | {ac:.1f} |" for r, bw, bc, aw, ac in rows],
        "",
        f"Batched vs alone, the same texts: cosine min {cos.min():.4f}, mean {cos.mean():.5f}; "
        f"{int((np.abs(a - b).max(1) == 0).sum())} of {len(texts)} vectors identical.",
        f"Alone, twice: max |difference| {np.abs(again - a[:20]).max():.1e} (deterministic).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
