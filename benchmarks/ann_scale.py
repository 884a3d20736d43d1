"""How the FAISS index types behave at a scale far beyond the 5 shipped issues.

Synthetic data, not real embeddings: N unit vectors in 384 dims (multilingual-e5-small's size),
clustered with low intrinsic dimension like text embeddings: C cluster centres with uneven (Zipf-like)
sizes; each point = centre + spread * B_c z (z a 32-dim Gaussian latent, B_c the cluster's own random
basis) + a little isotropic noise, L2-normalised. A cluster is then a patch that IVF's k-means splits
over ~10 cells, so a query's true neighbours straddle cell borders and recall@10 depends on nprobe as
it does on real data. (Isotropic blobs, tried first, gave recall 1.0 at any nprobe: every cluster fell
into one cell; uniform random vectors make all neighbours equally far.) Queries are 200 fresh points
from the same distribution (not in the index).

Measured per index: build time (train + add), RSS growth while building, serialised size, single-query
latency p50/p95 (one query per call, as the service searches), recall@10 against exact search.
HNSW is built by adding batches until a time budget is spent, so on 2 cores it may cover only part
of the vectors; the table says how many, and its recall is measured against exact search over that
same part.

    python benchmarks/ann_scale.py                 # full run (~10 min on 2 cores)
    python benchmarks/ann_scale.py --n 100000      # quick look
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "ann_scale.md"


def release_freed_memory() -> None:
    """Hand memory freed by the previous index back to the OS, so the next RSS delta is its own."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def clustered(
    rng: np.random.Generator, n: int, centres: np.ndarray, bases: np.ndarray, weights: np.ndarray, spread: float, noise: float
) -> np.ndarray:
    """Points near low-dimensional patches: centre + spread * (latent z mapped by the cluster's own basis)
    + a little isotropic noise, then normalised."""
    n_clusters, dim = centres.shape
    latent = bases.shape[2]
    out = np.empty((n, dim), np.float32)
    which = rng.choice(n_clusters, size=n, p=weights)
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(n_clusters + 1))
    for c in range(n_clusters):
        idx = order[bounds[c] : bounds[c + 1]]
        if len(idx) == 0:
            continue
        z = rng.standard_normal((len(idx), latent), dtype=np.float32)
        out[idx] = centres[c] + np.float32(spread / np.sqrt(latent)) * (z @ bases[c].T)
    for lo in range(0, n, 100_000):
        block = out[lo : lo + 100_000]
        block += np.float32(noise / np.sqrt(dim)) * rng.standard_normal(block.shape, dtype=np.float32)
        faiss.normalize_L2(block)
    return out


def make_data(n: int, dim: int, n_clusters: int, n_queries: int, spread: float, noise: float, latent: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    faiss.normalize_L2(centres)
    bases = rng.standard_normal((n_clusters, dim, latent), dtype=np.float32) / np.float32(np.sqrt(dim))
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.5  # uneven cluster sizes, like topics in a corpus
    weights /= weights.sum()
    xb = clustered(rng, n, centres, bases, weights, spread, noise)
    xq = clustered(rng, n_queries, centres, bases, weights, spread, noise)
    return xb, xq


def exact_topk(xb: np.ndarray, xq: np.ndarray, k: int) -> np.ndarray:
    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(xb)
    _, ids = index.search(xq, k)
    return ids


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth)]))


def serialized_mb(index: faiss.Index) -> float:
    with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR", "/tmp"), suffix=".index") as fh:
        faiss.write_index(index, fh.name)
        return os.path.getsize(fh.name) / 1e6


def latencies_ms(index: faiss.Index, xq: np.ndarray, k: int, params=None) -> tuple[np.ndarray, np.ndarray]:
    ids = np.empty((len(xq), k), np.int64)
    times = []
    for i in range(len(xq)):
        t = time.perf_counter()
        _, I = index.search(xq[i : i + 1], k, params=params)
        times.append((time.perf_counter() - t) * 1000)
        ids[i] = I[0]
    return np.array(times), ids


@dataclass
class Row:
    index: str
    params: str
    n: int
    train_s: float
    add_s: float
    rss_mb: float
    size_mb: float
    p50_ms: float
    p95_ms: float
    recall: float


def bench_flat(xb, xq, truth, k) -> list[Row]:
    release_freed_memory()
    r0 = rss_mb()
    t = time.perf_counter()
    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(xb)
    add_s = time.perf_counter() - t
    rss = rss_mb() - r0
    lat, ids = latencies_ms(index, xq, k)
    size = xb.nbytes / 1e6  # a flat index is the raw vectors
    row = Row("flat (exact)", "-", len(xb), 0.0, add_s, rss, size, *np.percentile(lat, [50, 95]), recall_at_k(ids, truth))
    del index
    return [row]


def bench_ivf(xb, xq, truth, k, nlist: int, nprobes: list[int], sq8: bool, train_n: int) -> list[Row]:
    dim = xb.shape[1]
    release_freed_memory()
    r0 = rss_mb()
    quantizer = faiss.IndexFlatIP(dim)
    if sq8:
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 15
    rng = np.random.default_rng(1)
    sample = xb[np.sort(rng.choice(len(xb), size=min(train_n, len(xb)), replace=False))]
    t = time.perf_counter()
    index.train(sample)
    train_s = time.perf_counter() - t
    del sample
    t = time.perf_counter()
    index.add(xb)
    add_s = time.perf_counter() - t
    rss = rss_mb() - r0
    size = serialized_mb(index)
    name = "IVF-SQ8" if sq8 else "IVF-Flat"
    rows = []
    for nprobe in nprobes:
        lat, ids = latencies_ms(index, xq, k, faiss.SearchParametersIVF(nprobe=nprobe))
        rows.append(Row(name, f"nlist={nlist} nprobe={nprobe}", len(xb), train_s, add_s, rss, size,
                        *np.percentile(lat, [50, 95]), recall_at_k(ids, truth)))
    del index
    return rows


def bench_hnsw(xb, xq, k, m: int, ef_construction: int, ef_searches: list[int], budget_s: float) -> list[Row]:
    dim = xb.shape[1]
    release_freed_memory()
    r0 = rss_mb()
    index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    step = 50_000
    t = time.perf_counter()
    n = 0
    while n < len(xb):
        index.add(xb[n : n + step])
        n = min(n + step, len(xb))
        elapsed = time.perf_counter() - t
        if elapsed + elapsed / n * step > budget_s:  # the next batch would overrun the budget
            break
    add_s = time.perf_counter() - t
    rss = rss_mb() - r0
    size = serialized_mb(index)
    truth = exact_topk(xb[:n], xq, k)
    rows = []
    for ef in ef_searches:
        lat, ids = latencies_ms(index, xq, k, faiss.SearchParametersHNSW(efSearch=ef))
        rows.append(Row("HNSW-Flat", f"M={m} efC={ef_construction} efSearch={ef}", n, 0.0, add_s, rss, size,
                        *np.percentile(lat, [50, 95]), recall_at_k(ids, truth)))
    del index
    return rows


def markdown(rows: list[Row], header: str) -> str:
    lines = [
        header, "",
        "| index | params | vectors | train s | add s | RSS Δ MB | size MB | p50 ms | p95 ms | recall@10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.index} | {r.params} | {r.n:,} | {r.train_s:.1f} | {r.add_s:.1f} | {r.rss_mb:.0f} | {r.size_mb:.0f} "
            f"| {r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.recall:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--spread", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--flat-queries", type=int, default=50, help="exact search is slow: time only this many")
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    ap.add_argument("--train-n", type=int, default=64_000)
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--hnsw-ef-construction", type=int, default=40)
    ap.add_argument("--hnsw-ef-search", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--hnsw-budget-s", type=float, default=150.0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["flat", "ivf", "sq8", "hnsw"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    faiss.omp_set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    t_all = time.perf_counter()
    t = time.perf_counter()
    xb, xq = make_data(args.n, args.dim, args.clusters, args.queries, args.spread, args.noise, args.latent, seed=0)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    truth = exact_topk(xb, xq, args.k)
    truth_s = time.perf_counter() - t
    first = np.einsum("ij,ij->i", xq, xb[truth[:, 0]])
    last = np.einsum("ij,ij->i", xq, xb[truth[:, -1]])
    spread_note = f"mean cosine of a query to its true 1st / {args.k}th neighbour: {first.mean():.3f} / {last.mean():.3f}"
    print(f"data {gen_s:.1f}s, exact top-{args.k} for {args.queries} queries {truth_s:.1f}s; {spread_note}", flush=True)

    rows: list[Row] = []
    if "flat" not in args.skip:
        rows += bench_flat(xb, xq[: args.flat_queries], truth[: args.flat_queries], args.k)
        print(markdown(rows[-1:], ""), flush=True)
    if "ivf" not in args.skip:
        rows += bench_ivf(xb, xq, truth, args.k, args.nlist, args.nprobe, sq8=False, train_n=args.train_n)
        print(markdown(rows[-len(args.nprobe):], ""), flush=True)
    if "sq8" not in args.skip:
        rows += bench_ivf(xb, xq, truth, args.k, args.nlist, args.nprobe, sq8=True, train_n=args.train_n)
        print(markdown(rows[-len(args.nprobe):], ""), flush=True)
    if "hnsw" not in args.skip:
        rows += bench_hnsw(xb, xq, args.k, args.hnsw_m, args.hnsw_ef_construction, args.hnsw_ef_search, args.hnsw_budget_s)
        print(markdown(rows[-len(args.hnsw_ef_search):], ""), flush=True)

    header = (
        f"# ANN at scale: {args.n:,} synthetic clustered vectors, dim {args.dim}\n\n"
        f"{args.clusters} clusters (Zipf-like sizes, {args.latent}-dim latent patches, spread {args.spread}, noise {args.noise}), "
        f"{args.queries} held-out queries (exact flat timed on {min(args.flat_queries, args.queries)}), "
        f"k={args.k}, {args.threads} threads, faiss {faiss.__version__}. Latency: one query per call. "
        f"RSS Δ: resident memory growth while building (the vectors themselves are {xb.nbytes / 1e6:.0f} MB and "
        f"already resident). Recall@{args.k} against exact inner-product search. IVF trained on "
        f"{min(args.train_n, args.n):,} sampled vectors. HNSW gets a {args.hnsw_budget_s:.0f} s build budget; "
        f"its row says how many vectors it indexed in that time and its recall is against exact search over those.\n\n"
        f"{spread_note.capitalize()}. Load average at start / end: {load_start:.1f} / {os.getloadavg()[0]:.1f} "
        "(other jobs shared the 2 cores; latencies are pessimistic).\n\n"
        f"Total run time {time.perf_counter() - t_all:.0f} s (data {gen_s:.0f} s, ground truth {truth_s:.0f} s)."
    )
    md = markdown(rows, header)
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md, encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
