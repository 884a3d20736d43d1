"""Word files (.docx, python-docx): paragraphs and table rows in document order, with Word's own headings."""
from __future__ import annotations

import re
from pathlib import Path

from qa.ingest.detect import UnsupportedFile
from qa.ingest.types import ExtractedText

_HEADING_STYLE = re.compile(r"^(?:Heading|标题)\s*(\d)$", re.I)


def read_docx(path: Path) -> ExtractedText:
    import docx  # noqa: PLC0415
    from docx.table import Table  # noqa: PLC0415

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 - python-docx raises several kinds for a broken package
        raise UnsupportedFile(f"{Path(path).name}: not a readable Word document ({type(exc).__name__}: {exc})") from exc
    lines: list[str] = []
    levels: dict[int, int] = {}
    title = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if not cells or text != cells[-1]:  # a merged cell repeats in every column it spans
                        cells.append(text)
                if any(cells):
                    lines.append("\t".join(cells))
            lines.append("")
            continue
        style = (block.style.name if block.style is not None else "") or ""
        pieces = [p.strip() for p in block.text.split("\n")]
        if not any(pieces):
            lines.append("")
            continue
        m = _HEADING_STYLE.match(style)
        if style.lower() == "title" and not title:
            title = " ".join(p for p in pieces if p)
        elif m:
            levels[len(lines) + 1] = int(m[1])
        lines.extend(pieces)
    return ExtractedText("docx", lines, title_hint=title, heading_levels=levels)
