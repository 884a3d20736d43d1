"""Chunks from the section tree: sibling paragraphs of one section packed to a size that suits a
512-token embedding model, long sections split at sentence ends, never across documents.

Every document also gets one card chunk (title, number, issuer, date, addressee, category,
first paragraph) so "what is 阳政办发〔2022〕34号" and "which document covers X" find it.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qa.corpus.files import corpus_files
from qa.corpus.normalize import join_cjk_spaces, normalize_for_search
from qa.corpus.sources import load_source
from qa.corpus.tables import roster_persons
from qa.corpus.types import Document, Issue, Paragraph
from qa.models import Chunk, ChunkType
from qa.vocabulary import COLOPHON_LABELS

# Bump when the chunks of unchanged files change (parsing, packing, card contents): an index update
# then re-chunks every file instead of keeping stale rows.
CHUNKER_VERSION = "5"  # 4: collection and page fields; any file kind via qa.corpus.sources; 5: the colophon
MAX_CHARS = 450  # ~300-500 Chinese characters fit e5-small's 512 tokens with the header
MIN_CHARS = 150  # smaller sections are packed with their siblings
BODY_KINDS = {"text", "heading", "table", "list", "attachment", "title"}
_SENTENCE_END = re.compile(r"(?<=[。；！？;!?])")


@dataclass
class _Draft:
    paragraphs: list[Paragraph] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # verbatim pieces (a long paragraph may be split)
    kind: ChunkType = "text"

    @property
    def size(self) -> int:
        return sum(len(t) for t in self.texts)


def issue_label(issue: Issue) -> str:
    return f"{issue.year}年第{issue.number}期" if issue.kind == "gazette" else ""


def chunk_corpus(corpus_dir: Path, cache_dir: Path | None = None) -> list[Chunk]:
    return [c for path in corpus_files(corpus_dir) for c in chunk_file(path, corpus_dir, cache_dir=cache_dir)]


def chunk_file(path: Path, corpus_dir: Path | None = None, *, cache_dir: Path | None = None, ocr=None) -> list[Chunk]:
    """Chunks of one corpus file of any supported kind; source_file is its path relative to corpus_dir."""
    return chunk_issue(load_source(path, corpus_dir, cache_dir=cache_dir, ocr=ocr))


def chunk_issue(issue: Issue) -> list[Chunk]:
    chunks: list[Chunk] = []
    for doc in issue.documents:
        chunks.append(_card(issue, doc))
        chunks.extend(_body_chunks(issue, doc))
    colophon = issue.colophon_document()
    if colophon is not None:
        chunks.append(_colophon(issue, colophon))
    return chunks


def _colophon(issue: Issue, page: Document) -> Chunk:
    """The issue's colophon (主办单位, 地址, 邮编, 电话) as a passage of its own, so the publisher's address and
    postcode can be found and cited (Issue.colophon_document: it belongs to no document)."""
    colophon = page.paragraphs[0]
    body = join_cjk_spaces(colophon.text)
    for label, asked_as in COLOPHON_LABELS.items():
        body = re.sub(rf"^{label}(?=\s*[：:])", f"{label}（{asked_as}）", body, flags=re.M)
    return _make_chunk(issue, page, "text", colophon.text, body, colophon.line_start, colophon.line_end, ())


def _make_chunk(issue: Issue, doc: Document, kind: ChunkType, text: str, embed_body: str,
                line_start: int, line_end: int, section_path: tuple[str, ...], persons: Iterable[str] = ()) -> Chunk:
    short_title = doc.title[len(doc.issuer):] if doc.issuer and doc.title.startswith(doc.issuer) else doc.title
    header = " ".join(p for p in (issue_label(issue), doc.doc_number, doc.title) if p)
    if section_path:
        header += "\n" + " > ".join(section_path)
    embed_text = f"{header}\n{embed_body}"
    prefix = issue.source_id or issue.issue
    digest = hashlib.sha1(f"{prefix}|{doc.position}|{doc.doc_number}|{kind}|{'>'.join(section_path)}|{text}".encode()).hexdigest()[:16]
    page_start, page_line_start = issue.page_of(line_start)
    page_end, page_line_end = issue.page_of(line_end)
    return Chunk(
        chunk_id=f"{prefix}-{doc.position:02d}-{digest}",
        text=text,
        embed_text=embed_text,
        search_text=normalize_for_search(" ".join(p for p in (doc.doc_number, short_title, " ".join(section_path), embed_body) if p)),
        source_file=issue.source_file,
        line_start=line_start,
        line_end=line_end,
        issue=issue.issue,
        year=issue.year,
        doc_key=doc.key,
        doc_number=doc.doc_number,
        doc_title=doc.title,
        category=doc.category,
        section_path=section_path,
        chunk_type=kind,
        persons=tuple(dict.fromkeys(persons)),
        collection=issue.collection,
        page_start=page_start,
        page_end=page_end,
        page_line_start=page_line_start,
        page_line_end=page_line_end,
    )


def _card(issue: Issue, doc: Document) -> Chunk:
    """Title block, number, addressee, the first body paragraph and a signature and date right after
    it: contiguous verbatim lines."""
    head = [p for p in doc.paragraphs if p.line_start <= doc.number_line]
    rest = [p for p in doc.paragraphs if p.line_start > doc.number_line]
    first_body = next((p for p in rest if p.kind in ("text", "heading")), None)
    parts = head + [p for p in rest if first_body and p.line_start <= first_body.line_end]
    # A cover notice (印发…的通知) ends right there: its signature and date close the card, so the
    # card can answer 'when was it issued' with the date as printed.
    for p in rest[len(parts) - len(head):]:
        if p.kind not in ("signature", "date"):
            break
        parts.append(p)
    text = "\n".join(p.text for p in parts)
    facts = [
        f"文件：{doc.title}",
        f"文号：{doc.doc_number}" if doc.doc_number else "",
        f"发文机关：{doc.issuer}" if doc.issuer else "",
        f"成文日期：{doc.date}" if doc.date else "",
        f"主送：{doc.addressee}" if doc.addressee else "",
        f"类别：{doc.category}" if doc.category else "",
        f"印发：{doc.attached_title}" if doc.attached_title else "",
        "附件：" + "；".join(a.title for a in doc.attachments) if doc.attachments else "",
        first_body.text if first_body else "",
    ]
    return _make_chunk(issue, doc, "card", text, "\n".join(f for f in facts if f),
                       doc.line_start, parts[-1].line_end if parts else doc.number_line, ())


def _section_key(p: Paragraph) -> tuple[str, ...]:
    return p.section_path[:2]


def _body_chunks(issue: Issue, doc: Document) -> Iterator[Chunk]:
    record_lines = {r.line for r in doc.personnel}
    drafts: list[_Draft] = []
    current = _Draft()
    for p in (p for p in doc.paragraphs if p.line_start > doc.number_line):
        if p.kind not in BODY_KINDS:  # signature, date, markers: cite text stays contiguous
            if current.texts:
                drafts.append(current)
                current = _Draft()
            continue
        kind: ChunkType = "table" if p.kind == "table" else ("personnel" if p.line_start in record_lines else "text")
        if current.texts:
            section_changed = _section_key(p) != _section_key(current.paragraphs[0])
            kind_changed = (kind == "table") != (current.kind == "table")
            too_big = current.size + len(p.text) > MAX_CHARS
            if too_big or kind_changed or (section_changed and current.size >= MIN_CHARS):
                drafts.append(current)
                current = _Draft()
        if not current.texts:
            current.kind = "table" if kind == "table" else "text"
        if kind == "personnel":
            current.kind = "personnel"
        pieces = _split_long(p.text) if len(p.text) > MAX_CHARS else [p.text]
        for n, piece in enumerate(pieces):
            if n:  # each piece of a long paragraph becomes its own chunk
                drafts.append(current)
                current = _Draft(kind=current.kind if current.kind != "personnel" else "text")
            current.paragraphs.append(p)
            current.texts.append(piece)
    if current.texts:
        drafts.append(current)
    for draft in drafts:
        yield _from_draft(issue, doc, draft)


def _split_long(text: str) -> list[str]:
    """Split at sentence ends into pieces of at most MAX_CHARS (a sentence longer than that stays whole)."""
    pieces, buf = [], ""
    for sentence in (s for s in _SENTENCE_END.split(text) if s):
        if buf and len(buf) + len(sentence) > MAX_CHARS:
            pieces.append(buf)
            buf = ""
        buf += sentence
    if buf:
        pieces.append(buf)
    return pieces


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _from_draft(issue: Issue, doc: Document, draft: _Draft) -> Chunk:
    paras = draft.paragraphs
    text = "\n".join(draft.texts)
    readable = "\n".join(p.readable or t for p, t in zip(paras, draft.texts))
    persons: list[str] = []
    if draft.kind == "table":
        for p in paras:
            persons.extend(roster_persons(p.text))
    lines = range(paras[0].line_start, paras[-1].line_end + 1)
    for r in doc.personnel:
        if r.line in lines:
            persons.append(r.person)
    if draft.kind == "personnel":
        records = [f"{r.action}：{r.person}，{r.post}" for r in doc.personnel if r.line in lines]
        readable += "\n" + "\n".join(records)
    section_path = _common_prefix([p.section_path for p in paras]) or paras[0].section_path[:1]
    return _make_chunk(issue, doc, draft.kind, text, readable, paras[0].line_start, paras[-1].line_end, section_path, persons)
