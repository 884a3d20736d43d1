"""Read one gazette issue (text converted from PDF) into an Issue of documents, paragraphs and sections.

Boundaries come from the document-number lines: every document has one on a line of its own, and
its title is the 1-4 lines above it. A document ends where the next one starts (not at its
signature: cover notices carry the document they issue after the disclosure marker).
"""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path

from qa.corpus.normalize import canonical_form, join_cjk_spaces, squash
from qa.corpus.personnel import extract_personnel
from qa.corpus.structure import (
    CATEGORY,
    DATE_LINE,
    DISCLOSURE,
    DOCNO_LINE,
    MASTHEAD as _MASTHEAD,
    TABLE_SEPARATOR,
    date_iso,
    ends_with_final_punct,
    is_table_row,
    parse_marker,
    strip_bullet,
)
from qa.corpus.body import ISSUER_ONLY as _ISSUER_ONLY, read_body as _read_body
from qa.corpus.types import Document, Issue, Paragraph, TocEntry

HEADER_LINES = 40
_ISSUE_RE = re.compile(r"((?:19|20)\d{2})\D{0,6}?第\s*(\d{1,2})\s*期")
_TOTAL_RE = re.compile(r"总第\s*0*(\d+)\s*期")
_PUBLISHED_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*出版")
_TOC_HEAD = re.compile(r"^\s*目\s*录\s*$")
_TOC_DOCNO = re.compile(r"[（(]\s*([\u4e00-\u9fff]{2,10}\s*〔\s*\d{4}\s*〕\s*\d{1,4}\s*号)\s*[）)]")
_TOC_PAGE = re.compile(r"[（(]\s*(\d{1,3})\s*[）)]\s*$")
_COLOPHON = re.compile(r"^\s*(主\s*办\s*单\s*位|主\s*办|编\s*辑\s*出\s*版|地\s*址\s*[：:])")


class ParseError(ValueError):
    """The file is not a gazette issue this parser understands (no header, no document numbers)."""


def issue_key_from_path(path: Path) -> str | None:
    m = re.match(r"^(\d{4})-(\d{2})$", path.stem)
    return f"{m[1]}-{m[2]}" if m else None


def looks_like_gazette(lines: list[str]) -> bool:
    """An issue header (`2022 第3期`) near the top and at least two document-number lines: a gazette issue,
    not a single document (which the single-document parser reads)."""
    flat = re.sub(r"[_{}$\\]", " ", "\n".join(lines[:HEADER_LINES]))
    if not _ISSUE_RE.search(flat):
        return False
    return sum(1 for ln in lines if DOCNO_LINE.match(ln)) >= 2


def parse_issue(path: Path, source_name: str | None = None, lines: list[str] | None = None) -> Issue:
    """An issue from a text file, or from `lines` already read from `path` (a PDF's text layer)."""
    if lines is None:
        lines = path.read_text(encoding="utf-8").split("\n")
    issue = _parse_header(lines, path, source_name or path.name)
    docno_lines = [i for i, ln in enumerate(lines) if DOCNO_LINE.match(ln)]
    if not docno_lines:
        raise ParseError(f"{path}: no document-number lines found; is this a gazette issue?")
    toc_start = next((i for i, ln in enumerate(lines[: docno_lines[0]]) if _TOC_HEAD.match(ln)), None)
    starts: list[int] = []
    for n, i in enumerate(docno_lines):
        floor = docno_lines[n - 1] + 1 if n else (toc_start + 1 if toc_start is not None else 0)
        starts.append(_title_start(lines, i, floor))
    toc_end = starts[0]
    issue.toc = _parse_toc(lines, toc_start, toc_end) if toc_start is not None else []
    colophon_start = _colophon_start(lines, docno_lines[-1])
    ends = [s - 1 for s in starts[1:]] + [len(lines) - 1 if colophon_start is None else colophon_start - 1]
    if colophon_start is not None:
        kept = [i for i in range(colophon_start, len(lines)) if lines[i].strip()]
        issue.colophon = Paragraph("\n".join(lines[i].strip() for i in kept), kept[0] + 1, kept[-1] + 1)
    for n, (start, number_line, end) in enumerate(zip(starts, docno_lines, ends), 1):
        while end > number_line and not lines[end].strip():
            end -= 1
        doc = _parse_document(lines, issue, n, start, number_line, end)
        issue.documents.append(doc)
    _match_toc(issue)
    return issue


def _parse_header(lines: list[str], path: Path, source_name: str) -> Issue:
    head = "\n".join(lines[:HEADER_LINES])
    flat = re.sub(r"[_{}$\\]", " ", head)
    m = _ISSUE_RE.search(flat)
    key = issue_key_from_path(path)
    if not m and not key:
        raise ParseError(f"{path}: no issue header (e.g. `2022 第3期`) in its first {HEADER_LINES} lines")
    year, number = (int(m[1]), int(m[2])) if m else (int(key[:4]), int(key[5:]))
    total = _TOTAL_RE.search(flat)
    pub = _PUBLISHED_RE.search(flat)
    masthead = next((squash(ln) for ln in lines[:HEADER_LINES] if _MASTHEAD.match(squash(ln))), "")
    return Issue(
        issue=f"{year}-{number:02d}",
        year=year,
        number=number,
        total_number=int(total[1]) if total else None,
        publish_date=date_iso(pub[1], pub[2], pub[3]) if pub else "",
        source_file=source_name,
        masthead=masthead,
    )


def _is_stop_line(line: str) -> bool:
    s = line.strip()
    return bool(
        DATE_LINE.match(s)
        or DISCLOSURE.search(s)
        or ends_with_final_punct(s)
        or DOCNO_LINE.match(s)
        or is_table_row(s)
        or s.startswith("附件")
        or CATEGORY.match(s)
        or len(s) > 60
        or s.startswith("- ")
        or "：" in s
        or "，" in s  # titles carry no comma; a PDF's wrapped sentence end above the title does
        or bool(re.search(r"[（(]\s*(略|见网络版)\s*[）)]", s))
        or parse_marker(s, decimal_doc=False) is not None
        or bool(_TOC_DOCNO.search(s) or _TOC_PAGE.search(s) or re.search(r"\.{3,}|…{2,}", s))
    )


def _title_start(lines: list[str], number_line: int, floor: int) -> int:
    """First line of the title block above a document-number line (at most 4 non-empty lines)."""
    start, taken = number_line, 0
    j = number_line - 1
    while j >= floor and taken < 4:
        s = lines[j].strip()
        if not s:
            j -= 1
            continue
        if _is_stop_line(s):
            break
        start, taken = j, taken + 1
        j -= 1
        # An issuer-only line opens the block: nothing above it belongs to this document.
        if _ISSUER_ONLY.match(squash(s).replace("*", "")):
            break
    return start


def _colophon_start(lines: list[str], last_number_line: int) -> int | None:
    """The 0-based first line of a trailing colophon (主办单位…地址…), if the issue ends with one: the last
    document runs to the end of the file less it."""
    return next((i for i in range(last_number_line + 1, len(lines)) if _COLOPHON.match(lines[i])), None)


def _parse_toc(lines: list[str], toc_start: int, toc_end: int) -> list[TocEntry]:
    entries: list[TocEntry] = []
    category, buffer, first_line = "", "", None
    for i in range(toc_start + 1, toc_end):
        raw = lines[i].strip()
        if not raw or TABLE_SEPARATOR.match(raw):
            continue
        cat = CATEGORY.match(raw)
        if cat:
            category, buffer = squash(cat[1]), ""
            continue
        cell_text = " ".join(c.strip() for c in raw.strip("|").split("|"))
        piece = strip_bullet(cell_text).replace("\t", " ")
        if first_line is None or not buffer:
            first_line = i
        buffer = f"{buffer} {piece}".strip()
        m = _TOC_DOCNO.search(buffer)
        if not m:
            continue
        title = buffer[: m.start()]
        page_m = _TOC_PAGE.search(buffer[m.end():].strip())
        entries.append(
            TocEntry(
                category=category,
                title=join_cjk_spaces(title).strip(" .…"),
                doc_number=canonical_form(m[1]),
                page=int(page_m[1]) if page_m else None,
                line=first_line + 1,
            )
        )
        buffer = ""
    return entries


def _parse_document(lines: list[str], issue: Issue, position: int, start: int, number_line: int, end: int) -> Document:
    title_lines = [lines[j].strip() for j in range(start, number_line) if lines[j].strip()]
    issuer, title = _issuer_and_title(title_lines)
    doc = Document(
        issue=issue.issue,
        position=position,
        doc_number=canonical_form(lines[number_line]),
        title=title,
        issuer=issuer,
        addressee="",
        date="",
        disclosure="",
        category="",
        line_start=start + 1,
        line_end=end + 1,
        number_line=number_line + 1,
    )
    _read_body(lines, doc, start, number_line, end)
    doc.personnel = extract_personnel(doc)
    return doc


def _issuer_and_title(title_lines: list[str]) -> tuple[str, str]:
    title_lines = [t.replace("**", "") for t in title_lines]
    joined = join_cjk_spaces(" ".join(title_lines)).strip()
    joined = re.sub(r"\s+", "", joined) if re.search(r"[\u4e00-\u9fff]", joined) else joined
    issuer = ""
    if title_lines and _ISSUER_ONLY.match(squash(title_lines[0])) and len(title_lines) > 1:
        issuer = squash(title_lines[0])
    elif "关于" in joined:
        issuer = joined.split("关于", 1)[0]
    else:
        m = re.match(r"^(.*?(人民政府办公室|人民政府|局|委员会))", joined)
        issuer = m[1] if m else ""
    return issuer, joined


def _match_toc(issue: Issue) -> None:
    """Self-check: body documents against the TOC, in order and by number. Mismatches are reported, not fatal."""
    toc, docs = issue.toc, issue.documents
    if not toc:
        issue.mismatches.append(f"{issue.issue}: no table of contents found")
        return
    used: set[int] = set()
    for doc in docs:
        best, best_score = None, 0.0
        for n, entry in enumerate(toc):
            if n in used:
                continue
            score = (2.0 if entry.doc_number == doc.doc_number else 0.0) + SequenceMatcher(
                None, squash(entry.title), squash(doc.title)
            ).ratio() - abs(n - (doc.position - 1)) * 0.05
            if score > best_score:
                best, best_score = n, score
        if best is None or best_score < 1.0:
            issue.mismatches.append(f"{doc.key} {doc.doc_number} 《{doc.title}》: not in the TOC")
            continue
        used.add(best)
        entry = toc[best]
        doc.category, doc.toc_title, doc.toc_page = entry.category, entry.title, entry.page
        if entry.doc_number != doc.doc_number:
            issue.mismatches.append(f"{doc.key}: body number {doc.doc_number} vs TOC {entry.doc_number}")
    for n, entry in enumerate(toc):
        if n not in used:
            issue.mismatches.append(f"TOC entry {entry.doc_number} 《{entry.title}》 has no body document")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
