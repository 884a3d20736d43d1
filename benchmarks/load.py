"""Load benchmark for the API: N concurrent clients against /v1/search and /v1/ask on loopback.

    .venv/bin/python benchmarks/load.py --clients 20 --seconds 30

Starts its own uvicorn (`qa.api.app:app_from_env`) on 127.0.0.1 and a free port, waits for
/readyz, then runs each endpoint for a bounded time and request count with httpx async clients,
using the real eval questions. Prints a table and writes benchmarks/results/load.md.
Loopback only: it never sends a request anywhere else.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class EndpointStats:
    endpoint: str
    clients: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    def row(self) -> dict:
        return {"endpoint": self.endpoint, "clients": self.clients, "requests": self.ok, "errors": len(self.errors),
                "seconds": round(self.seconds, 1), "req_per_s": round(self.throughput, 2),
                "p50_ms": round(self.pct(50), 1), "p95_ms": round(self.pct(95), 1), "max_ms": round(self.pct(100), 1),
                "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else float("nan")}


def load_questions(path: Path = QUESTIONS) -> list[str]:
    qs = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not qs:
        raise SystemExit(f"no questions in {path}")
    return qs


def check_loopback(base_url: str) -> None:
    host = urlparse(base_url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load-test {host!r}: loopback only")


def _body(endpoint: str, text: str) -> dict:
    return {"query": text, "top_k": 5} if endpoint == "/v1/search" else {"question": text}


async def run_endpoint(base_url: str, endpoint: str, questions: list[str], clients: int, seconds: float,
                       max_requests: int, api_key: str | None = None, timeout_s: float = 120.0) -> EndpointStats:
    """`clients` workers post back-to-back until `seconds` pass or `max_requests` were sent."""
    check_loopback(base_url)
    stats = EndpointStats(endpoint, clients)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    sent = 0
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal sent
        i = offset
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            text = questions[i % len(questions)]
            i += clients
            t0 = time.perf_counter()
            try:
                r = await client.post(endpoint, json=_body(endpoint, text))
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code == 200:
                    stats.latencies_ms.append(ms)
                else:
                    stats.errors.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                stats.errors.append(f"{type(exc).__name__}: {exc}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s, limits=limits) as client:
        t0 = time.monotonic()
        await asyncio.gather(*(worker(client, k) for k in range(clients)))
        stats.seconds = time.monotonic() - t0
    return stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base_url: str, proc: subprocess.Popen | None, timeout_s: float, poll_s: float = 0.5) -> None:
    """Until /readyz answers 200; TimeoutError past timeout_s, RuntimeError if `proc` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    raise TimeoutError(f"server not ready after {timeout_s} s")


def start_server(port: int, index_dir: Path | None, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ)
    if index_dir is not None:
        env["QA_INDEX_DIR"] = str(index_dir)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "qa.api.app:app_from_env",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    log = log_path.open("w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# API load benchmark", "",
             f"{meta['date']} · {meta['machine']} · {meta['cpus']} CPUs · Python {meta['python']} · "
             f"load average before the run {meta['loadavg']} (other jobs share the machine)",
             f"Server: {meta['server']}, index `{meta['index_dir']}`.",
             f"Clients: httpx async, {meta['clients']} concurrent, back-to-back requests, at most {meta['seconds']} s "
             f"and {meta['max_requests']} requests per endpoint; questions from `eval/questions.jsonl` "
             f"({meta['n_questions']}, cycled: later rounds may hit the service's query-embedding cache). "
             "Latency is client-side wall time per request.", "",
             "| endpoint | clients | requests | errors | seconds | req/s | p50 ms | p95 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r['endpoint']}` | {r['clients']} | {r['requests']} | {r['errors']} | {r['seconds']} | "
                     f"{r['req_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


async def _run_all(base_url: str, args, questions: list[str]) -> list[EndpointStats]:
    results = []
    for endpoint in args.endpoints:
        # Warm-up outside the measurement (first calls load lazy parts: documents, tokenizer caches).
        await run_endpoint(base_url, endpoint, questions, 2, 10, 4, args.api_key)
        results.append(await run_endpoint(base_url, endpoint, questions, args.clients, args.seconds,
                                          args.max_requests, args.api_key))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0, help="per endpoint (upper bound)")
    ap.add_argument("--max-requests", type=int, default=5000, help="per endpoint (upper bound)")
    ap.add_argument("--endpoints", nargs="+", default=["/v1/search", "/v1/ask"])
    ap.add_argument("--index-dir", type=Path, default=None, help="default: settings (QA_INDEX_DIR / qa.toml)")
    ap.add_argument("--url", default=None, help="use a running server on loopback instead of starting one")
    ap.add_argument("--api-key", default=os.environ.get("QA_API_KEY"))
    ap.add_argument("--ready-timeout", type=float, default=900.0, help="index build on first start can take minutes")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.md")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 200 and 0 < args.seconds <= 600 and 1 <= args.max_requests <= 100_000):
        raise SystemExit("bounds: 1-200 clients, at most 600 s and 100000 requests per endpoint")

    questions = load_questions()
    loadavg = " ".join(f"{x:.1f}" for x in os.getloadavg())
    proc = None
    if args.url:
        base_url = args.url.rstrip("/")
        check_loopback(base_url)
    else:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = Path(tempfile.gettempdir()) / f"gazette-qa-load-server-{port}.log"
        proc = start_server(port, args.index_dir, log_path)
        print(f"server pid {proc.pid} on {base_url} (log {log_path})", flush=True)
    try:
        t0 = time.monotonic()
        try:
            wait_ready(base_url, proc, args.ready_timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(str(exc)) from exc
        print(f"ready after {time.monotonic() - t0:.1f} s", flush=True)
        results = asyncio.run(_run_all(base_url, args, questions))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    rows = [s.row() for s in results]
    for s in results:
        for e in s.errors[:5]:
            print(f"  error on {s.endpoint}: {e}")
    index_dir = args.index_dir or os.environ.get("QA_INDEX_DIR") or "settings default"
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "index_dir": index_dir, "loadavg": loadavg,
            "clients": args.clients, "seconds": args.seconds, "max_requests": args.max_requests,
            "n_questions": len(questions),
            "server": (f"already running at {base_url}" if args.url else
                       "uvicorn, one process on 127.0.0.1, started by `benchmarks/load.py`"),
            "command": "python benchmarks/load.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    text = markdown(rows, meta)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
