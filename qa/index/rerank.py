"""Optional cross-encoder reranking stage (no multilingual cross-encoder ships on PyPI, so it is off
by default and loaded by name from settings.reranker_model when a user has one)."""
from __future__ import annotations

from collections.abc import Sequence


class CrossEncoderReranker:
    def __init__(self, model_name: str, max_length: int = 512) -> None:
        self.model_name = model_name
        self.max_length = max_length
        self._model = None

    def _get(self):
        if self._model is None:
            from sentence_transformers import CrossEncoder  # heavy import, only when reranking is on

            self._model = CrossEncoder(self.model_name, max_length=self.max_length)
        return self._model

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        return [float(s) for s in self._get().predict([(query, p) for p in passages], show_progress_bar=False)]
