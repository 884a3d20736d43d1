"""The query micro-batcher (qa/embeddings/microbatch.py): concurrent callers share model calls, every
caller gets its own rows, errors reach the callers of the failed call, and every wait is bounded in time.
The encode function here is a plain deterministic one (the batcher does not care what it computes);
the real encoder behind it is covered in test_sentence_vectors.py."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qa.embeddings.microbatch import MicroBatcher


def vec(text: str) -> np.ndarray:
    return np.array([len(text), sum(map(ord, text)) % 997], dtype=np.float32)


class SlowEncode:
    """Computes vec() per text, taking `delay_s` per call (a model call's fixed cost); records batches."""

    def __init__(self, delay_s: float = 0.0, fail_on: str | None = None) -> None:
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.batches.append(list(texts))
        try:
            time.sleep(self.delay_s)
            if self.fail_on is not None and self.fail_on in texts:
                raise RuntimeError(f"cannot encode {self.fail_on}")
            return np.stack([vec(t) for t in texts]) if texts else np.zeros((0, 2), np.float32)
        finally:
            with self._lock:
                self.active -= 1


def run_callers(batcher: MicroBatcher, texts_per_caller: list[list[str]], timeout_s: float = 10.0):
    results: dict[int, object] = {}

    def call(k: int) -> None:
        try:
            results[k] = batcher.encode(texts_per_caller[k])
        except Exception as exc:  # noqa: BLE001 - compared by the test
            results[k] = exc

    threads = [threading.Thread(target=call, args=(k,), daemon=True) for k in range(len(texts_per_caller))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, timeout_s - (time.monotonic() - t0)))
    assert not any(t.is_alive() for t in threads), "a caller is still waiting after the time bound"
    return results, time.monotonic() - t0


def test_a_lone_caller_gets_its_rows_in_one_call_without_waiting():
    enc = SlowEncode()
    b = MicroBatcher(enc, max_batch=8)
    t0 = time.monotonic()
    out = b.encode(["共享单车", "age limit"])
    assert time.monotonic() - t0 < 0.5
    assert np.array_equal(out, np.stack([vec("共享单车"), vec("age limit")]))
    assert enc.batches == [["共享单车", "age limit"]]


def test_concurrent_callers_share_calls_and_each_gets_its_own_rows():
    enc = SlowEncode(delay_s=0.05)
    b = MicroBatcher(enc, max_batch=8)
    texts = [[f"问题{k}是什么？"] for k in range(24)]
    results, seconds = run_callers(b, texts)
    for k, t in enumerate(texts):
        assert np.array_equal(results[k], vec(t[0])[None, :]), k
    sent = [t for batch in enc.batches for t in batch]
    assert sorted(sent) == sorted(t[0] for t in texts)  # every text encoded exactly once
    assert max(len(x) for x in enc.batches) <= 8
    assert len(enc.batches) < len(texts)  # callers arriving during a call were batched together
    assert enc.max_active == 1  # one model call at a time
    # 24 texts in batches of up to 8 at 50 ms a call: a handful of calls, far below one call per caller.
    assert seconds < 24 * 0.05, seconds


def test_a_callers_texts_are_never_split_and_a_large_request_still_goes_through():
    enc = SlowEncode(delay_s=0.01)
    b = MicroBatcher(enc, max_batch=4)
    texts = [["a1", "a2", "a3"], ["b1", "b2", "b3", "b4", "b5", "b6"], ["c1"], ["d1", "d2"]]
    results, _ = run_callers(b, texts)
    for k, t in enumerate(texts):
        assert np.array_equal(results[k], np.stack([vec(x) for x in t]))
    for t in texts:  # all of one caller's texts went in one call
        assert any(set(t) <= set(batch) for batch in enc.batches), t


def test_the_leaders_wait_for_company_is_bounded():
    enc = SlowEncode()
    b = MicroBatcher(enc, max_batch=8, max_wait_s=0.05)
    t0 = time.monotonic()
    b.encode(["only one"])
    waited = time.monotonic() - t0
    assert 0.04 <= waited < 0.5, waited


def test_waiting_callers_finish_within_a_time_bound_under_load():
    """40 callers, 20 ms per model call, batches of 4: at most 10 calls; nobody waits past the bound."""
    enc = SlowEncode(delay_s=0.02)
    b = MicroBatcher(enc, max_batch=4, poll_s=0.01)
    results, seconds = run_callers(b, [[f"q{k}"] for k in range(40)], timeout_s=5.0)
    assert all(isinstance(r, np.ndarray) for r in results.values())
    assert len(enc.batches) < 40
    assert seconds < 40 * 0.02 + 1.0


def test_an_error_reaches_the_callers_of_that_call_and_the_batcher_recovers():
    enc = SlowEncode(delay_s=0.02, fail_on="bad")
    b = MicroBatcher(enc, max_batch=1)  # one text per call: only the bad one's caller fails
    results, _ = run_callers(b, [["good1"], ["bad"], ["good2"]])
    assert isinstance(results[1], RuntimeError)
    assert np.array_equal(results[0], vec("good1")[None, :])
    assert np.array_equal(results[2], vec("good2")[None, :])
    assert np.array_equal(b.encode(["after"]), vec("after")[None, :])


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError):
        MicroBatcher(SlowEncode(), max_batch=0)
