"""Personnel notices (人事任免) as records: person, action, post, document number, date, issue."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qa.corpus.normalize import squash

if TYPE_CHECKING:
    from qa.corpus.types import Document, PersonnelRecord

_CONTEXT = re.compile(r"(提名免去|提名|任命|免去|聘任|解聘)[：:]")
_NAME = r"[\u4e00-\u9fff·]{2,4}?"
_APPOINT = re.compile(rf"^(?P<name>{_NAME})为(?P<post>.+)$")
_NOMINATE = re.compile(rf"^(?P<name>{_NAME})任(?P<post>.+)$")
_REMOVE = re.compile(rf"^(?P<name>{_NAME})的(?P<post>.+?)职务(?:[（(][^）)]*[）)])*$")


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[；;。]", text) if c]


def extract_personnel(doc: "Document") -> list["PersonnelRecord"]:
    from qa.corpus.types import PersonnelRecord  # noqa: PLC0415 - avoid a cycle at import time

    body = [p for p in doc.paragraphs if p.kind in ("text", "heading")]
    if not any(_CONTEXT.search(squash(p.text)) or "审议通过" in p.text for p in body):
        return []
    confirm = "正式任职" in doc.title
    records: list[PersonnelRecord] = []
    action = "任命"
    for p in body:
        text = squash(p.text)
        # A context word may open the paragraph's tail: `…决定，任命：李海忠为…`.
        pieces = _CONTEXT.split(text)
        segments: list[tuple[str | None, str]] = [(None, pieces[0])]
        segments += [(pieces[n], pieces[n + 1]) for n in range(1, len(pieces) - 1, 2)]
        for ctx, segment in segments:
            if ctx:
                action = ctx
            for clause in _clauses(segment):
                rec = _record(clause, action)
                if rec:
                    person, act, post = rec
                    if confirm and act == "任命":
                        act = "正式任职"
                    records.append(PersonnelRecord(person, act, post, doc.doc_number, doc.date, doc.issue, p.line_start))
    return records


def _record(clause: str, action: str) -> tuple[str, str, str] | None:
    if action in ("免去", "提名免去", "解聘"):
        m = _REMOVE.match(clause)
        return (m["name"], action, m["post"]) if m else None
    if action == "提名":
        m = _NOMINATE.match(clause) or _APPOINT.match(clause)
        return (m["name"], action, m["post"]) if m else None
    m = _APPOINT.match(clause)
    if m and len(m["post"]) >= 3 and not any(w in clause for w in ("决定", "会议", "通知")):
        return (m["name"], action, m["post"])
    return None
