"""Which reader a file needs, told by its content (magic bytes, then sniffing text), not only its name."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Literal

FileKind = Literal["pdf", "docx", "html", "markdown", "text", "image"]

# The names a corpus folder may hold (anything else there is ignored); content decides the reader.
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", ".png", ".jpg", ".jpeg")

_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<body[\s>]|<head[\s>]", re.I)
_TAG_FIRST = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:!--|meta|p|div|h[1-6]|table|article|section|title)[\s>]", re.I)
_MD_HEADING = re.compile(r"^#{1,6}\s+\S", re.M)


class UnsupportedFile(ValueError):
    """A file no reader takes: empty, encrypted, unreadable, or of a kind not supported. The message says which."""


def detect_kind(path: Path) -> FileKind:
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise UnsupportedFile(f"{path.name}: the file is empty")
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff"):
        return "image"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                if "word/document.xml" in z.namelist():
                    return "docx"
        except zipfile.BadZipFile as exc:
            raise UnsupportedFile(f"{path.name}: a damaged zip/Office file ({exc})") from exc
        raise UnsupportedFile(f"{path.name}: a zip file that is not a Word document (.docx)")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        with open(path, "rb") as fh:  # Office wraps a password-protected .docx in this old container too
            if "EncryptedPackage".encode("utf-16-le") in fh.read(1 << 20):
                raise UnsupportedFile(f"{path.name}: the Word file is encrypted (password protected)")
        raise UnsupportedFile(f"{path.name}: an old binary Office file (.doc/.xls); save it as .docx first")
    if _is_binary(head):
        raise UnsupportedFile(f"{path.name}: not a supported kind (PDF, Word .docx, HTML, Markdown, text, PNG/JPEG)")
    if _HTML.search(head) or _TAG_FIRST.match(head):
        return "html"
    if path.suffix.lower() in (".md", ".markdown") or _MD_HEADING.search(decode_text(head, path, partial=True)):
        return "markdown"
    return "text"


def _is_binary(head: bytes) -> bool:
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return False


def decode_text(data: bytes, path: Path, partial: bool = False) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (older Chinese government files)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace" if partial else "strict")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError as exc:
            # A prefix may end inside a multi-byte character: judge it without its last few bytes.
            if partial and exc.start >= len(data) - 3:
                return data[: exc.start].decode(enc, errors="ignore")
            continue
    raise UnsupportedFile(f"{Path(path).name}: text in an unknown encoding (not UTF-8 or GB18030)")
