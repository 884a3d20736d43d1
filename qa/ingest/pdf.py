"""PDF files: the text layer page by page (pypdfium2); a page without one (a scan) goes to OCR."""
from __future__ import annotations

import re
from pathlib import Path

from qa.ingest.detect import UnsupportedFile
from qa.ingest.ocr import OcrEngine
from qa.ingest.types import ExtractedText, paged

MIN_TEXT_CHARS = 8  # fewer visible characters on a page: treat it as a scan
RENDER_SCALE = 2.0  # 144 dpi: PP-OCR reads body text well at this size


def read_pdf(path: Path, ocr: OcrEngine | None = None) -> ExtractedText:
    import pypdfium2 as pdfium  # noqa: PLC0415

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise UnsupportedFile(f"{Path(path).name}: the PDF is encrypted (password protected)") from exc
        raise UnsupportedFile(f"{Path(path).name}: not a readable PDF ({msg})") from exc
    try:
        if len(pdf) == 0:
            raise UnsupportedFile(f"{Path(path).name}: the PDF has no pages")
        pages: list[list[str]] = []
        ocr_pages: list[int] = []
        for n in range(len(pdf)):
            page = pdf[n]
            try:
                lines = page_text_lines(page)
                if sum(len(re.sub(r"\s", "", ln)) for ln in lines) < MIN_TEXT_CHARS:
                    engine = ocr or OcrEngine()
                    ocr = engine
                    image = page.render(scale=RENDER_SCALE).to_pil()
                    lines = engine.lines(image)
                    ocr_pages.append(n + 1)
            finally:
                page.close()
            pages.append(lines)
    finally:
        pdf.close()
    return paged("pdf", pages, ocr_pages)


def page_text_lines(page) -> list[str]:
    """The text layer of one page as lines (pdfium orders them as the page's content stream does)."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_bounded()
    finally:
        textpage.close()
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines
