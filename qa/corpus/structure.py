"""Line-level recognisers: headings and their numbering, dates, markers, table rows.

A heading is only a heading at the start of a rebuilt paragraph; the parser decides that.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

FINAL_PUNCT = "。！？；：…!?;:"
DATE_LINE = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*$")
DATE_AT_END = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*$")
DISCLOSURE = re.compile(r"[（(]\s*(此件[^）)]{2,10})\s*[）)]")
DOCNO_LINE = re.compile(
    r"^\s*[\u4e00-\u9fff]{2,10}\s*[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]\s*\d{1,4}\s*号\s*$"
)
CATEGORY = re.compile(r"^\s*【\s*(.+?)\s*】\s*$")
TABLE_SEPARATOR = re.compile(r"^\s*\|?[\s|:\-]*\|[\s|:\-]*$")
# The gazette's name on its cover (阳泉市人民政府公报), a line with its spaces taken out.
MASTHEAD = re.compile(r"^[\u4e00-\u9fff（）()]{2,30}公报$")


def cn_to_int(s: str) -> int:
    """一 -> 1, 十二 -> 12, 二十三 -> 23, 一百零五 -> 105."""
    if s.isdigit():
        return int(s)
    total, current = 0, 0
    for ch in s:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = CN_DIGITS.get(ch, 0)
    return total + current


def date_iso(y: str, m: str, d: str) -> str:
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def is_table_row(line: str) -> bool:
    s = line.strip()
    return "\t" in s or (s.startswith("|") and s.count("|") >= 2)


def ends_with_final_punct(text: str) -> bool:
    s = text.rstrip()
    return bool(s) and s[-1] in FINAL_PUNCT


def strip_bullet(line: str) -> str:
    s = line.strip()
    if s.startswith("- "):
        s = s[2:].lstrip()
    return s.replace("**", "")


@dataclass(frozen=True)
class Marker:
    kind: str  # 章 节 条 cn pcn arabic parabic circled decN
    ordinal: int
    label: str  # the heading as shown in a section path, e.g. （一）指导思想
    rest: str  # text after the numbering
    short: bool  # a stand-alone heading line (no sentence after it)


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("章", re.compile(r"^第\s*([一二三四五六七八九十百零〇\d]+)\s*章\s*(.*)$")),
    ("节", re.compile(r"^第\s*([一二三四五六七八九十百零〇\d]+)\s*节\s*(.*)$")),
    ("条", re.compile(r"^第\s*([一二三四五六七八九十百零〇\d]+)\s*条\s*(.*)$")),
    ("pcn", re.compile(r"^[（(]\s*([一二三四五六七八九十]+)\s*[）)]\s*(.*)$")),
    ("cn", re.compile(r"^([一二三四五六七八九十]+)\s*[、.．]\s*(.*)$")),
    ("parabic", re.compile(r"^[（(]\s*(\d{1,3})\s*[）)]\s*(.*)$")),
    ("circled", re.compile(rf"^([{CIRCLED}])\s*(.*)$")),
    ("dec", re.compile(r"^(\d{1,2}(?:\s*\.\s*\d{1,2})+)\.?\s+(\S.*)$")),
    ("arabic", re.compile(r"^(\d{1,3})\s*[、.．](?!\d)\s*(.*)$")),
    ("dec1", re.compile(r"^(\d{1,2})\s+([^\d\s年月日%％个万亿元].*)$")),
]

# A numbered run like 二、三、四中全会 is a sentence fragment, not a heading.
_ENUM_RUN = re.compile(r"^[一二三四五六七八九十\d]+\s*[、,，]")


def parse_marker(line: str, decimal_doc: bool) -> Marker | None:
    s = unicodedata.normalize("NFKC", strip_bullet(line)).strip()
    s = s.replace("（", "(").replace("）", ")")
    raw = strip_bullet(line).strip()
    for kind, pat in _PATTERNS:
        m = pat.match(s)
        if not m:
            continue
        num, rest = m.group(1), m.group(2).strip()
        if kind == "dec1" and not decimal_doc:
            return None
        if kind in ("cn", "arabic") and _ENUM_RUN.match(rest):
            return None
        if kind == "dec":
            parts = [p for p in re.split(r"\s*\.\s*", num) if p]
            kind, ordinal = f"dec{len(parts)}", int(parts[-1])
            if not decimal_doc:
                return None
        elif kind == "dec1":
            ordinal = int(num)
        elif kind == "circled":
            ordinal = CIRCLED.index(num) + 1
        else:
            ordinal = cn_to_int(num)
        if ordinal == 0:
            return None
        prefix_len = len(s) - len(rest)
        label = _heading_label(raw, prefix_len)
        short = len(rest) <= 40 and not any(p in rest for p in "。；;")
        return Marker(kind, ordinal, label, rest, short)
    return None


def _heading_label(raw: str, prefix_len: int) -> str:
    """The heading part of a numbered paragraph: up to the first sentence stop, at most 40 chars."""
    head = re.split(r"[。；;：:]", raw[prefix_len:], maxsplit=1)[0]
    label = (raw[:prefix_len] + head).strip()
    label = re.sub(r"\s+", " ", label)
    return label if len(label) <= 40 else label[:40] + "…"


def looks_decimal_document(lines: list[str]) -> bool:
    """Emergency plans number sections 1, 1.1, 4.3.1.2: enable decimal headings when several x.y lines exist."""
    count = sum(1 for ln in lines if re.match(r"^\s*\d{1,2}\.\d{1,2}(?:\.\d{1,2})*\s+\S", ln))
    return count >= 3
