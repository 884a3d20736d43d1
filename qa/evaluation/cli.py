"""`qa eval`: the command function; the main CLI registers it with app.command("eval")(eval_command)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.config import PROJECT_ROOT

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
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
        items = load_items(questions, types=type_list, limit=limit)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--types") from exc
    if not items:
        typer.echo("no questions selected", err=True)
        raise typer.Exit(1)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings(**({"index_dir": index} if index else {}))
    runs = [evaluate(ServiceSystem(GazetteService.load(settings)), items)]
    if baseline == "langchain":
        from qa.evaluation.baseline import LangChainBaseline  # noqa: PLC0415

        runs.append(evaluate(LangChainBaseline.load(settings), items))
    selection = {"types": type_list or None, "limit": limit}
    report = build_report(out, runs, questions, selection)
    paths = write_report(report, reports_dir or REPORTS_DIR, out)
    typer.echo(headline_text(report))
    for kind, p in paths.items():
        typer.echo(f"wrote {kind}: {p}")
    if previous is not None:
        typer.echo(format_compare(diff(report, previous), str(compare), selection_note(report, previous)))
