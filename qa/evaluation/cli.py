"""`qa eval`: the command function; the main CLI registers it with app.command("eval")(eval_command)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.config import PROJECT_ROOT

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
BASELINES = ("langchain",)


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

    settings = get_settings(**({"index_dir": index} if index else {}))
    runs = [evaluate(ServiceSystem(GazetteService.load(settings)), items)]
    if baseline == "langchain":
        from qa.evaluation.baseline import LangChainBaseline  # noqa: PLC0415

        runs.append(evaluate(LangChainBaseline.load(settings), items))
    selection = {"types": type_list or None, "limit": limit, **({"sample": "stratified by type and language",
                                                                 "seed": seed} if limit else {})}
    report = build_report(out, runs, questions, selection)
    paths = write_report(report, reports_dir or REPORTS_DIR, out)
    typer.echo(headline_text(report))
    for kind, p in paths.items():
        typer.echo(f"wrote {kind}: {p}")
    if previous is not None:
        typer.echo(format_compare(diff(report, previous), str(compare), selection_note(report, previous)))
