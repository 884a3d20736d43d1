"""What the parser reads out of a gazette issue."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ParagraphKind = Literal["text", "heading", "table", "list", "date", "signature", "marker", "attachment", "title"]
PersonnelAction = Literal["任命", "免去", "提名", "提名免去", "正式任职", "聘任", "解聘"]


@dataclass
class Paragraph:
    text: str  # verbatim lines joined (line breaks of the PDF removed)
    line_start: int  # 1-based, inclusive
    line_end: int
    kind: ParagraphKind = "text"
    section_path: tuple[str, ...] = ()
    readable: str = ""  # tables/rosters rendered as `组长：韩加政（副市长）` lines; empty otherwise


@dataclass
class Section:
    heading: str
    marker: str  # numbering style key: 章, 节, 条, cn, pcn, arabic, parabic, circled, dec1, dec2…
    line: int
    children: list["Section"] = field(default_factory=list)


@dataclass
class Attachment:
    title: str
    omitted: bool  # （略） / （见网络版）: only named in the gazette


@dataclass
class PersonnelRecord:
    person: str
    action: PersonnelAction
    post: str
    doc_number: str
    date: str
    issue: str
    line: int


@dataclass
class TocEntry:
    category: str
    title: str
    doc_number: str
    page: int | None
    line: int


@dataclass
class Document:
    issue: str
    position: int  # 1-based order in the issue body
    doc_number: str
    title: str  # canonical, from the body (issuer + 关于…)
    issuer: str
    addressee: str
    date: str  # signature date, ISO
    disclosure: str  # 此件公开发布 / 此件部分公开 / ''
    category: str  # from the TOC
    line_start: int
    line_end: int
    number_line: int
    attached_title: str = ""  # for cover notices: the title of the document they issue
    attachments: list[Attachment] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    personnel: list[PersonnelRecord] = field(default_factory=list)
    toc_title: str = ""
    toc_page: int | None = None

    @property
    def key(self) -> str:
        return f"{self.issue}#{self.position:02d}"


@dataclass
class Issue:
    issue: str  # "2022-03"
    year: int
    number: int
    total_number: int | None
    publish_date: str  # ISO
    source_file: str
    toc: list[TocEntry] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # TOC vs body self-check findings
