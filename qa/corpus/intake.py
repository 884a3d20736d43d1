"""Files coming into the corpus: each read and parsed first (a file no reader or parser takes is refused
before anything is copied), then given its corpus name.

Layout (see qa.corpus.sources): a collection is a folder, corpus/<collection>/…. A gazette issue is named
after its issue (2022-03.pdf); it goes to the corpus root when it is the gazette already there (the bundled
layout: same masthead), else to its collection's folder (--collection, or its masthead). A single document
keeps its file name, in its collection's folder (--collection, or Settings.default_collection).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.corpus.files import REMOVED_DIR, corpus_files
from qa.corpus.parser import ParseError, looks_like_gazette
from qa.corpus.structure import MASTHEAD as _MASTHEAD
from qa.corpus.sources import load_source
from qa.ingest import UnsupportedFile, detect_kind, read_file
from qa.ingest.detect import SUPPORTED_SUFFIXES
from qa.ingest.ocr import OcrEngine

_EXT = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "markdown": ".md", "text": ".txt"}
_BAD_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")


class IntakeError(ValueError):
    """A file or collection name that cannot come into the corpus; the message says why."""


@dataclass
class Incoming:
    src: Path  # the file as given
    name: str  # its corpus path: 2022-03.txt, 山西省人民政府公报/2024-05.pdf, 本单位文件/通知.docx
    kind: str  # "gazette" or "document"
    reader: str  # pdf, docx, html, markdown, text, image
    collection: str
    label: str  # the issue (2024-05) or the document's title
    documents: int
    pages: int = 0
    ocr_pages: int = 0
    missing: list[str] = field(default_factory=list)  # for a document: title/文号/日期/章节 not found
    supersedes: list[str] = field(default_factory=list)  # corpus names of the same issue under another name


def check_collection(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or _BAD_NAME.search(name) or name.startswith(".") or name in (REMOVED_DIR, ".."):
        raise IntakeError(f"collection name {name!r} is not usable: 1-64 characters, no / \\ : * ? \" < > |, "
                          f"not starting with '.', not {REMOVED_DIR!r}")
    return name


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, and the supported files inside folders (recursively, hidden ones skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                       and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.is_file():
            out.append(p)
        else:
            raise IntakeError(f"{p}: no such file or folder")
    return out


def plan_additions(paths: list[Path], corpus_dir: Path, collection: str | None = None, *,
                   default_collection: str = "本单位文件", cache_dir: Path | None = None,
                   ocr: OcrEngine | None = None) -> list[Incoming]:
    """Read, parse and name every file; raises IntakeError (naming the file) when one cannot be added."""
    corpus_dir = Path(corpus_dir)
    if collection is not None:
        collection = check_collection(collection)
    files = expand(paths)
    if not files:
        raise IntakeError("no supported files found (PDF, Word .docx, HTML, Markdown, text, PNG/JPEG)")
    ocr = ocr or OcrEngine()
    root_mastheads = _root_mastheads(corpus_dir, cache_dir)
    existing = {p.relative_to(corpus_dir).as_posix() for p in corpus_files(corpus_dir)} if corpus_dir.exists() else set()
    plan: list[Incoming] = []
    for src in files:
        try:
            issue = load_source(src, cache_dir=cache_dir, ocr=ocr)
        except (UnsupportedFile, ParseError, UnicodeDecodeError) as exc:
            raise IntakeError(f"{src}: {exc}") from exc
        except ValueError as exc:
            raise IntakeError(f"{src}: not readable as a document ({exc})") from exc
        ext = src.suffix.lower() if src.suffix.lower() in SUPPORTED_SUFFIXES else _ext_of(src, issue.reader)
        if issue.kind == "gazette":
            coll = collection or issue.masthead or default_collection
            folder = "" if (coll in root_mastheads or (not collection and not issue.masthead and root_mastheads)) else coll
            name = f"{folder}/{issue.issue}{ext}" if folder else f"{issue.issue}{ext}"
            same_issue = [n for n in existing if n != name and _folder(n) == folder and Path(n).stem == issue.issue]
            label, documents = issue.issue, len(issue.documents)
        else:
            folder = collection or default_collection
            coll = folder
            name = f"{folder}/{_safe_name(src.stem)}{ext}"
            same_issue = []
            label, documents = issue.documents[0].title, 1
        plan.append(Incoming(src, name, issue.kind, issue.reader, coll, label, documents, issue.n_pages,
                             len(issue.ocr_pages), list(issue.documents[0].missing) if issue.kind == "document" else [],
                             sorted(same_issue)))
    names = [i.name for i in plan]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise IntakeError(f"several files would take the same corpus name: {', '.join(dups)}")
    return plan


def _folder(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def _safe_name(stem: str) -> str:
    stem = _BAD_NAME.sub("_", stem).strip(" .") or "document"
    return stem[:120]


def _ext_of(src: Path, reader: str) -> str:
    if reader == "image":
        return ".png" if src.read_bytes()[:4] == b"\x89PNG" else ".jpg"
    return _EXT.get(reader, ".txt")


def _root_mastheads(corpus_dir: Path, cache_dir: Path | None) -> set[str]:
    """Mastheads of the gazette issues at the corpus root (the bundled collection)."""
    out: set[str] = set()
    if not corpus_dir.exists():
        return out
    for p in sorted(corpus_dir.iterdir()):
        if not p.is_file() or p.suffix.lower() not in SUPPORTED_SUFFIXES or p.name.startswith("."):
            continue
        try:
            if p.suffix.lower() == ".txt" and detect_kind(p) == "text":
                lines = p.read_text(encoding="utf-8", errors="replace").split("\n")[:200]
            else:
                lines = read_file(p, cache_dir=cache_dir).lines
        except (UnsupportedFile, OSError):
            continue
        if looks_like_gazette(lines) or any(_MASTHEAD.match(re.sub(r"\s+", "", ln)) for ln in lines[:40]):
            out.update(re.sub(r"\s+", "", ln) for ln in lines[:40] if _MASTHEAD.match(re.sub(r"\s+", "", ln)))
    return out
