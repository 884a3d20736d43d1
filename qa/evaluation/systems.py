"""What the runner evaluates: anything that can search and answer, seen through one small interface.

gazette-qa is evaluated through GazetteService (the same search/ask code path as the API); the
LangChain baseline (baseline.py) implements the same interface.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qa.models import SearchHit
    from qa.service import GazetteService

PROJECT = "gazette-qa"


@dataclass(frozen=True)
class Passage:
    text: str  # the cite text: what evidence is matched against
    doc_number: str = ""
    section_path: tuple[str, ...] = ()
    source: str = ""  # e.g. "2022-03.txt:120-134"

    def brief(self) -> dict:
        return {"doc_number": self.doc_number, "section_path": " > ".join(self.section_path),
                "source": self.source, "text": self.text.replace("\n", " ")[:80]}


@dataclass
class SystemAnswer:
    answer: str
    answered: bool
    cited: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)  # retrieve / answer / total


class EvalSystem(Protocol):
    name: str

    def search(self, question: str, top_k: int) -> list[Passage]: ...

    def ask(self, question: str) -> SystemAnswer: ...

    def collection(self) -> Iterable[str]:
        """Every passage the system can return (for nDCG's ideal ranking)."""
        ...

    def describe(self) -> dict:
        """Configuration worth recording in the report."""
        ...


def passage_of_hit(hit: "SearchHit") -> Passage:
    c = hit.chunk
    return Passage(c.text, c.doc_number, tuple(c.section_path), f"{c.source_file}:{c.line_start}-{c.line_end}")


class ServiceSystem:
    """gazette-qa as the API runs it: GazetteService.search and GazetteService.ask."""

    name = PROJECT

    def __init__(self, service: "GazetteService") -> None:
        self.service = service

    def search(self, question: str, top_k: int) -> list[Passage]:
        return [passage_of_hit(h) for h in self.service.search(question, top_k=top_k)]

    def ask(self, question: str) -> SystemAnswer:
        t0 = time.perf_counter()
        r = self.service.ask(question)
        timings = dict(r.timings_ms) or {"total": (time.perf_counter() - t0) * 1000}
        return SystemAnswer(r.answer, r.answered, [passage_of_hit(c.hit) for c in r.citations], timings)

    def collection(self) -> Iterable[str]:
        return (c.text for c in self.service.searcher.store.iter_chunks())

    def describe(self) -> dict:
        from qa.index.store import encoder_variant  # noqa: PLC0415

        s = self.service.settings
        return {
            "embedding_model": s.embedding_model,
            "encoder": getattr(self.service.encoder, "model_name", type(self.service.encoder).__name__),
            "quantize": s.quantize,
            # what actually ran (runtime/quantisation after any fallback), e.g. "onnx/int8-full"
            "encoder_variant": encoder_variant(self.service.encoder),
            "index_dir": str(s.index_dir),
            "index_manifest": asdict(self.service.searcher.store.manifest),
            "top_k": s.top_k,
            "answer_mode": s.answer_mode,
            "reranker_model": s.reranker_model,
        }
