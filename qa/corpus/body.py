"""A document's body, shared by the gazette and the single-document parser: paragraphs rebuilt from
broken lines, the addressee, signature date, disclosure marker, attachments, tables/rosters and the
section tree from numbering (章/节/条, 一、/（一）/1./（1）, decimal) or from headings the file declares."""
from __future__ import annotations

import re

from qa.corpus.normalize import join_cjk_spaces, squash
from qa.corpus.structure import (
    DATE_AT_END,
    DATE_LINE,
    DISCLOSURE,
    TABLE_SEPARATOR,
    Marker,
    date_iso,
    ends_with_final_punct,
    is_table_row,
    looks_decimal_document,
    parse_marker,
)
from qa.corpus.tables import render_table
from qa.corpus.types import Attachment, Document, Paragraph, Section
from qa.vocabulary import GROUP_NOUNS, alternation

ISSUER_ONLY = re.compile(r"^[\u4e00-\u9fff（）()]{2,30}(人民政府办公室|人民政府|办公室|局|委员会|厅|中心)$")
_ADDRESSEE_STOP = re.compile(r"决定|研究|通过|如下|任命|免去|提名|根据|为了|经")
_ATTACHMENT = re.compile(r"^附\s*件\s*(\d*)\s*[：:]?\s*(.*)$")
_OMITTED = re.compile(r"[（(]\s*(略|见网络版)\s*[）)]")
_ISSUER_ONLY = ISSUER_ONLY


def read_body(lines: list[str], doc: Document, start: int, number_line: int, end: int,
              declared: dict[int, int] | None = None) -> None:
    """Rebuild paragraphs, find the addressee, signature date, disclosure marker, attachments and sections.
    `declared`: 0-based line -> level of a heading the file itself marks (Word heading styles, HTML <h2>,
    markdown `##`); such a line heads a section even without numbering."""
    paragraphs = doc.paragraphs
    for j in range(start, number_line + 1):
        if lines[j].strip():
            paragraphs.append(Paragraph(lines[j].strip(), j + 1, j + 1, "title"))
    decimal_doc = looks_decimal_document(lines[max(number_line, 0):end + 1])
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
        if marker is None and declared and i in declared:
            marker = Marker(f"h{declared[i]}", 1, _short(s), "", True)
        while not (declared and i in declared) and not _closes_paragraph(text, marker):
            k = j + 1
            while k <= end and not lines[k].strip():
                k += 1
            if k > end:
                break
            nxt = lines[k].strip()
            if (declared and k in declared) or _opens_paragraph(nxt, stack, decimal_doc):
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
    elif _declared_level(marker.kind):
        # A declared heading closes every open section down from the first declared one at its level or deeper.
        depth = _declared_level(marker.kind)
        cut = next((n for n, k in enumerate(kinds) if _declared_level(k) and _declared_level(k) >= depth), None)
        if cut is not None:
            del stack[cut:]
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


_GROUP = re.compile(rf"([\u4e00-\u9fff（）“”\d]{{2,40}}?({alternation(GROUP_NOUNS)}))")
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


def _declared_level(kind: str) -> int:
    """2 for a declared heading kind `h2`, 0 for numbering kinds."""
    return int(kind[1:]) if len(kind) == 2 and kind[0] == "h" and kind[1].isdigit() else 0
