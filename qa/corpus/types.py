"""What the parsers read out of a source file: a gazette issue of many documents, or one document."""
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
    page: int = 0  # page of line_start in a paged source (PDF, scan); 0 = not paged
    page_line: int = 0  # line_start's line on that page


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
    collection: str = ""
    source_id: str = ""  # the file's id in doc keys when it is not a gazette issue at the corpus root
    source_file: str = ""
    missing: list[str] = field(default_factory=list)  # title / doc_number / date / sections not found

    @property
    def key(self) -> str:
        return f"{self.source_id or self.issue}#{self.position:02d}"


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
    kind: str = "gazette"  # "gazette" (an issue of many documents) or "document" (one document)
    collection: str = ""  # the collection the file belongs to (its corpus folder, or a gazette's masthead)
    source_id: str = ""  # prefix of its documents' keys: the issue for a bundled gazette, else an id of the file
    masthead: str = ""  # the gazette's name as printed on its cover (阳泉市人民政府公报)
    # The trailing colophon (主办单位…地址…邮编…电话), its lines as printed: it belongs to no document.
    colophon: Paragraph | None = None
    reader: str = "text"  # the reader that gave the text (qa.ingest: pdf, docx, html, markdown, text, image)
    n_pages: int = 0
    ocr_pages: list[int] = field(default_factory=list)
    pages: list[int] = field(default_factory=list, repr=False)  # page of each line (1-based lines); empty = not paged
    page_lines: list[int] = field(default_factory=list, repr=False)  # that line's line on its page

    def colophon_document(self) -> Document | None:
        """The colophon as a document of its own, or None: position 0 (before every document of the issue),
        titled the masthead's 版权页 (colophon page), its lines its one paragraph."""
        if self.colophon is None:
            return None
        return Document(issue=self.issue, position=0, doc_number="", title=f"{self.masthead}版权页", issuer="",
                        addressee="", date="", disclosure="", category="", line_start=self.colophon.line_start,
                        line_end=self.colophon.line_end, number_line=self.colophon.line_start,
                        paragraphs=[self.colophon], collection=self.collection, source_id=self.source_id,
                        source_file=self.source_file)

    def page_of(self, line: int) -> tuple[int, int]:
        """(page, line on the page) of a 1-based line; (0, 0) for a source without pages."""
        if 1 <= line <= len(self.pages) and self.pages[line - 1]:
            return self.pages[line - 1], self.page_lines[line - 1]
        return 0, 0
