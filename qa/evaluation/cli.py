"""`qa eval`: the command function; the main CLI registers it with app.command("eval")(eval_command)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.config import PROJECT_ROOT

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
# Template questions generated from the parsed structure: training only, never in the eval figures.
DEFAULT_TRAINING = PROJECT_ROOT / "eval" / "training_questions.jsonl"
BASELINES = ("langchain",)


def eval_command(
    questions: Annotated[Path, typer.Option("--questions", exists=True, dir_okay=False, help="Question set (JSONL).")] = DEFAULT_QUESTIONS,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N questions (after --types).")] = None,
    types: Annotated[Optional[str], typer.Option("--types", help="Comma-separated question types, e.g. fact,number.")] = None,
    out: Annotated[str, typer.Option("--out", help="Report name: writes eval/reports/NAME.{json,md,png}.")] = "latest",
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Also score a baseline side by side: langchain.")] = None,
    compare: Annotated[Optional[Path], typer.Option("--compare", exists=True, dir_okay=False, help="A previous report .json to print the delta against.")] = None,
    index: Annotated[Optional[Path], typer.Option("--index", help="Index directory (default: settings index_dir).")] = None,
    reports_dir: Annotated[Optional[Path], typer.Option("--reports-dir", help="Where reports go (default eval/reports).")] = None,
    cv: Annotated[Optional[str], typer.Option("--cv", help="Cross-validate: 'issue' = leave one gazette issue out; "
                                              "every fitted part (the answer decision) is refitted without the held-out issue.")] = None,
    save_model: Annotated[Optional[Path], typer.Option("--save-model", dir_okay=False, help="With --cv: write the decision fitted on all questions (the in-sample one) here, with the methods compared leave-one-issue-out, as `qa train` would.")] = None,
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

    if cv is not None and cv != "issue":
        raise typer.BadParameter(f"unknown --cv {cv!r}; known: issue", param_hint="--cv")
    if baseline is not None and baseline not in BASELINES:
        raise typer.BadParameter(f"unknown baseline {baseline!r}; known: {', '.join(BASELINES)}", param_hint="--baseline")
    previous = None
    if compare is not None:  # read first: a bad path should fail before a long run, not after
        previous = json.loads(Path(compare).read_text(encoding="utf-8"))
    type_list = [t for t in (types or "").split(",") if t.strip()]
    try:
        items = load_items(questions, types=type_list, limit=limit)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--types") from exc
    if not items:
        typer.echo("no questions selected", err=True)
        raise typer.Exit(1)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings(**({"index_dir": index} if index else {}))
    service = GazetteService.load(settings)
    selection = {"types": type_list or None, "limit": limit, "cv": cv}
    if cv is None:
        runs = [evaluate(ServiceSystem(service), items)]
        if baseline == "langchain":
            from qa.evaluation.baseline import LangChainBaseline  # noqa: PLC0415

            runs.append(evaluate(LangChainBaseline.load(settings), items))
        report = build_report(out, runs, questions, selection)
    else:
        from qa.evaluation.folds import is_original  # noqa: PLC0415
        from qa.evaluation.runner import evaluate_cv  # noqa: PLC0415
        from qa.evaluation.systems import decision_factory  # noqa: PLC0415

        factory, fitted = decision_factory(service, questions, DEFAULT_TRAINING if DEFAULT_TRAINING.exists() else None)
        cv_runs = [evaluate_cv(factory, items, fitted)]
        if baseline == "langchain":
            from qa.evaluation.baseline import LangChainBaseline  # noqa: PLC0415

            lc = LangChainBaseline.load(settings)
            cv_runs.append(evaluate_cv(lambda _train: lc, items, fitted=False))
        report = build_report(out, [r.pooled for r in cv_runs], questions, selection)
        report["cv"] = {r.system: r.figures(is_original) for r in cv_runs}
        decision = getattr(cv_runs[0].in_sample_system, "decision", None)
        if save_model is not None and decision is not None:
            from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
            from qa.evaluation import train as tr  # noqa: PLC0415

            decision.meta["comparison"] = tr.compare_methods(factory.data(), factory.similarity, ExtractiveParams(),
                                                             decision.meta["target_precision"], inner_cv=False)
            report["decision_comparison"] = decision.meta["comparison"]
            typer.echo(f"wrote model: {tr.write_model(decision, save_model)}")
    paths = write_report(report, reports_dir or REPORTS_DIR, out)
    typer.echo(headline_text(report))
    for kind, p in paths.items():
        typer.echo(f"wrote {kind}: {p}")
    if previous is not None:
        typer.echo(format_compare(diff(report, previous), str(compare), selection_note(report, previous)))


def train_command(
    questions: Annotated[Path, typer.Option("--questions", exists=True, dir_okay=False, help="Labelled questions (JSONL).")] = DEFAULT_QUESTIONS,
    extra: Annotated[Optional[Path], typer.Option("--extra", dir_okay=False, help="Template training questions (JSONL; default eval/training_questions.jsonl when present).")] = None,
    method: Annotated[str, typer.Option("--method", help="gbm (gradient-boosted trees) or logistic.")] = "gbm",
    target_precision: Annotated[float, typer.Option("--target-precision", min=0.5, max=1.0, help="Share of answered questions that must be right at the threshold (on out-of-fold scores).")] = 0.95,
    compare: Annotated[bool, typer.Option("--compare/--no-compare", help="Also score every method leave-one-issue-out and record the comparison in the model file.")] = True,
    out: Annotated[Optional[Path], typer.Option("--out", dir_okay=False, help="Model file (default: the one shipped in the package, qa/answer/decision_model.json).")] = None,
    index: Annotated[Optional[Path], typer.Option("--index", help="Index directory (default: settings index_dir).")] = None,
) -> None:
    """Fit the answer-or-refuse decision on the labelled questions and write the model file (deterministic)."""
    from qa.answer.decision import MODEL_PATH  # noqa: PLC0415
    from qa.answer.extractive import ExtractiveParams  # noqa: PLC0415
    from qa.config import get_settings  # noqa: PLC0415
    from qa.evaluation import train as tr  # noqa: PLC0415
    from qa.evaluation.items import load_items  # noqa: PLC0415
    from qa.service import GazetteService  # noqa: PLC0415

    if method not in tr.METHODS:
        raise typer.BadParameter(f"unknown method {method!r}; known: {', '.join(tr.METHODS)}", param_hint="--method")
    tr.single_thread()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    items = load_items(questions)
    extra = extra or (DEFAULT_TRAINING if DEFAULT_TRAINING.exists() else None)
    if extra is not None:
        items += load_items(extra)
    settings = get_settings(**({"index_dir": index} if index else {}))
    service = GazetteService.load(settings, build_if_missing=False)
    similarity = service.encoder.similarity
    data = tr.extract(service, items)
    decision = tr.fit(data, method, similarity, ExtractiveParams(), target_precision)
    if compare:
        decision.meta["comparison"] = tr.compare_methods(data, similarity, ExtractiveParams(), target_precision)
    path = tr.write_model(decision, out or MODEL_PATH)
    typer.echo(json.dumps({"model": str(path), **decision.describe(), **{k: decision.meta[k] for k in ("precision_at_threshold",)},
                           "comparison": decision.meta.get("comparison")}, ensure_ascii=False, indent=1))
