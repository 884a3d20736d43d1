"""The interfaces the index layer needs from its collaborators (embedding model, chunker, reranker)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from qa.models import Chunk


@runtime_checkable
class PassageEncoder(Protocol):
    """What qa.embeddings.embedder.E5Embeddings offers: L2-normalised float32 vectors."""

    @property
    def model_name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: Sequence[str]) -> Sequence[float]: ...


# Chunks one corpus file; chunk ids must be stable for an unchanged file (qa.corpus.chunker.chunk_file).
ChunkFileFn = Callable[[Path], list[Chunk]]
