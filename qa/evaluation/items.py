"""The eval question set as typed records (eval/questions.jsonl)."""
from __future__ import annotations

import json
import random
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
    issues: tuple[str, ...] = ()  # the gazette issues the item is about (folds); empty: from source_files

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
            issues=tuple(d.get("issues") or ()),
        )


def load_items(path: Path | str, types: Iterable[str] | None = None, limit: int | None = None,
               every: int = 1, seed: int = 0) -> list[EvalItem]:
    """Items in file order, filtered by type, then every n-th, then a sample of `limit` stratified by type and
    language (stratified_sample), still in file order."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [EvalItem.from_dict(r) for r in rows]
    wanted = {t.strip() for t in types or () if t.strip()}
    if wanted:
        unknown = wanted - {i.type for i in items}
        if unknown:
            raise ValueError(f"no questions of type {sorted(unknown)}; known: {sorted({i.type for i in items})}")
        items = [i for i in items if i.type in wanted]
    items = items[:: max(1, every)]
    return stratified_sample(items, limit, seed) if limit else items


def stratified_sample(items: list[EvalItem], n: int, seed: int = 0) -> list[EvalItem]:
    """n items with every (type, language) group represented in proportion to its size (largest remainders),
    at least one item from each group while n allows (the largest groups first), each group's items drawn at
    random with `seed`; returned in file order. The first n in file order would be all of one kind (the set
    starts with answerable Chinese questions), so a quick run would say nothing about refusals."""
    if n >= len(items):
        return list(items)
    groups: dict[tuple[str, str], list[int]] = {}
    for pos, item in enumerate(items):
        groups.setdefault((item.type, item.lang), []).append(pos)
    keys = sorted(groups, key=lambda k: (-len(groups[k]), k))  # deterministic: by size, then name
    quota = dict.fromkeys(keys, 0)
    for k in keys[:n]:  # one each first, so no group is left out while n allows
        quota[k] = 1
    rest = n - sum(quota.values())
    if rest > 0:
        share = {k: (len(groups[k]) - quota[k]) * rest / (len(items) - sum(quota.values())) for k in keys}
        for k in keys:
            quota[k] += int(share[k])
        left = n - sum(quota.values())
        for k in sorted(keys, key=lambda k: (-(share[k] - int(share[k])), keys.index(k)))[:left]:
            quota[k] += 1
    rng = random.Random(seed)
    chosen = sorted(pos for k in keys for pos in rng.sample(groups[k], quota[k]))
    return [items[pos] for pos in chosen]
