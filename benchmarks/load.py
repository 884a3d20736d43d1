"""Load benchmark for the API: N concurrent clients against /v1/search and /v1/ask on loopback.

    .venv/bin/python benchmarks/load.py                 # distinct questions: no question is asked twice
    .venv/bin/python benchmarks/load.py --repeat        # the eval questions cycled (caches warm after a round)

Starts its own uvicorn (`qa.api.app:app_from_env`) on 127.0.0.1 and a free port, waits for
/readyz, then runs each endpoint for a bounded time and request count with httpx async clients.
By default every request carries a question not sent before in the run: the eval questions, then
programmatic variants of them (a polite opening, a closing word, their combinations; English
ones likewise), so the service's query and sentence caches cannot serve them. While an endpoint
runs, one more client probes /healthz every 100 ms. Recorded per endpoint: requests, errors, req/s,
latency percentiles, /healthz p99, the machine's 1-minute load before and after, and the server
process's CPU seconds per request (user + system, from /proc: less sensitive than req/s to other
jobs on the machine). Prints a table and writes benchmarks/results/load.md (and .json).
Loopback only: it never sends a request anywhere else.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
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
# Wording a user might add around a question; each changes the text the service embeds and matches.
ZH_OPENINGS = ("", "请问", "我想了解一下，", "麻烦问下，", "想咨询一下：", "你好，请问", "打扰一下，", "请帮我查一下，",
               "公报里说，", "能否告诉我，", "我想知道", "根据公报，")
ZH_CLOSINGS = ("", "谢谢", "谢谢！", "麻烦告知", "请说明出处", "急", "请回答", "请简要回答")
EN_OPENINGS = ("", "Please tell me: ", "Could you tell me ", "Quick question: ", "I would like to know: ",
               "According to the gazette, ", "Hi, ", "Can you check: ")
EN_CLOSINGS = ("", " Thanks.", " Thank you!", " Please cite the source.", " Briefly, please.")


@dataclass
class EndpointStats:
    endpoint: str
    clients: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    healthz_ms: list[float] = field(default_factory=list)
    cpu_seconds: float | None = None  # the server process's CPU time during the run
    load_before: float | None = None
    load_after: float | None = None
    distinct: bool = True
    texts_sent: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float, values: list[float] | None = None) -> float:
        xs = sorted(self.latencies_ms if values is None else values)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    def row(self) -> dict:
        n = self.ok + len(self.errors)
        return {"endpoint": self.endpoint, "questions": "distinct" if self.distinct else "repeated",
                "clients": self.clients, "requests": self.ok, "errors": len(self.errors),
                "seconds": round(self.seconds, 1), "req_per_s": round(self.throughput, 2),
                "p50_ms": round(self.pct(50), 1), "p95_ms": round(self.pct(95), 1), "p99_ms": round(self.pct(99), 1),
                "max_ms": round(self.pct(100), 1),
                "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else float("nan"),
                "cpu_ms_per_request": round(1000 * self.cpu_seconds / n, 1) if self.cpu_seconds is not None and n else None,
                "healthz_p99_ms": round(self.pct(99, self.healthz_ms), 1) if self.healthz_ms else None,
                "load_before": self.load_before, "load_after": self.load_after}


def load_questions(path: Path = QUESTIONS) -> list[str]:
    qs = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not qs:
        raise SystemExit(f"no questions in {path}")
    return qs


def _key(text: str) -> str:
    """What two questions must differ in to count as distinct: letters and digits, case folded."""
    return re.sub(r"[\W_]+", "", text).casefold()


def distinct_questions(base: list[str], n: int) -> list[str]:
    """`n` questions, no two alike (after _key): the base questions first, then variants of them, one
    opening/closing combination per round over the whole base (so the mix of topics stays the same)."""
    zh = [(o, c) for c in ZH_CLOSINGS for o in ZH_OPENINGS]
    en = [(o, c) for c in EN_CLOSINGS for o in EN_OPENINGS]
    out: list[str] = []
    seen: set[str] = set()
    for rnd in range(max(len(zh), len(en))):
        for q in base:
            latin = bool(re.search(r"[A-Za-z]{3}", q)) and not re.search(r"[\u4e00-\u9fff]", q)
            combos = en if latin else zh
            if rnd >= len(combos):
                continue
            opening, closing = combos[rnd]
            text = f"{opening}{q}{closing}" if not latin or not opening else f"{opening}{q[0].lower()}{q[1:]}{closing}"
            k = _key(text)
            if k in seen:
                continue
            seen.add(k)
            out.append(text)
            if len(out) >= n:
                return out
    return out


def check_loopback(base_url: str) -> None:
    host = urlparse(base_url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load-test {host!r}: loopback only")


def _body(endpoint: str, text: str) -> dict:
    return {"question": text, "top_k": 5} if endpoint == "/v1/search" else {"question": text}


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its reaped children (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[k]) for k in (11, 12, 13, 14)) / ticks  # utime stime cutime cstime


def load1() -> float:
    return round(os.getloadavg()[0], 2)


async def run_endpoint(base_url: str, endpoint: str, questions: list[str], clients: int, seconds: float,
                       max_requests: int, api_key: str | None = None, timeout_s: float = 120.0,
                       cycle: bool = True, server_pid: int | None = None, probe_s: float | None = None) -> EndpointStats:
    """`clients` workers post back-to-back until `seconds` pass or `max_requests` were sent. Each request
    takes the next question of `questions`; cycle=False stops when they run out (no question twice).
    server_pid: measure that process's CPU time over the run; probe_s: probe /healthz at that interval."""
    check_loopback(base_url)
    stats = EndpointStats(endpoint, clients, distinct=not cycle)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    sent = 0
    limit = max_requests if cycle else min(max_requests, len(questions))
    deadline = time.monotonic() + seconds
    running = True

    async def probe(client: httpx.AsyncClient) -> None:
        while running and time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                r = await client.get("/healthz")
                if r.status_code == 200:
                    stats.healthz_ms.append((time.perf_counter() - t0) * 1000)
                else:
                    stats.errors.append(f"/healthz {r.status_code}")
            except httpx.HTTPError as exc:
                stats.errors.append(f"/healthz {type(exc).__name__}: {exc}")
            await asyncio.sleep(probe_s or 0.1)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while time.monotonic() < deadline and sent < limit:
            text = questions[sent % len(questions)]
            sent += 1
            stats.texts_sent.append(text)
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
    stats.load_before = load1()
    cpu0 = process_cpu_seconds(server_pid) if server_pid else None
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s, limits=limits) as client, \
            httpx.AsyncClient(base_url=base_url, timeout=timeout_s) as prober:
        probing = asyncio.ensure_future(probe(prober)) if probe_s else None
        t0 = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        stats.seconds = time.monotonic() - t0
        running = False
        if probing is not None:
            await probing
    cpu1 = process_cpu_seconds(server_pid) if server_pid else None
    if cpu0 is not None and cpu1 is not None:
        stats.cpu_seconds = cpu1 - cpu0
    stats.load_after = load1()
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
    questions = (f"distinct: each request a question not sent before in the run ({meta['n_questions']} available: "
                 f"the {meta['n_base']} of `eval/questions.jsonl`, then programmatic variants)" if meta["distinct"] else
                 f"repeated: the {meta['n_base']} of `eval/questions.jsonl` cycled (later rounds hit the caches)")
    lines = ["# API load benchmark", "",
             f"{meta['date']} · {meta['machine']} · {meta['cpus']} CPUs · Python {meta['python']} · "
             f"1-minute load before the run {meta['loadavg']} (other jobs share the machine)",
             f"Server: {meta['server']}, index `{meta['index_dir']}`.",
             f"Clients: httpx async, back-to-back requests, at most {meta['seconds']} s and {meta['max_requests']} "
             f"requests per endpoint; questions {questions}. Latency is client-side wall time per request; "
             "CPU ms/request is the server process's CPU time (user + system) over the run divided by the requests; "
             "/healthz p99 from one more client probing every 100 ms during the run; load = 1-minute load average "
             "before -> after.", "",
             "| endpoint | questions | clients | requests | errors | seconds | req/s | p50 ms | p95 ms | p99 ms | "
             "CPU ms/request | /healthz p99 ms | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| `{r['endpoint']}` | {r['questions']} | {r['clients']} | {r['requests']} | {r['errors']} | "
                     f"{r['seconds']} | {r['req_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
                     f"{r['cpu_ms_per_request']} | {r['healthz_p99_ms']} | {r['load_before']} -> {r['load_after']} |")
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


WARM_UP = ("预热：本期公报有哪些文件？", "warm up: which documents are in this issue?", "预热：领导小组组长是谁？",
           "预热：补贴标准是多少元？")


async def _run_all(base_url: str, args, questions: list[str], server_pid: int | None) -> list[EndpointStats]:
    results = []
    for endpoint in args.endpoints:
        # Warm-up outside the measurement (first calls load lazy parts), with questions the run never asks.
        await run_endpoint(base_url, endpoint, list(WARM_UP), 2, 10, len(WARM_UP), args.api_key, cycle=False)
        clients = args.search_clients if endpoint == "/v1/search" else args.clients
        results.append(await run_endpoint(base_url, endpoint, questions, clients, args.seconds,
                                          args.max_requests, args.api_key, cycle=args.repeat,
                                          server_pid=server_pid, probe_s=0.1))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients on /v1/ask (and other endpoints)")
    ap.add_argument("--search-clients", type=int, default=50, help="concurrent clients on /v1/search")
    ap.add_argument("--repeat", action="store_true",
                    help="cycle the eval questions (caches warm after the first round) instead of distinct questions")
    ap.add_argument("--server-pid", type=int, default=None,
                    help="with --url: the server's process id, to measure its CPU time per request")
    ap.add_argument("--seconds", type=float, default=30.0, help="per endpoint (upper bound)")
    ap.add_argument("--max-requests", type=int, default=5000, help="per endpoint (upper bound)")
    ap.add_argument("--endpoints", nargs="+", default=["/v1/search", "/v1/ask"])
    ap.add_argument("--index-dir", type=Path, default=None, help="default: settings (QA_INDEX_DIR / qa.toml)")
    ap.add_argument("--url", default=None, help="use a running server on loopback instead of starting one")
    ap.add_argument("--api-key", default=os.environ.get("QA_API_KEY"))
    ap.add_argument("--ready-timeout", type=float, default=900.0, help="index build on first start can take minutes")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.md")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 200 and 1 <= args.search_clients <= 200 and 0 < args.seconds <= 600
            and 1 <= args.max_requests <= 100_000):
        raise SystemExit("bounds: 1-200 clients, at most 600 s and 100000 requests per endpoint")

    base = load_questions()
    questions = base if args.repeat else distinct_questions(base, args.max_requests)
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
    server_pid = proc.pid if proc is not None else args.server_pid
    try:
        t0 = time.monotonic()
        try:
            wait_ready(base_url, proc, args.ready_timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(str(exc)) from exc
        print(f"ready after {time.monotonic() - t0:.1f} s", flush=True)
        results = asyncio.run(_run_all(base_url, args, questions, server_pid))
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
            "n_questions": len(questions), "n_base": len(base), "distinct": not args.repeat,
            "server": (f"already running at {base_url}" if args.url else
                       "uvicorn, one process on 127.0.0.1, started by `benchmarks/load.py`"),
            "command": "python benchmarks/load.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    text = markdown(rows, meta)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    errors = {s.endpoint: s.errors[:20] for s in results if s.errors}
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows, "error_samples": errors},
                                                        ensure_ascii=False, indent=2, default=str),
                                             encoding="utf-8")
    print(f"wrote {args.out} and .json")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
