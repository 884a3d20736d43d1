"""Typed records that cross module boundaries: corpus -> chunks -> index -> retrieval -> answer."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

ChunkType = Literal["text", "table", "personnel", "card"]


@dataclass(frozen=True)
class Chunk:
    """A citable piece of one document. `text` is verbatim corpus text (for citing);
    `embed_text` adds a short header for the embedding model; `search_text` is the
    normalised form used for lexical search."""

    chunk_id: str
    text: str
    embed_text: str
    search_text: str
    source_file: str  # path relative to the corpus dir, e.g. "2022-03.txt"
    line_start: int  # 1-based, inclusive
    line_end: int  # 1-based, inclusive
    issue: str  # "2022-03"
    year: int
    doc_key: str  # "2022-03#05": (issue, position), unique even when numbers repeat
    doc_number: str
    doc_title: str
    category: str
    section_path: tuple[str, ...] = ()
    chunk_type: ChunkType = "text"
    persons: tuple[str, ...] = ()  # people named in personnel records/rosters, for the name route

    def to_dict(self) -> dict:
        d = asdict(self)
        d["section_path"] = list(self.section_path)
        d["persons"] = list(self.persons)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Chunk":
        d = dict(d)
        d["section_path"] = tuple(d.get("section_path") or ())
        d["persons"] = tuple(d.get("persons") or ())
        return cls(**d)


@dataclass
class SearchHit:
    """One retrieved chunk with its fused score; also the shape of a citation."""

    chunk: Chunk
    score: float
    rank: int = 0
    scores: dict[str, float] = field(default_factory=dict)  # per-route scores (dense, bm25, route)

    def to_dict(self) -> dict:
        c = self.chunk
        return {
            "score": round(float(self.score), 6),
            "chunk_id": c.chunk_id,
            "cite_text": c.text,
            "source_file": c.source_file,
            "line_start": c.line_start,
            "line_end": c.line_end,
            "issue": c.issue,
            "document_number": c.doc_number,
            "document_title": c.doc_title,
            "doc_key": c.doc_key,
            "section_path": list(c.section_path),
            "category": c.category,
            "chunk_type": c.chunk_type,
        }
