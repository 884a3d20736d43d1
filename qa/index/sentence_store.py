"""Vectors of the answerer's candidate sentences, computed at build time and stored with the index.

The extractive answerer compares the question with a few sentences of each retrieved passage; embedding
those per request was most of a distinct question's CPU. The index builder is given a function
naming the texts the answerer embeds for a chunk (qa.answer.precompute.sentence_texts: the index
layer does not know how answers read passages) and stores one vector per distinct text:

  sentence_texts.json   JSON list of the texts, row = row of sentence_vectors.npy
  sentence_vectors.npy  float32 (m, dim), unit length

Each text is embedded alone (a batch of one), which is also how a text missing from the store is
embedded at query time: with dynamic int8 activation scales a vector depends on the batch it was
computed in, and one text per batch makes the stored vector and the on-the-fly one the same.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.models import Chunk

SENTENCE_TEXTS = "sentence_texts.json"
SENTENCE_VECTORS = "sentence_vectors.npy"

SentenceTextsFn = Callable[[Chunk], list[str]]  # the texts the answerer embeds for one chunk


@dataclass
class SentenceVectors:
    texts: list[str]
    vectors: np.ndarray  # (len(texts), dim) float32
    _row: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.vectors):
            raise ValueError(f"{len(self.texts)} sentence texts but {len(self.vectors)} vectors")
        self._row = {t: i for i, t in enumerate(self.texts)}

    def __len__(self) -> int:
        return len(self.texts)

    def get(self, text: str) -> np.ndarray | None:
        i = self._row.get(text)
        return None if i is None else self.vectors[i]

    def row(self, text: str) -> int | None:
        return self._row.get(text)

    @classmethod
    def empty(cls, dim: int) -> "SentenceVectors":
        return cls([], np.zeros((0, dim), np.float32))

    @classmethod
    def load(cls, index_dir: Path, dim: int) -> "SentenceVectors":
        """The stored vectors, or an empty store when the index has none (built before they existed)."""
        texts_path, vec_path = index_dir / SENTENCE_TEXTS, index_dir / SENTENCE_VECTORS
        if not (texts_path.is_file() and vec_path.is_file()):
            return cls.empty(dim)
        texts = json.loads(texts_path.read_text(encoding="utf-8"))
        vectors = np.load(vec_path, mmap_mode="r")
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"{vec_path}: shape {vectors.shape}, expected (n, {dim})")
        return cls(texts, vectors)

    def save(self, index_dir: Path) -> None:
        (index_dir / SENTENCE_TEXTS).write_text(json.dumps(self.texts, ensure_ascii=False), encoding="utf-8")
        np.save(index_dir / SENTENCE_VECTORS, np.asarray(self.vectors, dtype=np.float32))


def encode_each(encode_passages: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str], dim: int,
                show_progress: bool = False, desc: str = "sentences") -> np.ndarray:
    """One vector per text, each text embedded alone (see the module doc), unit length."""
    out = np.zeros((len(texts), dim), np.float32)
    items: Iterable[int] = range(len(texts))
    if show_progress and texts:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=desc, unit="text")
    for i in items:
        out[i] = np.asarray(encode_passages([texts[i]]), dtype=np.float32)[0]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def build_sentence_vectors(chunks: Sequence[Chunk], sentence_texts: SentenceTextsFn, encode_passages, dim: int,
                           old: SentenceVectors | None = None, show_progress: bool = False) -> tuple[SentenceVectors, int]:
    """Vectors for every text `sentence_texts` names for `chunks`, reusing `old`'s where the text is the
    same (same encoder variant: the caller checks). Returns the store and how many texts were embedded."""
    texts = list(dict.fromkeys(t for c in chunks for t in sentence_texts(c) if t))
    vectors = np.zeros((len(texts), dim), np.float32)
    todo = []
    for i, t in enumerate(texts):
        v = old.get(t) if old is not None else None
        if v is None:
            todo.append(i)
        else:
            vectors[i] = v
    if todo:
        vectors[todo] = encode_each(encode_passages, [texts[i] for i in todo], dim, show_progress)
    return SentenceVectors(texts, vectors), len(todo)
