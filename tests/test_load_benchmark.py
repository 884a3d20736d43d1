"""benchmarks/load.py: distinct questions by default (no question twice in a run, the eval questions
first), --repeat cycles the eval set, and its bookkeeping (CPU time from /proc, percentiles)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_support import load_benchmark_module  # noqa: E402

bench = load_benchmark_module()


def test_distinct_questions_never_repeat_and_start_with_the_eval_set():
    base = bench.load_questions()
    qs = bench.distinct_questions(base, 5000)
    assert len(qs) == 5000
    assert len({bench._key(q) for q in qs}) == len(qs)  # distinct even ignoring punctuation, spaces and case
    unique_base = list({bench._key(b): b for b in reversed(base)}.values())[::-1]  # first of each key, in order
    assert qs[: len(unique_base)] == unique_base
    # Variants keep the question: each later one contains an eval question verbatim (English ones lower-cased first).
    keys = [bench._key(b) for b in base]
    for q in qs[len(base):: 97]:
        assert any(k in bench._key(q) for k in keys), q
    # English questions get English wording around them, Chinese ones Chinese.
    en = [q for q in qs[len(base):] if q.startswith(("Please tell me", "Could you tell me", "Quick question"))]
    assert en and all(not any("\u4e00" <= ch <= "\u9fff" for ch in q[:20]) for q in en)


def test_enough_distinct_questions_for_a_long_run():
    qs = bench.distinct_questions(bench.load_questions(), 20_000)
    assert len(qs) == 20_000 and len(set(map(bench._key, qs))) == 20_000


def test_the_cpu_time_of_a_process_is_read_from_proc():
    cpu = bench.process_cpu_seconds(os.getpid())
    assert cpu is not None and cpu > 0
    x = 0
    for i in range(2_000_000):  # bounded busy work
        x += i
    assert bench.process_cpu_seconds(os.getpid()) > cpu
    assert bench.process_cpu_seconds(2**31 - 1) is None  # no such process


def test_a_row_reports_cpu_per_request_healthz_and_load():
    s = bench.EndpointStats("/v1/ask", 20, seconds=10.0, latencies_ms=[float(i) for i in range(1, 101)],
                            errors=["500: x"] * 0, healthz_ms=[1.0] * 98 + [60.0, 70.0], cpu_seconds=5.0,
                            load_before=1.5, load_after=2.5, distinct=True)
    r = s.row()
    assert r["questions"] == "distinct" and r["requests"] == 100 and r["req_per_s"] == 10.0
    assert r["cpu_ms_per_request"] == 50.0
    assert r["p50_ms"] == 51.0 and r["p95_ms"] == 95.0 and r["p99_ms"] == 99.0
    assert r["healthz_p99_ms"] == 60.0
    assert (r["load_before"], r["load_after"]) == (1.5, 2.5)
