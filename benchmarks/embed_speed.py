"""Embedding speed on gazette text: fp32 vs int8, threads, batch sizes, length sorting; optional ONNX
Runtime; and what that means for embedding the whole corpus.

    .venv/bin/python benchmarks/embed_speed.py                # ~1000 paragraphs, sweeps on 192
    .venv/bin/python benchmarks/embed_speed.py --n 300 --sweep 96 --onnx

Both wall-clock and CPU time are reported: on a shared machine wall time depends on the neighbours,
while passages per CPU-second (x cores) says what an idle machine would do.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.embeddings.embedder import DEFAULT_MAX_BATCH_TOKENS, E5Embeddings, quantize_int8  # noqa: E402


@dataclass
class Row:
    name: str
    threads: int
    batch: int
    n: int
    wall_s: float
    cpu_s: float
    tokens: int

    @property
    def per_s(self) -> float:
        return self.n / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.n / self.cpu_s


def paragraphs(corpus_dir: Path, n: int, lo: int, hi: int, seed: int = 0) -> list[str]:
    """Crude paragraphs: consecutive non-empty lines joined until >= lo chars, cut at hi."""
    out: list[str] = []
    for f in sorted(corpus_dir.glob("*.txt")):
        buf = ""
        for line in f.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            buf += line
            if len(buf) >= lo:
                out.append(buf[:hi])
                buf = ""
    rng = random.Random(seed)
    rng.shuffle(out)  # mixed lengths and files, as an indexing run sees them
    return out[:n]


def timed(fn) -> tuple[object, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    return res, time.perf_counter() - w0, time.process_time() - c0


def run_torch(emb: E5Embeddings, texts: list[str], threads: int, batch: int, sort: bool, name: str,
              max_batch_tokens: int = 10**9) -> tuple[Row, np.ndarray]:
    import torch

    torch.set_num_threads(threads)
    emb.settings.embed_batch_size = batch
    emb.max_batch_tokens = max_batch_tokens
    emb.encode_passages(texts[:4])  # warm-up
    tokens = sum(min(t, emb.max_seq_length or t) for t in emb.token_lengths([emb.settings.passage_prefix + t for t in texts]))
    if sort:
        vecs, wall, cpu = timed(lambda: emb.encode_passages(texts))
    else:
        def unsorted() -> np.ndarray:
            pre = [emb.settings.passage_prefix + t for t in texts]
            return np.concatenate([
                emb._model.encode(pre[i : i + batch], batch_size=batch, normalize_embeddings=True)
                for i in range(0, len(pre), batch)
            ])
        vecs, wall, cpu = timed(unsorted)
    return Row(name, threads, batch, len(texts), wall, cpu, tokens), np.asarray(vecs, dtype=np.float32)


def run_onnx(emb: E5Embeddings, texts: list[str], threads: int, batch: int, workdir: Path) -> dict[str, tuple[Row, np.ndarray]]:
    """Export the fp32 model to ONNX (torch exporter), quantise it dynamically (per channel) with
    onnxruntime, and run both with the same length-sorted batching."""
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    fp32_path, int8_path = workdir / "e5.onnx", workdir / "e5-int8.onnx"
    if not fp32_path.exists():
        bert = emb._model[0].auto_model.eval()
        ids = torch.randint(5, 1000, (2, 16))
        torch.onnx.export(
            Pooled(bert), (ids, torch.ones_like(ids)), str(fp32_path),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "embedding": {0: "b"}},
            opset_version=17, dynamo=False,
        )
    if not int8_path.exists():
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)

    tok = emb._model.tokenizer
    pre = [emb.settings.passage_prefix + t for t in texts]
    enc = tok(pre, truncation=True, max_length=emb.max_seq_length)["input_ids"]
    order = np.argsort([-len(e) for e in enc], kind="stable")
    out: dict[str, tuple[Row, np.ndarray]] = {}
    for label, path in (("onnx fp32", fp32_path), ("onnx int8", int8_path)):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

        def go() -> np.ndarray:
            vecs = np.empty((len(texts), emb.dim), dtype=np.float32)
            for s in range(0, len(texts), batch):
                idx = order[s : s + batch]
                L = max(len(enc[i]) for i in idx)
                ids = np.full((len(idx), L), tok.pad_token_id, dtype=np.int64)
                am = np.zeros((len(idx), L), dtype=np.int64)
                for r, i in enumerate(idx):
                    ids[r, : len(enc[i])] = enc[i]
                    am[r, : len(enc[i])] = 1
                vecs[idx] = sess.run(None, {"input_ids": ids, "attention_mask": am})[0]
            return vecs

        sess.run(None, {"input_ids": np.array([enc[0][:8]], dtype=np.int64), "attention_mask": np.ones((1, len(enc[0][:8])), dtype=np.int64)})
        vecs, wall, cpu = timed(go)
        out[label] = (Row(label, threads, batch, len(texts), wall, cpu, sum(len(e) for e in enc)), vecs)
    return out


def cos_stats(a: np.ndarray, b: np.ndarray) -> str:
    c = (a * b).sum(1)
    return f"min {c.min():.4f}  p1 {np.percentile(c, 1):.4f}  mean {c.mean():.4f}"


def print_table(rows: list[Row], ncpu: int) -> None:
    print(f"{'config':<30}{'thr':>4}{'bs':>5}{'n':>6}{'wall s':>9}{'pass/s':>9}{'pass/cpu-s':>12}{'idle est/s':>12}{'tok/s':>8}")
    for r in rows:
        idle = r.per_cpu_s * min(r.threads, ncpu)
        print(f"{r.name:<30}{r.threads:>4}{r.batch:>5}{r.n:>6}{r.wall_s:>9.1f}{r.per_s:>9.1f}{r.per_cpu_s:>12.1f}{idle:>12.1f}{r.tokens / r.wall_s:>8.0f}")


def corpus_estimate(emb: E5Embeddings, rates: dict[str, float]) -> None:
    """Token count of the real chunks (qa.corpus.chunker) and the time each measured rate implies."""
    try:
        from qa.corpus.chunker import chunk_corpus
    except ImportError:
        print("(no chunker: corpus estimate skipped)")
        return
    chunks = chunk_corpus(ROOT / "corpus")
    lens = emb.token_lengths([emb.settings.passage_prefix + c.embed_text for c in chunks])
    print(f"\ncorpus: {len(chunks)} chunks, embed_text chars mean {np.mean([len(c.embed_text) for c in chunks]):.0f}, "
          f"tokens mean {np.mean(lens):.0f} p90 {np.percentile(lens, 90):.0f} max {max(lens)}")
    print("estimated seconds to embed it (rate = tokens per CPU-second x cores, i.e. an idle machine):")
    print(f"  {'max_seq_length':<16}{'tokens':>8}{'truncated':>11}" + "".join(f"{k:>12}" for k in rates))
    for cap in (512, 384, 256):
        tot = sum(min(t, cap) for t in lens)
        print(f"  {cap:<16}{tot:>8}{sum(t > cap for t in lens):>11}" + "".join(f"{tot / r:>12.0f}" for r in rates.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="paragraphs for the fp32/int8 comparison")
    ap.add_argument("--sweep", type=int, default=192, help="paragraphs for the thread/batch sweeps (0 = none)")
    ap.add_argument("--min-chars", type=int, default=150)
    ap.add_argument("--max-chars", type=int, default=300)
    ap.add_argument("--threads", default="1,2", help="torch threads for the sweeps")
    ap.add_argument("--main-threads", type=int, default=0, help="torch threads for the fp32/int8 comparison (0 = all cores)")
    ap.add_argument("--batches", default="8,16,32,64")
    ap.add_argument("--onnx", action="store_true", help="also export and time ONNX Runtime fp32/int8 (needs onnxruntime, onnx)")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()

    ncpu = os.cpu_count() or 1
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    texts = paragraphs(ROOT / "corpus", args.n, args.min_chars, args.max_chars)
    print(f"{len(texts)} paragraphs of {args.min_chars}-{args.max_chars} chars "
          f"(mean {np.mean([len(t) for t in texts]):.0f}); cpus {ncpu}; loadavg at start {os.getloadavg()[0]:.1f}")

    base = Settings() if args.cache_dir is None else Settings(cache_dir=args.cache_dir)
    fp32 = E5Embeddings(base.model_copy(update={"quantize": "none"}))
    int8 = E5Embeddings(base.model_copy(update={"quantize": "int8"}))
    int8_all = E5Embeddings(base.model_copy(update={"quantize": "none"}))
    int8_all._model = quantize_int8(int8_all._model, skip_down_projections=False)
    print(f"model: {fp32.model_name} from {fp32.resolved.source} ({fp32.resolved.name_or_path})")
    print("int8 = dynamic int8 on all nn.Linear except FFN down-projections (the project's quantize='int8');"
          " int8-all = every nn.Linear\n")

    rows: list[Row] = []
    top = args.main_threads or ncpu
    budget = DEFAULT_MAX_BATCH_TOKENS
    r32, v32 = run_torch(fp32, texts, top, 32, True, f"fp32 sorted, {budget} tok", budget)
    r8, v8 = run_torch(int8, texts, top, 32, True, f"int8 sorted, {budget} tok", budget)
    r8a, v8a = run_torch(int8_all, texts, top, 32, True, f"int8-all sorted, {budget} tok", budget)
    rows += [r32, r8, r8a]

    sweep = texts[: args.sweep]
    if sweep:
        for t in threads:
            for b in batches:
                rows.append(run_torch(int8, sweep, t, b, True, "int8 sorted")[0])
        for b in (1024, 4096):
            rows.append(run_torch(int8, sweep, top, 64, True, f"int8 sorted, {b} tok", b)[0])
        rows.append(run_torch(int8, sweep, top, 32, False, "int8 unsorted")[0])
        rows.append(run_torch(fp32, sweep, top, 32, False, "fp32 unsorted")[0])
        rows.append(run_torch(fp32, sweep, top, 32, True, "fp32 sorted")[0])
    onnx_vecs = {}
    if args.onnx and sweep:
        with tempfile.TemporaryDirectory() as d:
            for t in threads:
                res = run_onnx(fp32, sweep, t, 32, Path(d))
                rows += [r for r, _ in res.values()]
                onnx_vecs = {k: v for k, (_, v) in res.items()}
    print(f"loadavg at end {os.getloadavg()[0]:.1f}\n")
    print_table(rows, ncpu)
    print(f"\ncosine fp32 vs int8, {len(texts)} passages:     {cos_stats(v32, v8)}")
    print(f"cosine fp32 vs int8-all, {len(texts)} passages: {cos_stats(v32, v8a)}")
    if onnx_vecs:
        k = len(sweep)
        print(f"cosine torch fp32 vs onnx fp32, {k} passages: {cos_stats(v32[:k], onnx_vecs['onnx fp32'])}")
        print(f"cosine torch fp32 vs onnx int8 (per channel), {k} passages: {cos_stats(v32[:k], onnx_vecs['onnx int8'])}")
        print(f"cosine torch fp32 vs torch int8 on the same {k}: {cos_stats(v32[:k], v8[:k])}")
    corpus_estimate(int8, {label: r.tokens / r.cpu_s * min(r.threads, ncpu)
                           for label, r in (("fp32", r32), ("int8", r8), ("int8-all", r8a))})


if __name__ == "__main__":
    main()
