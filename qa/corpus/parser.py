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
    DATE_AT_END,
    DATE_LINE,
    DISCLOSURE,
    DOCNO_LINE,
    TABLE_SEPARATOR,
    Marker,
    date_iso,
    ends_with_final_punct,
    is_table_row,
    looks_decimal_document,
    parse_marker,
    strip_bullet,
)
from qa.corpus.tables import render_table
from qa.corpus.types import Attachment, Document, Issue, Paragraph, Section, TocEntry

HEADER_LINES = 40
_ISSUE_RE = re.compile(r"((?:19|20)\d{2})\D{0,6}?第\s*(\d{1,2})\s*期")
_TOTAL_RE = re.compile(r"总第\s*0*(\d+)\s*期")
_PUBLISHED_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*出版")
_TOC_HEAD = re.compile(r"^\s*目\s*录\s*$")
_TOC_DOCNO = re.compile(r"[（(]\s*([\u4e00-\u9fff]{2,10}\s*〔\s*\d{4}\s*〕\s*\d{1,4}\s*号)\s*[）)]")
_TOC_PAGE = re.compile(r"[（(]\s*(\d{1,3})\s*[）)]\s*$")
_ISSUER_ONLY = re.compile(r"^[\u4e00-\u9fff（）()]{2,30}(人民政府办公室|人民政府|办公室|局|委员会|厅|中心)$")
_ADDRESSEE_STOP = re.compile(r"决定|研究|通过|如下|任命|免去|提名|根据|为了|经")
_ATTACHMENT = re.compile(r"^附\s*件\s*(\d*)\s*[：:]?\s*(.*)$")
_OMITTED = re.compile(r"[（(]\s*(略|见网络版)\s*[）)]")
_COLOPHON = re.compile(r"^\s*(主\s*办\s*单\s*位|主\s*办|编\s*辑\s*出\s*版|地\s*址\s*[：:])")


class ParseError(ValueError):
    """The file is not a gazette issue this parser understands (no header, no document numbers)."""


def issue_key_from_path(path: Path) -> str | None:
    m = re.match(r"^(\d{4})-(\d{2})$", path.stem)
    return f"{m[1]}-{m[2]}" if m else None


def parse_issue(path: Path, source_name: str | None = None) -> Issue:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
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
    ends = [s - 1 for s in starts[1:]] + [_body_end(lines, docno_lines[-1])]
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
    return Issue(
        issue=f"{year}-{number:02d}",
        year=year,
        number=number,
        total_number=int(total[1]) if total else None,
        publish_date=date_iso(pub[1], pub[2], pub[3]) if pub else "",
        source_file=source_name,
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


def _body_end(lines: list[str], last_number_line: int) -> int:
    """The last document runs to the end of the file, less a trailing colophon (主办单位…地址…)."""
    end = len(lines) - 1
    for i in range(last_number_line + 1, len(lines)):
        if _COLOPHON.match(lines[i]):
            return i - 1
    return end


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


def _read_body(lines: list[str], doc: Document, start: int, number_line: int, end: int) -> None:
    """Rebuild paragraphs, find the addressee, signature date, disclosure marker, attachments and sections."""
    paragraphs = doc.paragraphs
    for j in range(start, number_line + 1):
        if lines[j].strip():
            paragraphs.append(Paragraph(lines[j].strip(), j + 1, j + 1, "title"))
    decimal_doc = looks_decimal_document(lines[number_line:end + 1])
    stack: list[tuple[Marker, str]] = []  # open headings: (marker, label)
    root: tuple[str, ...] = ()
    after_marker = False  # past the disclosure marker: a cover notice's attached document may follow
    expect_title = False
    table_rows: list[Paragraph] = []
    i = number_line + 1

    def path() -> tuple[str, ...]:
        return root + tuple(label for _, label in stack)

    def flush_table() -> None:
        if table_rows:
            at = len(paragraphs) - len(table_rows)
            group = _group_name(paragraphs, at)
            for para, readable in zip(table_rows, render_table([p.text for p in table_rows], group, _list_role(paragraphs, at))):
                para.readable = readable
            table_rows.clear()

    while i <= end:
        raw = lines[i]
        s = raw.strip()
        if not s or TABLE_SEPARATOR.match(s):
            i += 1
            continue
        if is_table_row(s):
            if s.strip("|").replace("|", "").strip():
                para = Paragraph(s, i + 1, i + 1, "table", path())
                paragraphs.append(para)
                table_rows.append(para)
            i += 1
            continue
        flush_table()
        # Collect one paragraph: join continuation lines of a sentence broken by the PDF layout.
        para_start, text, j = i, s, i
        marker = parse_marker(s, decimal_doc)
        while not _closes_paragraph(text, marker):
            k = j + 1
            while k <= end and not lines[k].strip():
                k += 1
            if k > end:
                break
            nxt = lines[k].strip()
            if _opens_paragraph(nxt, stack, decimal_doc):
                break
            text, j = text + nxt, k
        i = j + 1
        para = Paragraph(text, para_start + 1, j + 1, "text")
        disclosure = DISCLOSURE.search(text)
        was_expecting = expect_title
        if not doc.addressee and not doc.date and para_start <= _first_body_line(lines, number_line) and _is_addressee(text):
            para.kind = "marker"
            doc.addressee = text.rstrip("：:")
        elif DATE_LINE.match(text) or (DATE_AT_END.search(text) and len(text) <= 30 and not ends_with_final_punct(text)):
            para.kind = "date"
            if not doc.date and not after_marker:
                d = DATE_AT_END.search(text)
                doc.date = date_iso(d[1], d[2], d[3])
        elif disclosure and len(text) - disclosure.end() < 2:
            # Two-column PDF pages glue the marker to the last lines of the body (樊志红为…局长；（此件公开发布）):
            # such a paragraph stays body text, or its content would be lost to search and citing.
            para.kind = "marker" if _marker_only(text[: disclosure.start()]) else "text"
            if not doc.disclosure:
                doc.disclosure = disclosure[1]
                after_marker, expect_title = True, True
                stack.clear()
        elif expect_title and not marker and not ends_with_final_punct(text) and len(text) <= 60:
            para.kind = "title"
            doc.attached_title = doc.attached_title or join_cjk_spaces(text)
            root = (_short(join_cjk_spaces(text)),)
        elif _ATTACHMENT.match(squash(text)) and len(text) <= 120:
            para.kind = "attachment"
            _add_attachments(doc, text)
            m = _ATTACHMENT.match(squash(text))
            if m and m[1] and not m[2]:  # `附件1` alone: the attachment's own document follows
                stack.clear()
                expect_title = True
                paragraphs.append(para)
                continue
        elif marker:
            para.kind = "heading" if marker.short else "text"
            _open_section(doc, stack, marker, root, para_start + 1)
        elif _is_signature(text, lines, j, end):
            para.kind = "signature"
        if was_expecting and para.kind != "title":
            expect_title = False
        para.section_path = path()
        paragraphs.append(para)
    flush_table()
    if not doc.date:  # merged or missing date line: take the first date glued to a short signature line
        for p in paragraphs:
            d = DATE_AT_END.search(p.text)
            if d and p.kind in ("signature", "text", "marker") and len(p.text) <= 40:
                doc.date = date_iso(d[1], d[2], d[3])
                break


def _first_body_line(lines: list[str], number_line: int) -> int:
    k = number_line + 1
    while k < len(lines) and not lines[k].strip():
        k += 1
    return k


def _is_addressee(text: str) -> bool:
    return text.rstrip().endswith(("：", ":")) and len(text) <= 80 and not _ADDRESSEE_STOP.search(text)


def _marker_only(before: str) -> bool:
    """Whether what precedes a disclosure marker is no content: nothing, a signature or a date."""
    rest = DATE_AT_END.sub("", squash(before))
    return not rest or bool(_ISSUER_ONLY.match(rest))


def _is_signature(text: str, lines: list[str], j: int, end: int) -> bool:
    k = j + 1
    while k <= end and not lines[k].strip():
        k += 1
    return k <= end and bool(DATE_LINE.match(lines[k].strip())) and len(text) <= 30 and not ends_with_final_punct(text)


def _closes_paragraph(text: str, marker: Marker | None) -> bool:
    if ends_with_final_punct(text) or DISCLOSURE.search(text[-12:]) or DATE_LINE.match(text):
        return True
    if _ISSUER_ONLY.match(squash(text)):  # a signature line
        return True
    # A stand-alone numbered heading (一、总体要求) has no final punctuation but ends its line.
    return bool(marker and marker.short and len(text) <= 40)


def _opens_paragraph(line: str, stack: list[tuple[Marker, str]], decimal_doc: bool) -> bool:
    """Whether the next line starts a new paragraph even though the current one lacks final punctuation."""
    if is_table_row(line) or DATE_LINE.match(line) or DISCLOSURE.match(line) or line.startswith("- "):
        return True
    if _ATTACHMENT.match(squash(line)) and len(line) <= 60:
        return True
    marker = parse_marker(line, decimal_doc)
    if not marker:
        return False
    # Only a heading that continues the open numbering counts: `二、` inside a broken sentence does not.
    for open_marker, _ in stack:
        if open_marker.kind == marker.kind:
            return marker.ordinal == open_marker.ordinal + 1
    return marker.ordinal == 1


def _open_section(doc: Document, stack: list[tuple[Marker, str]], marker: Marker, root: tuple[str, ...], line: int) -> None:
    kinds = [m.kind for m, _ in stack]
    if marker.kind in kinds:
        del stack[kinds.index(marker.kind):]
    elif marker.kind.startswith("dec"):
        depth = int(marker.kind[3:])
        while stack and stack[-1][0].kind.startswith("dec") and int(stack[-1][0].kind[3:]) >= depth:
            stack.pop()
    stack.append((marker, marker.label))
    section = Section(marker.label, marker.kind, line)
    siblings = doc.sections
    for depth_index in range(len(stack) - 1):
        if not siblings:
            break
        siblings = siblings[-1].children
    siblings.append(section)


def _add_attachments(doc: Document, text: str) -> None:
    body = re.sub(r"^附\s*件\s*\d*\s*[：:]?", "", text.strip()).strip()
    if not body:
        return
    parts = re.split(r"(?:^|\s+|(?<=[）)。；;]))\d{1,2}\s*[.．、]\s*", body)
    for part in [p.strip(" ；;。") for p in parts if p.strip(" ；;。")]:
        doc.attachments.append(Attachment(title=_OMITTED.sub("", part).strip(), omitted=bool(_OMITTED.search(part))))


_GROUP = re.compile(r"([\u4e00-\u9fff（）“”\d]{2,40}?(领导小组|工作专班|指挥部|委员会|工作组|专班|领导组|小组))")
# The verb or preposition a sentence introduces its group with (拟调整…领导小组 / 需对我市…领导小组 / 关于成立…专班).
_GROUP_LEAD = re.compile(r"^(?:拟|需|现|决定|研究)*(?:对|将|调整|成立|组建|设立|关于)+")
# A heading over a roster that names no group (二、组成人员): the group is named further up.
_MEMBERS_HEADING = re.compile(r"组成人员|人员组成|成员名单|人员名单")


def _group_name(paragraphs: list[Paragraph], table_index: int) -> str:
    """The group a roster belongs to: the nearest heading, sentence or title line above the table naming
    it; else that heading or title line itself. A heading that only says 组成人员 names the group further up."""
    heading = ""
    for p in reversed(paragraphs[:table_index]):
        if p.kind in ("heading", "text", "title") and p.text:
            name = _named_group(p.text)
            if name:
                return name
            if p.kind == "title":
                return heading or _short(p.text)
            if p.kind == "heading" and not heading:
                heading = _short(p.text)
                if not _MEMBERS_HEADING.search(p.text):
                    return heading
    return heading


_LIST_ROLE = re.compile(r"^[-—·•]\s*((?:常务)?副?组\s*长|成\s*员|副?主\s*任|副?总?指挥长?)\s*[：:]")


def _list_role(paragraphs: list[Paragraph], table_index: int) -> str:
    """The role label in force at the end of a roster list right above a table (- 成 员: 史连海 … / - 闫文翔 …):
    a table that continues the list (a page break in the source) continues its role."""
    for p in reversed(paragraphs[:table_index]):
        if p.kind != "text" or not p.text.startswith(("-", "—", "·", "•")):
            return ""
        m = _LIST_ROLE.match(p.text)
        if m:
            return squash(m[1])
    return ""


def _named_group(text: str) -> str:
    """The group a sentence names: the last one it introduces (成立/调整/对…: 对我市治理非法超限超载工作
    领导小组, not the provincial group it cites first), else its first mention. A bare 工作专班 or a
    short form (以下简称…) is no name."""
    text = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text)
    mentions = list(_GROUP.finditer(text))
    introduced = [m for m in mentions if _GROUP_LEAD.match(m[1])]
    for m in ([introduced[-1]] if introduced else []) + mentions[:1]:
        name = _GROUP_LEAD.sub("", m[1])
        rest = name[: len(name) - len(m[2])]
        if len(rest) >= 2 and rest != "工作" and "简称" not in name:
            return name
    return ""


def _short(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


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
