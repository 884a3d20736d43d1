"""Web pages (HTML, BeautifulSoup): the main content's blocks as lines, tables as tab-separated rows.

Pages saved from government sites carry menus, banners and footers: <main>/<article> or the largest
content container is read, and nav/header/footer/aside/script/style are dropped.
"""
from __future__ import annotations

import re
from pathlib import Path

from qa.ingest.detect import decode_text
from qa.ingest.types import ExtractedText

_BLOCKS = ("p", "div", "section", "article", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote",
           "tr", "table", "ul", "ol", "dl", "dt", "dd", "center", "form", "br", "hr")
_DROP = ("script", "style", "noscript", "nav", "header", "footer", "aside", "iframe", "select", "button", "template")
_CONTENT_HINT = re.compile(r"content|article|zoom|TRS_Editor|main|detail|text", re.I)


def read_html(path: Path) -> ExtractedText:
    from bs4 import BeautifulSoup  # noqa: PLC0415

    raw = Path(path).read_bytes()
    soup = BeautifulSoup(decode_text(raw, path), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    root = _content_root(soup)
    # Mark headings before flattening, then rebuild lines: a block ends its line, a cell ends with a tab.
    marks: dict[str, int] = {}
    for n, h in enumerate(root.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])):
        key = f"\u0001H{n}\u0001"
        marks[key] = int(h.name[1])
        h.insert(0, key)
    for cell in root.find_all(["td", "th"]):
        cell.append("\t")
    for block in root.find_all(_BLOCKS):
        block.append("\n")
        if block.name == "br":
            block.replace_with("\n")
    text = root.get_text("")
    lines: list[str] = []
    levels: dict[int, int] = {}
    for raw_line in text.split("\n"):
        line = raw_line.replace("\xa0", " ").strip(" \t\r\u3000")
        line = re.sub(r"[ \u3000]{2,}", " ", line)
        line = re.sub(r"\t\s*", "\t", line).strip("\t")
        for key, level in marks.items():
            if key in line:
                line = line.replace(key, "").strip()
                levels[len(lines) + 1] = level
        if line or (lines and lines[-1]):
            lines.append(line)
    h1 = root.find("h1")
    title_hint = h1.get_text(" ", strip=True).replace("\u0001", "") if h1 else title
    title_hint = re.sub(r"\u0001H\d+\u0001", "", title_hint).strip()
    return ExtractedText("html", lines, title_hint=title_hint, heading_levels=levels)


def _content_root(soup):
    for name in ("main", "article"):
        tag = soup.find(name)
        if tag and len(tag.get_text(strip=True)) > 20:
            return tag
    body = soup.body or soup
    best, best_len = None, 0
    for tag in body.find_all(["div", "section", "td"], attrs={"class": _CONTENT_HINT}) + body.find_all(
            ["div", "section"], attrs={"id": _CONTENT_HINT}):
        n = len(tag.get_text(strip=True))
        if n > best_len:
            best, best_len = tag, n
    # A content container holding most of the page's text: read it alone (less menu noise).
    if best is not None and best_len >= 0.5 * len(body.get_text(strip=True)):
        return best
    return body
