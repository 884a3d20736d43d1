"""Run the question set through each system and score every item.

For each question: system.search(question, top_k=10) gives the retrieval figures, system.ask(question)
(for gazette-qa: GazetteService.ask, the API's code path) gives the answer figures.
"""
from __future__ import annotations

import logging
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from qa.config import PROJECT_ROOT
from qa.corpus.normalize import squash
from qa.evaluation.items import EvalItem
from qa.evaluation.metrics import (ItemRecord, answer_scores, breakdown, count_relevant, failures, latency,
                                   retrieval_scores, summarise)
from qa.evaluation.systems import EvalSystem

log = logging.getLogger(__name__)

SEARCH_K = 10


@dataclass
class SystemRun:
    system: str
    records: list[ItemRecord]
    config: dict
    seconds: float

    def figures(self) -> dict:
        return {
            "overall": summarise(self.records),
            "by_type": breakdown(self.records, lambda r: r.type),
            "by_lang": breakdown(self.records, lambda r: r.lang),
            "latency_ms": latency(self.records),
            "seconds": round(self.seconds, 1),
            "config": self.config,
            "failures": [{**f, "answer": _clip(f["answer"])} for f in failures(self.records)],
            "items": [_compact(r) for r in self.records],
        }


ANSWER_CHARS_KEPT = 300  # the baseline's answers are whole passages: the report keeps their start


def _compact(r: ItemRecord) -> dict:
    """A per-item row for the report: the question text is in the question set (by id) and the
    retrieved passages are listed for failures, so neither is repeated here."""
    d = r.to_dict()
    del d["question"], d["top5"]
    d["answer"] = _clip(d["answer"])
    return d


def _clip(text: str) -> str:
    return text if len(text) <= ANSWER_CHARS_KEPT else text[:ANSWER_CHARS_KEPT] + "…"


def score_item(system: EvalSystem, item: EvalItem, collection: Sequence[str]) -> ItemRecord:
    t0 = time.perf_counter()
    passages = system.search(item.question, SEARCH_K)
    search_ms = (time.perf_counter() - t0) * 1000
    retrieval = None
    if item.answerable:
        n_rel = count_relevant(collection, item.evidence)
        retrieval = retrieval_scores([p.text for p in passages], item.evidence, n_rel)
    ans = system.ask(item.question)
    scores = answer_scores(item.answerable, item.must_contain, item.evidence, ans.answer, ans.answered,
                           [p.text for p in ans.cited])
    return ItemRecord(
        id=item.id, question=item.question, type=item.type, lang=item.lang, answerable=item.answerable,
        must_contain=list(item.must_contain), answer=ans.answer, answered=ans.answered, accuracy=scores.accuracy,
        citation_precision=scores.citation_precision, citation_recall=scores.citation_recall,
        n_citations=len(ans.cited), retrieval=retrieval,
        timings_ms={k: round(v, 2) for k, v in {"search": search_ms, **ans.timings_ms}.items()},
        top5=[p.brief() for p in passages[:5]],
    )


def error_record(item: EvalItem, exc: Exception) -> ItemRecord:
    zeros = {k: 0.0 for k in retrieval_scores([], item.evidence, 0)} if item.answerable else None
    return ItemRecord(id=item.id, question=item.question, type=item.type, lang=item.lang, answerable=item.answerable,
                      must_contain=list(item.must_contain), answer="", answered=False, accuracy=0.0,
                      retrieval=zeros, error=f"{type(exc).__name__}: {exc}")


def evaluate(system: EvalSystem, items: Sequence[EvalItem], progress: bool = True) -> SystemRun:
    t0 = time.perf_counter()
    collection = [squash(t) for t in system.collection()]  # squashed once: nDCG's ideal counts scan it per item
    records = []
    for item in tqdm(items, desc=f"eval {system.name}", unit="q", disable=not progress):
        try:
            records.append(score_item(system, item, collection))
        except Exception as exc:  # one broken item is a figure (errors, scored 0), not the end of a long run
            log.exception("eval %s: item %s raised", system.name, item.id)
            records.append(error_record(item, exc))
    return SystemRun(system.name, records, system.describe(), time.perf_counter() - t0)


def git_state(root: Path = PROJECT_ROOT) -> dict:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def build_report(name: str, runs: Sequence[SystemRun], questions: Path | str, selection: dict) -> dict:
    """All figures of one eval run, one entry per system (gazette-qa first)."""
    return {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "questions": str(questions),
        "selection": selection,
        "git": git_state(),
        "python": platform.python_version(),
        "systems": {run.system: run.figures() for run in runs},
    }


# ------------------------------------------------------------------------------------ cross-validation

# The figures the in-sample vs cross-validated gap is judged on (issue 12: a gap > 0.03 is overfitting).
GAP_METRICS = ("refusal_rate", "answered_rate", "correct_among_answered", "citation_precision", "citation_recall",
               "hit@5", "mrr@10", "accuracy")
OVERFIT_GAP = 0.03

SystemFactory = Callable[[Sequence[EvalItem]], EvalSystem]  # a system fitted on the given training items


@dataclass
class CvRun:
    """Leave-one-issue-out: each fold's items scored by the system fitted without that issue, and the
    same items scored in-sample (fitted on all)."""

    system: str
    folds: dict[str, list[ItemRecord]]  # held-out issue -> its items' records
    in_sample: SystemRun
    fitted: bool  # False: nothing is fitted to the items, so cross-validated = in-sample
    fold_config: dict[str, dict]
    in_sample_system: EvalSystem | None = None  # the system fitted on all items

    @property
    def pooled(self) -> SystemRun:
        records = [r for recs in self.folds.values() for r in recs]
        order = {r.id: k for k, r in enumerate(self.in_sample.records)}
        records.sort(key=lambda r: order.get(r.id, len(order)))
        return SystemRun(self.system, records, self.in_sample.config, self.in_sample.seconds)

    def figures(self, original: Callable[[str], bool]) -> dict:
        pooled = summarise(self.pooled.records)
        ins = summarise(self.in_sample.records)
        gap = {m: (None if ins.get(m) is None or pooled.get(m) is None else round(ins[m] - pooled[m], 4))
               for m in GAP_METRICS}
        orig_cv = [r for r in self.pooled.records if original(r.id)]
        orig_in = [r for r in self.in_sample.records if original(r.id)]
        new_cv = [r for r in self.pooled.records if not original(r.id)]
        new_in = [r for r in self.in_sample.records if not original(r.id)]
        return {
            "fitted": self.fitted,
            "folds": {issue: {**summarise(recs), "latency_ms": latency(recs), "config": self.fold_config.get(issue, {})}
                      for issue, recs in self.folds.items()},
            "pooled": pooled,
            "in_sample": ins,
            "gap": gap,
            "overfit": [m for m, g in gap.items() if g is not None and g > OVERFIT_GAP],
            "original": {"pooled": summarise(orig_cv) if orig_cv else None,
                         "in_sample": summarise(orig_in) if orig_in else None},
            "new": {"pooled": summarise(new_cv) if new_cv else None,
                    "in_sample": summarise(new_in) if new_in else None},
        }


def evaluate_cv(factory: SystemFactory, items: Sequence[EvalItem], fitted: bool, progress: bool = True) -> CvRun:
    """Score `items` leave-one-issue-out. `fitted` False (today's hand-set rules, the baseline): one run,
    split by fold."""
    from qa.evaluation.folds import issue_folds  # noqa: PLC0415

    folds = issue_folds(items)
    whole = factory(items)
    in_sample = evaluate(whole, items, progress)
    by_id = {r.id: r for r in in_sample.records}
    out: dict[str, list[ItemRecord]] = {}
    config: dict[str, dict] = {}
    for fold in folds:
        if not fold.test:
            continue
        if not fitted:
            out[fold.issue] = [by_id[it.id] for it in fold.test]
            continue
        system = factory(fold.train)
        out[fold.issue] = evaluate(system, fold.test, progress).records
        described = system.describe()
        config[fold.issue] = {**described.get("decision", {}),
                              **({"ranker": described["ranker"]} if described.get("ranker") else {})}
    return CvRun(in_sample.system, out, in_sample, fitted, config, whole)
