"""Query encodings of concurrent requests gathered into one model call (a micro-batcher).

One caller at a time runs the model (the leader); texts that arrive meanwhile wait and go together
in the next call, so under load the model sees batches and alone a caller sees no delay. A leader
may also wait up to `max_wait_s` for company before its call. Every wait is bounded: a caller
whose text is not done when its wait times out takes the lead itself.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

EncodeFn = Callable[[list[str]], np.ndarray]


@dataclass
class _Job:
    texts: list[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    calls: int = 0  # model calls made
    texts: int = 0  # texts encoded in them
    largest: int = 0
    sizes: list[int] = field(default_factory=list, repr=False)  # the last few batch sizes (tests, logs)


class MicroBatcher:
    """`encode(texts)` -> one row per text, as `fn` computes it, with other callers' texts in the same call.

    max_batch: texts per model call (a caller's own texts are never split across calls);
    max_wait_s: how long a leader waits for more texts before calling the model (0: only those already waiting);
    poll_s: the longest a waiting caller sleeps before looking again (a bound, not a delay: it is woken on completion).
    """

    def __init__(self, fn: EncodeFn, max_batch: int = 16, max_wait_s: float = 0.0, poll_s: float = 0.05) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max(0.0, max_wait_s)
        self.poll_s = poll_s
        self.stats = BatchStats()
        self._pending: list[_Job] = []
        self._busy = False
        self._cond = threading.Condition()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        job = _Job(list(texts))
        if not job.texts:
            return np.asarray(self.fn([]))
        leader = False
        with self._cond:
            self._pending.append(job)
            self._cond.notify_all()
            while not job.done and self._busy:
                self._cond.wait(self.poll_s)
            if not job.done:
                self._busy = leader = True  # this caller leads until its own texts are done
        if leader:
            try:
                while not job.done:
                    self._run_one_batch()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()  # a waiting caller takes the lead
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _take(self) -> list[_Job]:
        """Jobs for one call, oldest first, up to max_batch texts (at least one job). Under the lock."""
        batch: list[_Job] = []
        n = 0
        for j in self._pending:
            if batch and n + len(j.texts) > self.max_batch:
                break
            batch.append(j)
            n += len(j.texts)
        del self._pending[: len(batch)]
        return batch

    def _run_one_batch(self) -> None:
        with self._cond:
            if self.max_wait_s > 0:
                deadline = time.monotonic() + self.max_wait_s
                while sum(len(j.texts) for j in self._pending) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            batch = self._take()
        texts = [t for j in batch for t in j.texts]
        try:
            out = np.asarray(self.fn(texts))
            if len(out) != len(texts):
                raise ValueError(f"encoder returned {len(out)} rows for {len(texts)} texts")
            error = None
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
            out, error = None, exc
        with self._cond:
            start = 0
            for j in batch:
                if error is None:
                    j.result = out[start: start + len(j.texts)]
                else:
                    j.error = error
                start += len(j.texts)
                j.done = True
            self.stats.calls += 1
            self.stats.texts += len(texts)
            self.stats.largest = max(self.stats.largest, len(texts))
            self.stats.sizes = (self.stats.sizes + [len(texts)])[-256:]
            self._cond.notify_all()
