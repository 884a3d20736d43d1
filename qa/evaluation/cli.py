"""`qa eval`: the command function; the main CLI registers it with app.command("eval")(eval_command)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.config import PROJECT_ROOT

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
# Template questions generated from the parsed structure: training only, never in the eval figures.
DEFAULT_TRAINING = PROJECT_ROOT / "eval" / "training_questions.jsonl"
BASELINES = ("langchain",)
RANKERS = ("fusion", "learned")


def eval_command(
    questions: Annotated[Path, typer.Option("--questions", exists=True, dir_okay=False, metavar="FILE",
                                            help="Question set (JSONL).", show_default="eval/questions.jsonl")] = DEFAULT_QUESTIONS,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", min=1, metavar="N", show_default="all questions",
        help="A sample of N questions (after --types), stratified by type and language: each (type, language) "
             "group in proportion to its size and at least one question from each while N allows, drawn at "
             "random with --seed, so the same N and seed always give the same questions.")] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="INT", help="Seed of the --limit sample.")] = 0,
    types: Annotated[Optional[str], typer.Option("--types", metavar="LIST", show_default="all types",
                                                 help="Comma-separated question types, e.g. fact,number.")] = None,
    out: Annotated[str, typer.Option("--out", metavar="NAME", help="Report name: writes NAME.{json,md,png} in the "
                                     "reports dir; the default name is git-ignored, name a report to keep it.")] = "latest",
    baseline: Annotated[Optional[str], typer.Option("--baseline", metavar="NAME", show_default="none",
                                                    help="Also score a baseline side by side: langchain.")] = None,
    compare: Annotated[Optional[Path], typer.Option("--compare", exists=True, dir_okay=False, metavar="FILE", show_default="none",
                                                    help="A previous report .json to print the delta against.")] = None,
    index: Annotated[Optional[Path], typer.Option("--index", metavar="DIR", help="Index directory.",
                                                  show_default="QA_INDEX_DIR, else index/default")] = None,
    reports_dir: Annotated[Optional[Path], typer.Option("--reports-dir", metavar="DIR", help="Where reports go.",
                                                        show_default="eval/reports")] = None,
    cv: Annotated[Optional[str], typer.Option("--cv", metavar="KIND", show_default="none",
                                              help="Cross-validate: 'issue' = leave one gazette issue out; every fitted "
                                                   "part (the trained answer decision, the learned ranker) is refitted without the held-out issue.")] = None,
    decision: Annotated[Optional[str], typer.Option("--decision", metavar="LIST", show_default="QA_ANSWER_DECISION",
                                                    help="The answer decision(s) to score: rules, trained, or both as "
                                                         "'rules,trained' (one run, one report). With --cv the trained one "
                                                         "is refitted per fold.")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Also score each decision with the answer gate (qa/answer/gate.py) "
                                       "asked before answering: the shipped gate, or with --cv (rules) one refitted per fold "
                                       "on the other issues' questions. Systems gazette-qa-DECISION and gazette-qa-DECISION-gate.")] = False,
    crossenc: Annotated[bool, typer.Option("--crossenc", help="With --cv --gate: the gate also reads the answer cross-encoder "
                                           "(qa/answer/crossenc.py), fine-tuned per fold on the other issues' questions; the "
                                           "report's gate_comparison gives the gate without it and the cross-encoder alone.")] = False,
    no_extra: Annotated[bool, typer.Option("--no-extra", help="With --cv: fit without the template training questions "
                                           "(eval/training_questions.jsonl), on the eval questions of the training folds only.")] = False,
    ranker: Annotated[Optional[str], typer.Option("--ranker", metavar="KIND", show_default="QA_RANKER",
                                                  help="Order of the fused candidates: fusion (hand-set weighted sum) or "
                                                       "learned (the shipped model; with --cv refitted per fold).")] = None,
    save_model: Annotated[Optional[Path], typer.Option("--save-model", dir_okay=False, metavar="FILE", show_default="none",
                                                       help="With --cv: write the trained decision fitted on all questions "
                                                            "(the in-sample one, as `qa train` would) here, with GBM and "
                                                            "logistic compared leave-one-issue-out.")] = None,
) -> None:
    """Score retrieval (hit@k, MRR, nDCG) and answers (accuracy, citations, refusals, latency) on the question set."""
    from qa.config import get_settings  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.evaluation.report import (REPORTS_DIR, format_compare, headline_text, selection_note,  # noqa: PLC0415
                                      write_report)
    from qa.evaluation.report import compare as diff  # noqa: PLC0415
    from qa.evaluation.runner import build_report, evaluate  # noqa: PLC0415
    from qa.evaluation.systems import ServiceSystem  # noqa: PLC0415
    from qa.service import GazetteService  # noqa: PLC0415

    decisions = [d.strip() for d in (decision or "").split(",") if d.strip()]
    if any(d not in ("rules", "trained") for d in decisions) or len(set(decisions)) != len(decisions):
        raise typer.BadParameter(f"unknown --decision {decision!r}; known: rules, trained, rules,trained", param_hint="--decision")
    if ranker is not None and ranker not in RANKERS:
        raise typer.BadParameter(f"unknown --ranker {ranker!r}; known: {', '.join(RANKERS)}", param_hint="--ranker")
    if cv is not None and cv != "issue":
        raise typer.BadParameter(f"unknown --cv {cv!r}; known: issue", param_hint="--cv")
    if baseline is not None and baseline not in BASELINES:
        raise typer.BadParameter(f"unknown baseline {baseline!r}; known: {', '.join(BASELINES)}", param_hint="--baseline")
    previous = None
    if compare is not None:  # read first: a bad path should fail before a long run, not after
        previous = json.loads(Path(compare).read_text(encoding="utf-8"))
    type_list = [t for t in (types or "").split(",") if t.strip()]
    try:
        items = load_items(questions, types=type_list, limit=limit, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--types") from exc
    if not items:
        typer.echo("no questions selected", err=True)
        raise typer.Exit(1)

    settings = get_settings(**({"index_dir": index} if index else {}), **({"ranker": ranker} if ranker else {}))
    ranker = settings.ranker
    if cv is not None and ranker == "learned":  # refitted per fold: the service itself searches by fusion
        settings = settings.model_copy(update={"ranker": "fusion"})
    service = GazetteService.load(settings)
    decisions = decisions or [settings.answer_decision]
    selection = {"types": type_list or None, "limit": limit, **({"sample": "stratified by type and language",
                                                                 "seed": seed} if limit else {}),
                 **({"cv": cv} if cv else {}), **({"decisions": decisions} if decision else {})}
    # one decision: the system is gazette-qa; both: gazette-qa-rules and gazette-qa-trained
    names = {d: ("gazette-qa" if len(decisions) == 1 and not gate else f"gazette-qa-{d}") for d in decisions}
    if gate:
        selection["gate"] = True
    if cv is None:
        from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415

        runs = [evaluate(ServiceSystem(service.with_params(ExtractiveParams(decision=d)), names[d]), items) for d in decisions]
        if gate:
            from qa.answer.gate import shipped_gate  # noqa: PLC0415
            from qa.service import shipped_crossenc  # noqa: PLC0415

            ce = shipped_crossenc(settings) if shipped_gate().needs_crossenc else None
            runs += [evaluate(ServiceSystem(service.with_params(ExtractiveParams(decision=d, answer_gate=shipped_gate(),
                                                                                 answer_crossenc=ce)),
                                            f"{names[d]}-gate"), items) for d in decisions]
        if baseline == "langchain":
            from qa.evaluation.baseline import LangChainBaseline  # noqa: PLC0415

            runs.append(evaluate(LangChainBaseline.load(settings), items))
        report = build_report(out, runs, questions, selection)
    else:
        from qa.evaluation.folds import is_original  # noqa: PLC0415
        from qa.evaluation.runner import evaluate_cv  # noqa: PLC0415
        from qa.evaluation.systems import decision_factory, rules_factory  # noqa: PLC0415

        from qa.evaluation.systems import ranked_factory  # noqa: PLC0415

        cv_runs, trained_factory, trained_run, gate_comparison = [], None, None, None
        extra = DEFAULT_TRAINING if DEFAULT_TRAINING.exists() and not no_extra else None
        if no_extra:
            selection["template_questions"] = False
        for d in decisions:
            if d == "rules":
                build = lambda svc, d=d: rules_factory(svc, names[d])  # noqa: E731
            else:
                build = lambda svc, d=d: decision_factory(svc, questions, extra, name=names[d])  # noqa: E731
            if ranker == "learned":  # the ranker is fitted per fold too, and the decision on its searches
                factory, fitted = ranked_factory(service, build, extra)
            else:
                factory, fitted = build(service)
            run = evaluate_cv(factory, items, fitted)
            cv_runs.append(run)
            if d == "trained":
                trained_run, trained_factory = run, factory
        if gate:
            from qa.evaluation.systems import gate_factory  # noqa: PLC0415

            for d in decisions:
                if d != "rules":
                    typer.echo(f"--gate with --cv: the {d} decision is not cross-validated with a gate (rules only)", err=True)
                    continue
                if ranker == "learned":
                    typer.echo("--gate with --cv: the gated rules search with fusion (the gate is refitted alone)", err=True)
                if crossenc:
                    from qa.evaluation.systems import crossenc_gate_factory  # noqa: PLC0415
                    from qa.evaluation.train_crossenc import held_out_comparison  # noqa: PLC0415

                    gated_factory, fitted = crossenc_gate_factory(service, extra, f"{names[d]}-gate-crossenc")
                    cv_runs.append(evaluate_cv(gated_factory, items, fitted))
                    selection["crossenc"] = True
                    in_sample = gated_factory.comparisons[0] if gated_factory.comparisons else None
                    if save_model is not None and in_sample is not None:  # the gate and cross-encoder fitted on all questions
                        from qa.answer.crossenc import CROSSENC_PATH  # noqa: PLC0415
                        from qa.evaluation.train_gate import write_gate  # noqa: PLC0415

                        typer.echo(f"wrote model: {write_gate(in_sample['gates'][0], save_model)}")
                        typer.echo(f"wrote model: {in_sample['crossenc'].save(save_model.with_name(CROSSENC_PATH.name))}")
                    gate_comparison = held_out_comparison(gated_factory, is_original)
                else:
                    gated_factory, fitted = gate_factory(service, d, f"{names[d]}-gate")
                    cv_runs.append(evaluate_cv(gated_factory, items, fitted))
        if baseline == "langchain":
            from qa.evaluation.baseline import LangChainBaseline  # noqa: PLC0415

            lc = LangChainBaseline.load(settings)
            cv_runs.append(evaluate_cv(lambda _train: lc, items, fitted=False))
        report = build_report(out, [r.pooled for r in cv_runs], questions, selection)
        report["cv"] = {r.system: r.figures(is_original) for r in cv_runs}
        if gate_comparison is not None:
            report["gate_comparison"] = gate_comparison
            typer.echo(json.dumps(gate_comparison["pooled"], ensure_ascii=False, indent=1))
        fitted_decision = getattr(trained_run.in_sample_system, "decision", None) if trained_run else None
        if save_model is not None and fitted_decision is not None and ranker != "learned" and not crossenc:
            from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
            from qa.evaluation import train as tr  # noqa: PLC0415

            decision = fitted_decision
            decision.meta["comparison"] = tr.compare_methods(trained_factory.data(), trained_factory.similarity,
                                                             ExtractiveParams(), trained_factory.target, inner_cv=False)
            report["decision_comparison"] = decision.meta["comparison"]
            typer.echo(f"wrote model: {tr.write_model(decision, save_model)}")
    paths = write_report(report, reports_dir or REPORTS_DIR, out)
    typer.echo(headline_text(report))
    for kind, p in paths.items():
        typer.echo(f"wrote {kind}: {p}")
    if previous is not None:
        typer.echo(format_compare(diff(report, previous), str(compare), selection_note(report, previous)))


def train_command(
    questions: Annotated[Path, typer.Option("--questions", exists=True, dir_okay=False, metavar="FILE", help="Labelled questions (JSONL).",
                                            show_default="eval/questions.jsonl")] = DEFAULT_QUESTIONS,
    extra: Annotated[Optional[Path], typer.Option("--extra", dir_okay=False, metavar="FILE", help="Template training questions (JSONL).",
                                                  show_default="eval/training_questions.jsonl when present")] = None,
    method: Annotated[str, typer.Option("--method", help="gbm (gradient-boosted trees) or logistic.")] = "gbm",
    threshold_rule: Annotated[str, typer.Option("--threshold-rule", help="calibrated: where the calibrated chance that the best candidate answers right equals the chance the question is unanswerable (Platt on out-of-fold scores); accuracy: the threshold maximising right answers + right refusals on out-of-fold scores of the eval questions; precision: the lowest reaching --target-precision.")] = "calibrated",
    target_precision: Annotated[float, typer.Option("--target-precision", min=0.5, max=1.0, help="With --threshold-rule precision: share of answered questions that must be right at the threshold (on out-of-fold scores).")] = 0.95,
    compare: Annotated[bool, typer.Option("--compare/--no-compare", help="Also score every method leave-one-issue-out and record the comparison in the model file.")] = True,
    out: Annotated[Optional[Path], typer.Option("--out", dir_okay=False, help="Model file (default: the one shipped in the package, qa/answer/decision_model.json).")] = None,
    index: Annotated[Optional[Path], typer.Option("--index", help="Index directory (default: settings index_dir).")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Fit the answer gate instead (qa/answer/gate_model.json unless --out): "
                                       "on the rules' answers to the eval questions (--questions; --extra, --method and the "
                                       "threshold options do not apply: logistic and GBM are compared leave-one-issue-out).")] = False,
    crossenc: Annotated[bool, typer.Option("--crossenc", help="With --gate: first fine-tune the answer cross-encoder "
                                           "(qa/answer/crossenc_model.safetensors) on the questions and --extra, and fit the "
                                           "gate with its scores (cross-fitted over two halves of the issues).")] = False,
) -> None:
    """Fit the answer-or-refuse decision (or with --gate the answer gate) on the labelled questions and write the model file (deterministic)."""
    if gate:
        return train_gate_command(questions, out, index, crossenc, extra)
    from qa.answer.decision import MODEL_PATH  # noqa: PLC0415
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.config import get_settings  # noqa: PLC0415
    from qa.evaluation import train as tr  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.service import GazetteService  # noqa: PLC0415

    if method not in tr.METHODS:
        raise typer.BadParameter(f"unknown method {method!r}; known: {', '.join(tr.METHODS)}", param_hint="--method")
    tr.single_thread()
    items = load_items(questions)
    extra = extra or (DEFAULT_TRAINING if DEFAULT_TRAINING.exists() else None)
    if extra is not None:
        items += load_items(extra)
    settings = get_settings(**({"index_dir": index} if index else {}))
    service = GazetteService.load(settings, build_if_missing=False)
    similarity = service._similarity  # the index's sentence vectors, as at answer time (same values, faster)
    data = tr.extract(service, items)
    if threshold_rule not in tr.THRESHOLD_RULES:
        raise typer.BadParameter(f"unknown rule {threshold_rule!r}; known: {', '.join(tr.THRESHOLD_RULES)}", param_hint="--threshold-rule")
    decision = tr.fit(data, method, similarity, ExtractiveParams(), target_precision, rule=threshold_rule)
    if compare:
        decision.meta["comparison"] = tr.compare_methods(data, similarity, ExtractiveParams(), target_precision)
    path = tr.write_model(decision, out or MODEL_PATH)
    typer.echo(json.dumps({"model": str(path), **decision.describe(), **{k: decision.meta[k] for k in ("threshold_rule", "at_threshold")},
                           "comparison": decision.meta.get("comparison")}, ensure_ascii=False, indent=1))


def train_gate_command(questions: Path, out: Optional[Path], index: Optional[Path], crossenc: bool = False,
                       extra: Optional[Path] = None) -> None:
    """`qa train --gate`: ask every question with the rules (gate off), fit the gate on the answers, write it
    (with --crossenc the cross-encoder too, beside it)."""
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.answer.gate import GATE_PATH  # noqa: PLC0415
    from qa.config import get_settings  # noqa: PLC0415
    from qa.evaluation import train_gate as tg  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.service import GazetteService  # noqa: PLC0415

    tg.single_thread()
    settings = get_settings(**({"index_dir": index} if index else {}))
    service = GazetteService.load(settings, build_if_missing=False).with_params(ExtractiveParams(decision="rules"))
    written = {}
    if crossenc:
        from qa.answer.crossenc import CROSSENC_PATH  # noqa: PLC0415
        from qa.evaluation.systems import crossenc_gate_factory  # noqa: PLC0415

        extra = extra or (DEFAULT_TRAINING if DEFAULT_TRAINING.exists() else None)
        factory, _fitted = crossenc_gate_factory(service, extra)
        system = factory(load_items(questions))
        gate = system.gate
        target = Path(out) if out else GATE_PATH
        written["crossenc"] = str(system.crossenc.save(target.with_name(CROSSENC_PATH.name)))
    else:
        gate = tg.fit_gate(tg.collect(service, load_items(questions)), decision="rules")
    path = tg.write_gate(gate, out or GATE_PATH)
    typer.echo(json.dumps({"model": str(path), **written, **gate.describe(), "comparison": gate.meta["comparison"],
                           "no_gate": gate.meta["no_gate"]}, ensure_ascii=False, indent=1))


def train_ranker_command(
    questions: Annotated[Path, typer.Option("--questions", exists=True, dir_okay=False, metavar="FILE", help="Labelled questions (JSONL).",
                                            show_default="eval/questions.jsonl")] = DEFAULT_QUESTIONS,
    extra: Annotated[Optional[Path], typer.Option("--extra", dir_okay=False, metavar="FILE", help="Template training questions (JSONL).",
                                                  show_default="eval/training_questions.jsonl when present")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", dir_okay=False, metavar="FILE", help="Model file.",
                                                show_default="the one shipped in the package, qa/index/ranker_model.json")] = None,
    index: Annotated[Optional[Path], typer.Option("--index", metavar="DIR", help="Index directory.",
                                                  show_default="QA_INDEX_DIR, else index/default")] = None,
) -> None:
    """Fit the learned ranking of the fused search candidates on the labelled questions and write the model file (deterministic)."""
    from qa.config import get_settings  # noqa: PLC0415
    from qa.evaluation import rank_train as rt  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.evaluation.train import single_thread  # noqa: PLC0415
    from qa.index.ranker import MODEL_PATH  # noqa: PLC0415
    from qa.service import GazetteService  # noqa: PLC0415

    single_thread()
    items = load_items(questions)
    extra = extra or (DEFAULT_TRAINING if DEFAULT_TRAINING.exists() else None)
    if extra is not None:
        items += load_items(extra)
    settings = get_settings(**({"index_dir": index} if index else {}), ranker="fusion")
    service = GazetteService.load(settings, build_if_missing=False)
    ranker = rt.fit(rt.extract(service.searcher, items))
    path = rt.write_model(ranker, out or MODEL_PATH)
    typer.echo(json.dumps({"model": str(path), **ranker.describe(), "training_set": ranker.meta["training_set"],
                           "inner_cv_mrr@10": ranker.meta["inner_cv_mrr@10"],
                           "in_sample_mrr@10": ranker.meta["in_sample_mrr@10"]}, ensure_ascii=False, indent=1))
