"""One entry point: a file's kind by content, the reader for it, and an on-disk cache of what it gave
(OCR takes seconds a page; a file is only read again when its bytes change)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from pathlib import Path

from qa.ingest.detect import FileKind, UnsupportedFile, decode_text, detect_kind
from qa.ingest.ocr import OcrEngine
from qa.ingest.types import ExtractedText

# Bump when a reader gives other lines for the same bytes: cached extractions are then read again.
READER_VERSION = "1"
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_RULE = re.compile(r"^\s*([-*_]\s*){3,}$")
_MD_TABLE_SEP = re.compile(r"^\s*\|?[\s|:\-]*\|[\s|:\-]*$")


def read_file(path: Path, *, ocr: OcrEngine | None = None, cache_dir: Path | None = None,
              kind: FileKind | None = None) -> ExtractedText:
    """The text of a supported file, with page and line provenance. Raises UnsupportedFile with a
    message fit for a user (empty, encrypted, unreadable, unsupported kind)."""
    path = Path(path)
    kind = kind or detect_kind(path)
    cached = _cache_path(path, cache_dir) if cache_dir else None
    if cached and cached.exists():
        try:
            return ExtractedText.from_dict(json.loads(cached.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError):
            pass  # a damaged cache entry is read again below
    text = _read(path, kind, ocr)
    if not any(line.strip() for line in text.lines):
        raise UnsupportedFile(f"{path.name}: no text found in it" + (" (OCR found none either)" if text.ocr_pages else ""))
    if cached:
        _write_cache(cached, text)
    return text


def _read(path: Path, kind: FileKind, ocr: OcrEngine | None) -> ExtractedText:
    if kind == "pdf":
        from qa.ingest.pdf import read_pdf  # noqa: PLC0415

        return read_pdf(path, ocr)
    if kind == "docx":
        from qa.ingest.office import read_docx  # noqa: PLC0415

        return read_docx(path)
    if kind == "html":
        from qa.ingest.web import read_html  # noqa: PLC0415

        return read_html(path)
    if kind == "image":
        return read_image(path, ocr)
    text = decode_text(path.read_bytes(), path).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if kind == "markdown":
        return read_markdown_lines(lines)
    return ExtractedText("text", lines)


def read_image(path: Path, ocr: OcrEngine | None = None) -> ExtractedText:
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        with Image.open(path) as im:
            im.load()
            image = im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UnsupportedFile(f"{path.name}: not a readable image ({exc})") from exc
    lines = (ocr or OcrEngine()).lines(image)
    out = ExtractedText("image", lines, [1] * len(lines), list(range(1, len(lines) + 1)), n_pages=1, ocr_pages=[1])
    return out


def read_markdown_lines(raw: list[str]) -> ExtractedText:
    """Markdown keeps its lines (so line numbers are the file's); `#` headings are declared headings,
    emphasis and rules are dropped, table separator rows become blank."""
    lines: list[str] = []
    levels: dict[int, int] = {}
    title = ""
    for n, line in enumerate(raw, 1):
        m = _MD_HEADING.match(line)
        if m:
            text = m[2].replace("**", "").strip()
            if len(m[1]) == 1 and not title:
                title = text
            levels[n] = len(m[1])
            lines.append(text)
        elif _MD_RULE.match(line) or _MD_TABLE_SEP.match(line):
            lines.append("")
        elif line.strip().startswith("|") and line.count("|") >= 2:
            lines.append("\t".join(c.strip() for c in line.strip().strip("|").split("|")))
        else:
            lines.append(re.sub(r"\*\*(.+?)\*\*", r"\1", line.rstrip()))
    return ExtractedText("markdown", lines, title_hint=title, heading_levels=levels)


def _cache_path(path: Path, cache_dir: Path) -> Path:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return Path(cache_dir) / "extracted" / f"{h.hexdigest()}-v{READER_VERSION}.json"


def _write_cache(target: Path, text: ExtractedText) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps(text.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass  # a cache that cannot be written only costs time
