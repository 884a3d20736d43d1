"""Read one government document (any layout, any government) into the same Document the gazette parser gives.

Where the parts are: a document number (文号) on a line of its own, above the title (red-header style:
`XX人民政府文件` / 文号 / title) or below it (gazette style: title / 文号); the title is the first short
line block that names a document (关于…的通知, …办法, …方案), else a heading the file declares, else the
file name. The body (addressee, sections from numbering, tables, signature date, disclosure marker,
attachments) is read by the same code as a gazette document's. What could not be found is listed in
Document.missing, so `qa corpus stats` can report it; nothing here is required for a file to be indexed.
"""
from __future__ import annotations

import re
from pathlib import Path

from qa.corpus.body import ISSUER_ONLY, read_body
from qa.corpus.normalize import canonical_form, join_cjk_spaces, squash
from qa.corpus.personnel import extract_personnel
from qa.corpus.structure import CN_DIGITS, DOCNO_LINE, cn_to_int, date_iso, ends_with_final_punct, is_table_row, parse_marker
from qa.corpus.types import Document, Issue

HEAD_LINES = 25  # the title block and number are among the first non-empty lines
_DOC_TYPES = ("通知", "意见", "办法", "规定", "方案", "决定", "通告", "公告", "批复", "报告", "函", "细则", "规划",
              "纲要", "预案", "条例", "规则", "决议", "命令", "请示", "纪要", "通报", "指引", "指南", "标准", "计划",
              "制度", "章程", "守则", "须知", "说明", "要点", "措施", "公报", "答复", "复函")
_ENDS_TYPE = re.compile("(?:" + "|".join(_DOC_TYPES) + r")(?:[（(].{1,12}[）)])?$")
_TITLE_LIKE = re.compile("关于|" + _ENDS_TYPE.pattern)
_RED_HEADER = re.compile(r"^(.{2,40}?)\s*文\s*件$")  # XX市人民政府文件
_DOCNO_LEAD = re.compile(r"^\s*([\u4e00-\u9fff]{2,10}\s*[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]\s*\d{1,4}\s*号)\s+\S.{0,30}$")
_CN_DATE = re.compile(r"([二〇零○一三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日\s*$")
_DATE_ANY = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def parse_single(lines: list[str], source_file: str, *, source_id: str, collection: str = "",
                 title_hint: str = "", declared: dict[int, int] | None = None) -> Issue:
    """One document from the lines of a file. `declared`: 1-based line -> level of headings the file marks."""
    nonempty = [i for i, ln in enumerate(lines) if ln.strip()]
    if not nonempty:
        raise ValueError(f"{source_file}: no text")
    first, last = nonempty[0], nonempty[-1]
    head = nonempty[:HEAD_LINES]
    number_line = _number_line(lines, head)
    issuer = ""
    title_block: list[int] = []
    if number_line is not None:
        above = _block_above(lines, number_line, first)
        joined_above = _joined(lines, above)
        red = _RED_HEADER.match(joined_above) if above else None
        if above and _TITLE_LIKE.search(joined_above) and not red:
            title_block = above  # gazette style: title, then number
        else:
            if red:
                issuer = squash(red[1])
            title_block = _block_below(lines, number_line, last)
    else:
        title_block = _title_block(lines, head, title_hint)
    header_end = max([*title_block, number_line if number_line is not None else -1])
    start = min([*title_block, number_line if number_line is not None else first, first])
    if header_end < 0:
        header_end = first - 1
    title = _joined(lines, title_block) or title_hint.strip() or Path(source_file).stem
    if not issuer:
        issuer = _issuer(title, lines, title_block)
    doc = Document(
        issue="", position=1,
        doc_number=canonical_form(lines[number_line]) if number_line is not None else "",
        title=title, issuer=issuer, addressee="", date="", disclosure="", category="",
        line_start=start + 1, line_end=last + 1, number_line=header_end + 1,
        collection=collection, source_id=source_id, source_file=source_file,
    )
    zero_based = {k - 1: v for k, v in (declared or {}).items() if k - 1 > header_end}
    read_body(lines, doc, start, header_end, last, zero_based)
    if not doc.date:
        _cn_date(doc)
    if not doc.issuer:
        sig = next((p.text for p in doc.paragraphs if p.kind == "signature"), "")
        doc.issuer = squash(sig) if sig and len(sig) <= 30 else ""
    doc.personnel = extract_personnel(doc)
    doc.missing = [what for what, ok in (("标题", bool(title_block) or bool(title_hint.strip())),
                                         ("文号", bool(doc.doc_number)), ("日期", bool(doc.date)),
                                         ("章节", bool(doc.sections))) if not ok]
    year = int(doc.date[:4]) if doc.date else 0
    return Issue(issue="", year=year, number=0, total_number=None, publish_date=doc.date, source_file=source_file,
                 documents=[doc], kind="document", collection=collection, source_id=source_id)


def _number_line(lines: list[str], head: list[int]) -> int | None:
    for i in head:
        if DOCNO_LINE.match(lines[i]):
            return i
    for i in head:  # 临政办发〔2024〕7号   签发人：张三
        m = _DOCNO_LEAD.match(lines[i])
        if m and ("签发" in lines[i] or len(lines[i].strip()) - len(m[1]) <= 20):
            return i
    return None


def _is_title_piece(line: str) -> bool:
    s = line.strip()
    return bool(s) and len(s) <= 60 and not ends_with_final_punct(s) and not DOCNO_LINE.match(s) \
        and not is_table_row(s) and not _DATE_ANY.search(s) and parse_marker(s, decimal_doc=False) is None \
        and "：" not in s and ":" not in s


def _block_above(lines: list[str], number_line: int, floor: int) -> list[int]:
    """Up to 4 title-like lines right above the number line."""
    out: list[int] = []
    j = number_line - 1
    while j >= floor and len(out) < 4:
        if not lines[j].strip():
            j -= 1
            continue
        if not _is_title_piece(lines[j]):
            break
        out.insert(0, j)
        if ISSUER_ONLY.match(squash(lines[j])):
            break
        j -= 1
    return out


def _block_below(lines: list[str], number_line: int, last: int) -> list[int]:
    """The title under a red-header number: up to 3 lines, ending at the first one that closes a title."""
    out: list[int] = []
    j = number_line + 1
    while j <= last and len(out) < 3:
        if not lines[j].strip():
            j += 1
            continue
        if not _is_title_piece(lines[j]):
            break
        out.append(j)
        if _ENDS_TYPE.search(squash(lines[j])):
            break
        j += 1
    return out if _TITLE_LIKE.search(_joined(lines, out)) else []


def _title_block(lines: list[str], head: list[int], title_hint: str) -> list[int]:
    """No number: the file's declared title if it is in the text, else the first title-like line block."""
    hint = squash(title_hint)
    if hint:
        for i in head[:10]:
            s = squash(lines[i])
            if s and (s == hint or (len(s) >= 4 and s in hint)):
                block = [i]
                k = head.index(i) + 1
                while k < len(head) and len(block) < 3 and squash(_joined(lines, block)) != hint \
                        and squash(lines[head[k]]) in hint:
                    block.append(head[k])
                    k += 1
                return block
    for n, i in enumerate(head[:12]):
        if not _is_title_piece(lines[i]):
            continue
        block = [i]
        for k in head[n + 1:n + 3]:
            if k != block[-1] + 1 and lines[block[-1] + 1].strip():
                break
            if not _is_title_piece(lines[k]) or _ENDS_TYPE.search(squash(lines[block[-1]])):
                break
            block.append(k)
        if _TITLE_LIKE.search(_joined(lines, block)):
            return block
        if _TITLE_LIKE.search(_joined(lines, block[:1])):
            return block[:1]
    return []


def _joined(lines: list[str], idx: list[int]) -> str:
    text = join_cjk_spaces(" ".join(lines[i].strip().replace("**", "") for i in idx)).strip()
    return re.sub(r"\s+", "", text) if re.search(r"[\u4e00-\u9fff]", text) else text


def _issuer(title: str, lines: list[str], title_block: list[int]) -> str:
    if title_block and ISSUER_ONLY.match(squash(lines[title_block[0]])) and len(title_block) > 1:
        return squash(lines[title_block[0]])
    if "关于" in title and not title.startswith("关于"):
        return title.split("关于", 1)[0]
    return ""


def _cn_date(doc: Document) -> None:
    """二〇二四年三月五日 on a short line: the signature date written in Chinese numerals."""
    for p in reversed(doc.paragraphs):
        m = _CN_DATE.search(p.text.strip())
        if m and len(p.text.strip()) <= 30:
            y = "".join(str(CN_DIGITS.get(ch, 0)) for ch in m[1].replace("○", "〇"))
            doc.date = date_iso(y, str(cn_to_int(m[2])), str(cn_to_int(m[3])))
            p.kind = "date"
            return

