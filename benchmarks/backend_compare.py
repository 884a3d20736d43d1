"""Embedding runtimes side by side: torch vs ONNX Runtime, each with quantize none / int8 / int8-full.

For every variant: the full `qa index build` (whole command, startup included; best of --repeat),
query encoding and in-process search latency on the eval questions (cold: no query cache), the eval
retrieval figures (`qa eval`), and how far its corpus vectors are from torch fp32 (cosine).

    .venv/bin/python benchmarks/backend_compare.py [--repeat 3] [--variants onnx:int8-full,torch:int8]
    .venv/bin/python benchmarks/backend_compare.py --interleave --repeat 3 --variants torch:int8,onnx:int8-full

--interleave: builds only, the variants taking turns (A B A B ...), so that a change of machine load
during the run falls on all of them alike; prints one row per variant with every build.

The machine may be shared: load average and CPU steal are recorded around every build.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ALL_VARIANTS = ("torch:none", "torch:int8", "torch:int8-full", "onnx:none", "onnx:int8", "onnx:int8-full")


@dataclass
class Result:
    variant: str
    builds: list[float] = field(default_factory=list)  # whole command, s
    inproc: list[float] = field(default_factory=list)  # "build: ... in X s" (no imports/model load)
    loads: list[str] = field(default_factory=list)
    encode_p50: float = float("nan")
    encode_p95: float = float("nan")
    search_p50: float = float("nan")
    search_p95: float = float("nan")
    hit5: float = float("nan")
    mrr10: float = float("nan")
    accuracy: float = float("nan")
    cos_min: float = float("nan")
    cos_mean: float = float("nan")


def env_for(variant: str) -> dict[str, str]:
    backend, quantize = variant.split(":")
    env = dict(os.environ, QA_EMBEDDING_BACKEND=backend, QA_QUANTIZE=quantize)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")  # this checkout's qa, not another
    return env


def cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as f:
        return [int(x) for x in f.readline().split()[1:]]


def qa(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True)


def timed_build(variant: str, index: Path) -> tuple[float, float, str]:
    load0, c0 = os.getloadavg()[0], cpu_times()
    t = time.perf_counter()
    p = qa(["index", "build", "--index", str(index)], env_for(variant))
    wall = time.perf_counter() - t
    c1 = cpu_times()
    if p.returncode:
        raise RuntimeError(f"build {variant} failed:\n{p.stderr[-3000:]}")
    m = re.search(r"in ([0-9.]+) s ->", p.stdout)
    steal = (c1[7] - c0[7]) / max(1, sum(c1) - sum(c0))
    return wall, float(m.group(1)) if m else float("nan"), f"{load0:.1f}/{os.getloadavg()[0]:.1f} st{steal:.0%}"


LATENCY_SNIPPET = r"""
import json, sys, time, numpy as np
from qa.config import PROJECT_ROOT, Settings
from qa.index.search import HybridSearcher
from qa.service import make_encoder
s = Settings(index_dir=sys.argv[1])
enc = make_encoder(s)
qs = [json.loads(l)["question"] for l in (PROJECT_ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if l]
enc.encode_queries(qs[:3])  # warm-up
def ms(f):
    t = time.perf_counter(); f(); return (time.perf_counter() - t) * 1000
encode = [ms(lambda: enc.encode_queries([q])) for q in qs]
searcher = HybridSearcher.open(s, enc)
searcher.warm_up() if hasattr(searcher, "warm_up") else None
search = [ms(lambda: searcher.search(q, top_k=5)) for q in qs]
print(json.dumps({"encode": encode, "search": search, "variant": getattr(enc, "variant", "")}))
"""


def latency(variant: str, index: Path) -> tuple[list[float], list[float]]:
    p = subprocess.run([sys.executable, "-c", LATENCY_SNIPPET, str(index)], env=env_for(variant), cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"latency {variant} failed:\n{p.stderr[-3000:]}")
    d = json.loads(p.stdout.strip().splitlines()[-1])
    if d["variant"] != variant.replace(":", "/"):
        raise RuntimeError(f"asked for {variant}, the encoder ran as {d['variant']} (fallback?)")
    return d["encode"], d["search"]


def evaluate(variant: str, index: Path) -> tuple[float, float, float]:
    """hit@5, MRR@10 and answer accuracy of `qa eval` (read from its JSON report, then deleted)."""
    out = "bk-" + variant.replace(":", "-")
    p = qa(["eval", "--index", str(index), "--out", out], env_for(variant))
    reports = list((ROOT / "eval" / "reports").glob(out + ".*"))
    try:
        o = json.loads((ROOT / "eval" / "reports" / f"{out}.json").read_text(encoding="utf-8"))["systems"]["gazette-qa"]["overall"]
    except (OSError, KeyError, ValueError) as exc:
        raise RuntimeError(f"eval {variant} failed:\n{p.stderr[-3000:]}") from exc
    finally:
        for f in reports:
            f.unlink()
    return o["hit@5"], o["mrr@10"], o["accuracy"]


def cosines(index: Path, ref: Path) -> tuple[float, float]:
    a, b = np.load(index / "vectors.npy"), np.load(ref / "vectors.npy")
    c = (a * b).sum(1)
    return float(c.min()), float(c.mean())


def table(results: list[Result]) -> str:
    rows = ["| variant | build s (best) | build s (all runs) | in-process s | passages/s | query encode p50 / p95 ms "
            "| search p50 / p95 ms | hit@5 | MRR@10 | answer accuracy | cosine to torch fp32 min / mean | load before/after, steal |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        best = min(r.builds)
        rows.append(
            f"| {r.variant.replace(':', ' ')} | {best:.1f} | {' '.join(f'{b:.1f}' for b in r.builds)} | {min(r.inproc):.1f} "
            f"| {1480 / best:.1f} | {r.encode_p50:.1f} / {r.encode_p95:.1f} | {r.search_p50:.1f} / {r.search_p95:.1f} "
            f"| {r.hit5:.3f} | {r.mrr10:.3f} | {r.accuracy:.3f} | {r.cos_min:.4f} / {r.cos_mean:.4f} | {'; '.join(r.loads)} |"
        )
    return "\n".join(rows) + "\n"


def interleaved(variants: list[str], repeat: int, work: Path) -> str:
    """Builds only, variants in turn: `repeat` rounds of one build each."""
    rows: dict[str, list[tuple[float, float, str]]] = {v: [] for v in variants}
    for i in range(repeat):
        for v in variants:
            wall, inproc, load = timed_build(v, work / v.replace(":", "-"))
            rows[v].append((wall, inproc, load))
            print(f"round {i + 1} {v}: build {wall:.1f} s ({inproc:.1f} in process) load {load}", flush=True)
    out = ["| variant | build s (best) | build s in order (round 1, 2, ...) | in-process s (best) | load before/after, steal |",
           "|---|---:|---|---:|---|"]
    for v, rs in rows.items():
        out.append(f"| {v.replace(':', ' ')} | {min(r[0] for r in rs):.1f} | {' '.join(f'{r[0]:.1f}' for r in rs)} "
                   f"| {min(r[1] for r in rs):.1f} | {'; '.join(r[2] for r in rs)} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(ALL_VARIANTS))
    ap.add_argument("--repeat", type=int, default=3, help="builds per variant (the best counts)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/backend-compare"), help="index dirs go here")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "backends-raw.md")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--label", default="", help="suffix for the variant names in the table (e.g. a code change)")
    ap.add_argument("--interleave", action="store_true", help="builds only, variants taking turns")
    args = ap.parse_args()
    variants = args.variants.split(",")
    if args.interleave:
        text = interleaved(variants, args.repeat, args.work)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(text)
        return
    ref = args.work / "torch-none"
    results = []
    for v in variants:
        r = Result(v + args.label)
        index = args.work / v.replace(":", "-")
        for _ in range(args.repeat):
            wall, inproc, load = timed_build(v, index)
            r.builds.append(wall)
            r.inproc.append(inproc)
            r.loads.append(load)
            print(f"{v}: build {wall:.1f} s ({inproc:.1f} in process) load {load}", flush=True)
        enc, srch = latency(v, index)
        r.encode_p50, r.encode_p95 = float(np.percentile(enc, 50)), float(np.percentile(enc, 95))
        r.search_p50, r.search_p95 = float(np.percentile(srch, 50)), float(np.percentile(srch, 95))
        if not args.no_eval:
            r.hit5, r.mrr10, r.accuracy = evaluate(v, index)
        if (ref / "vectors.npy").is_file():
            r.cos_min, r.cos_mean = cosines(index, ref)
        print(table([r]).splitlines()[-1], flush=True)
        results.append(r)
    head = (f"<!-- {time.strftime('%Y-%m-%d %H:%M')} cpus {os.cpu_count()} repeat {args.repeat} "
            f"commit {subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()} -->\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(head + table(results), encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
