"""The eval question set as typed records (eval/questions.jsonl)."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answer: str  # the reference answer (for reading; scoring uses must_contain)
    must_contain: tuple[str, ...]
    type: str
    lang: str
    source_files: tuple[str, ...]
    doc_number: str
    evidence: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @classmethod
    def from_dict(cls, d: dict) -> "EvalItem":
        src = d.get("source_file") or ()
        return cls(
            id=d["id"], question=d["question"], answer=d.get("answer", ""),
            must_contain=tuple(d.get("must_contain") or ()), type=d["type"], lang=d.get("lang", "zh"),
            source_files=tuple(src) if isinstance(src, list) else (src,),
            doc_number=d.get("doc_number") or "", evidence=tuple(d.get("evidence") or ()),
        )


def load_items(path: Path | str, types: Iterable[str] | None = None, limit: int | None = None,
               every: int = 1) -> list[EvalItem]:
    """Items in file order, filtered by type, then every n-th, then the first `limit`."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [EvalItem.from_dict(r) for r in rows]
    wanted = {t.strip() for t in types or () if t.strip()}
    if wanted:
        unknown = wanted - {i.type for i in items}
        if unknown:
            raise ValueError(f"no questions of type {sorted(unknown)}; known: {sorted({i.type for i in items})}")
        items = [i for i in items if i.type in wanted]
    items = items[:: max(1, every)]
    return items[:limit] if limit else items
