"""Leave-one-issue-out folds of the eval set: which gazette issue each question is about.

An item's issues are its `issues` field when given, else the stems of its source files (2022-03.txt ->
2022-03). An item naming no issue (an unanswerable one written against no passage) is assigned to one
issue deterministically by its id (sha1), so the folds do not change between runs. A fold holds out one
issue: its test items are those whose first issue it is; its training items are those naming none of
the held-out issue's passages (a cross-issue item about the held-out issue never trains its fold).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.evaluation.items import EvalItem

# The 354 questions the project was tuned on before issue 12 (eval/sources/part_a, part_b): ids a001…, b001….
ORIGINAL_ID = re.compile(r"^[ab]\d{3}$")


def is_original(item_id: str) -> bool:
    return bool(ORIGINAL_ID.match(item_id))


def item_issues(item: EvalItem, all_issues: Sequence[str]) -> tuple[str, ...]:
    """The issues an item is about, sorted; one chosen by id when it names none."""
    if item.issues:
        return tuple(sorted(item.issues))
    named = sorted({re.sub(r"\.\w+$", "", f) for f in item.source_files if f})
    if named:
        return tuple(named)
    if not all_issues:
        return ()
    k = int(hashlib.sha1(item.id.encode("utf-8")).hexdigest(), 16) % len(all_issues)
    return (sorted(all_issues)[k],)


@dataclass(frozen=True)
class Fold:
    issue: str  # the held-out issue
    test: tuple[EvalItem, ...]
    train: tuple[EvalItem, ...]


def corpus_issues(items: Sequence[EvalItem]) -> list[str]:
    """The issues the items name (explicitly or by source file), sorted."""
    out: set[str] = set()
    for it in items:
        out.update(it.issues or (re.sub(r"\.\w+$", "", f) for f in it.source_files if f))
    return sorted(out)


def issue_folds(items: Sequence[EvalItem], issues: Sequence[str] | None = None) -> list[Fold]:
    """One fold per issue, in issue order; item order kept within each."""
    issues = sorted(issues) if issues else corpus_issues(items)
    about = {it.id: item_issues(it, issues) for it in items}
    folds = []
    for issue in issues:
        test = tuple(it for it in items if about[it.id][:1] == (issue,))
        train = tuple(it for it in items if issue not in about[it.id])
        folds.append(Fold(issue, test, train))
    return folds
