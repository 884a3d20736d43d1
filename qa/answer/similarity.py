"""Query/sentence similarity for the extractive answerer, with caches: the search already embedded
the question, and the same passages' sentences come back for related questions. Sentence vectors the
index stores (qa/index/sentence_store.py) are read first; a sentence it lacks is embedded alone, as the
index builder embeds it, so a sentence's vector never depends on what it was embedded with."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from qa.index.sentence_store import SentenceVectors, encode_each


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class CachedEncoder:
    """Wraps a PassageEncoder (same model_name/dim); caches query vectors and sentence vectors."""

    def __init__(self, encoder, query_cache: int = 1024, sentence_cache: int = 50_000, batcher=None) -> None:
        """batcher: a qa.embeddings.microbatch.MicroBatcher over encoder.encode_queries, gathering the
        query encodings of concurrent requests into one model call (None: each request calls the model)."""
        self.inner = encoder
        self.batcher = batcher
        self._queries = _LRU(query_cache)
        self._sentences = _LRU(sentence_cache)
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self.inner.encode_passages(texts, show_progress=show_progress)

    def _cached(self, cache: _LRU, texts: Sequence[str], encode) -> np.ndarray:
        """Vectors for `texts`, encoding (in one batch) only those the cache lacks."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            vecs = encode(missing)
            with self._lock:
                for t, v in zip(missing, vecs):
                    cache.put(t, v)
        with self._lock:
            return np.stack([cache[t] for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(self._queries, texts, self.batcher.encode if self.batcher else self.inner.encode_queries)

    def sentence_vectors(self, sentences: Sequence[str], known: SentenceVectors | None = None) -> np.ndarray:
        """A vector per sentence: from `known` (the index's), the cache, or embedded now, each text alone."""
        found = [known.get(t) if known is not None else None for t in sentences]
        rest = [t for t, v in zip(sentences, found) if v is None]
        if rest:
            encode = lambda texts: encode_each(self.inner.encode_passages, texts, self.dim)  # noqa: E731
            vecs = iter(self._cached(self._sentences, rest, encode))
            found = [v if v is not None else next(vecs) for v in found]
        if not found:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(found).astype(np.float32)

    def similarity(self, question: str, sentences: list[str], known: SentenceVectors | None = None) -> list[float]:
        """Cosine between the question (as a query) and each sentence (as a passage)."""
        q = self.encode_queries([question])[0]
        mat = self.sentence_vectors(sentences, known)
        return (mat @ q).astype(float).tolist()
