"""The text a reader gives back: lines, and for each line the page and line on that page it came from."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExtractedText:
    """Text of one file as lines. Line n of the text (1-based) is lines[n-1]; for a paged source it was
    line page_lines[n-1] of page pages[n-1] (both 1-based; 0 = the source has no pages)."""

    kind: str  # the reader used: pdf, docx, html, markdown, text, image
    lines: list[str]
    pages: list[int] = field(default_factory=list)
    page_lines: list[int] = field(default_factory=list)
    n_pages: int = 0
    ocr_pages: list[int] = field(default_factory=list)  # pages read by OCR (scans, images)
    title_hint: str = ""  # a title the format itself declares (<title>, Word's Title style, a markdown `# `)
    heading_levels: dict[int, int] = field(default_factory=dict)  # 1-based line -> level of a declared heading

    def __post_init__(self) -> None:
        if not self.pages:
            self.pages = [0] * len(self.lines)
            self.page_lines = list(range(1, len(self.lines) + 1))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def page_of(self, line: int) -> tuple[int, int]:
        """(page, line on that page) of a 1-based line of the text; (0, line) when not paged."""
        if 1 <= line <= len(self.pages) and self.pages[line - 1]:
            return self.pages[line - 1], self.page_lines[line - 1]
        return 0, line

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lines": self.lines, "pages": self.pages, "page_lines": self.page_lines,
                "n_pages": self.n_pages, "ocr_pages": self.ocr_pages, "title_hint": self.title_hint,
                "heading_levels": {str(k): v for k, v in self.heading_levels.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "ExtractedText":
        d = dict(d)
        d["heading_levels"] = {int(k): v for k, v in (d.get("heading_levels") or {}).items()}
        return cls(**d)


def paged(kind: str, page_texts: list[list[str]], ocr_pages: list[int] | None = None) -> ExtractedText:
    """One ExtractedText from the lines of each page, in page order."""
    lines: list[str] = []
    pages: list[int] = []
    page_lines: list[int] = []
    for p, page in enumerate(page_texts, 1):
        for n, line in enumerate(page, 1):
            lines.append(line)
            pages.append(p)
            page_lines.append(n)
    return ExtractedText(kind, lines, pages, page_lines, n_pages=len(page_texts), ocr_pages=list(ocr_pages or []))
