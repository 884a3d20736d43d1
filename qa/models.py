"""Typed records that cross module boundaries: corpus -> chunks -> index -> retrieval -> answer."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal


def issue_name(issue: str) -> str:
    """'2022-03' -> '2022年第3期' (how a gazette names its issues); '' for a file that is no gazette issue."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", issue or "")
    return f"{m.group(1)}年第{int(m.group(2))}期" if m else ""


def source_name(chunk: "Chunk") -> str:
    """Where a passage comes from, for a reader: 2022年第3期公报, else its collection or file."""
    name = issue_name(chunk.issue)
    return f"{name}公报" if name else (chunk.collection or chunk.source_file)


class InvalidFilter(ValueError):
    """A search filter the index cannot apply: the caller's mistake (the API answers 400)."""

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
    source_file: str  # path relative to the corpus dir, e.g. "2022-03.txt", "本单位文件/通知.pdf"
    line_start: int  # 1-based, inclusive; lines of the file's text (for a PDF: its text layer or OCR, page by page)
    line_end: int  # 1-based, inclusive
    issue: str  # "2022-03"; "" for a single document (not part of a gazette issue)
    year: int  # 0 when a single document has no date
    doc_key: str  # "2022-03#05": (issue, position), unique even when numbers repeat
    doc_number: str
    doc_title: str
    category: str
    section_path: tuple[str, ...] = ()
    chunk_type: ChunkType = "text"
    persons: tuple[str, ...] = ()  # people named in personnel records/rosters, for the name route
    collection: str = ""  # the named collection the file belongs to (阳泉市人民政府公报, 本单位文件…)
    page_start: int = 0  # for a paged source (PDF, scan, image): page of line_start; 0 = not paged
    page_end: int = 0
    page_line_start: int = 0  # line_start's line on page_start
    page_line_end: int = 0  # line_end's line on page_end

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
            "doc_number": c.doc_number,
            "document_title": c.doc_title,
            "doc_key": c.doc_key,
            "section_path": list(c.section_path),
            "category": c.category,
            "chunk_type": c.chunk_type,
            "collection": c.collection,
            "page_start": c.page_start,
            "page_end": c.page_end,
            "page_line_start": c.page_line_start,
            "page_line_end": c.page_line_end,
        }
