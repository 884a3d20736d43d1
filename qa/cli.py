"""The `qa` command line: corpus, index, search, ask, eval, serve."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from qa.config import get_settings

app = typer.Typer(help="gazette-qa: answers from Chinese government gazettes, with cited source paragraphs.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
corpus_app = typer.Typer(help="Inspect the gazette corpus: parsing, documents, chunks.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

CorpusOpt = Annotated[Optional[Path], typer.Option("--corpus", help="Corpus directory (default: settings corpus_dir).")]


def _dump(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@corpus_app.command("stats")
def corpus_stats_cmd(corpus: CorpusOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Issues, documents, chunks per issue, and TOC mismatches."""
    from qa.corpus.stats import corpus_stats

    stats = corpus_stats(corpus or get_settings().corpus_dir)
    if as_json:
        _dump(stats)
        return
    typer.echo(f"{'issue':8} {'file':14} {'published':10} {'docs':>5} {'toc':>4} {'chunks':>6} {'people':>6}  mismatches")
    for s in stats["per_issue"]:
        typer.echo(f"{s['issue']:8} {s['source_file']:14} {s['publish_date']:10} {s['documents']:>5} {s['toc_entries']:>4} "
                   f"{s['chunks']:>6} {s['personnel_records']:>6}  {len(s['mismatches'])}")
        for m in s["mismatches"]:
            typer.echo(f"    ! {m}")
    typer.echo(f"total: {stats['issues']} issues, {stats['documents']} documents, {stats['chunks']} chunks, "
               f"{stats['toc_mismatches']} TOC mismatches")


@corpus_app.command("show")
def corpus_show_cmd(doc_number: Annotated[str, typer.Argument(help="Document number in any bracket form, e.g. 阳政办发〔2022〕34号")],
                    corpus: CorpusOpt = None,
                    as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A parsed document with its section tree (all documents when a number is shared)."""
    from dataclasses import asdict

    from qa.corpus.normalize import match_doc_numbers
    from qa.corpus.stats import load_issues

    docs = [d for issue in load_issues(corpus or get_settings().corpus_dir) for d in issue.documents]
    wanted = set(match_doc_numbers(doc_number, {d.doc_number for d in docs}))
    found = [d for d in docs if d.doc_number in wanted]
    if not found:
        typer.echo(f"no document numbered {doc_number!r}", err=True)
        raise typer.Exit(1)
    if as_json:
        _dump([asdict(d) for d in found])
        return
    for d in found:
        typer.echo(f"== {d.key}  {d.doc_number}  《{d.title}》")
        typer.echo(f"   issuer: {d.issuer}  date: {d.date}  category: {d.category}  lines {d.line_start}-{d.line_end}")
        typer.echo(f"   addressee: {d.addressee}  disclosure: {d.disclosure}")
        if d.attached_title:
            typer.echo(f"   issues: 《{d.attached_title}》")
        for a in d.attachments:
            typer.echo(f"   attachment: {a.title}{' (omitted)' if a.omitted else ''}")
        for r in d.personnel:
            typer.echo(f"   personnel: {r.action} {r.person} — {r.post}")

        def tree(sections, depth=1):
            for s in sections:
                typer.echo(f"{'   ' * depth}- {s.heading}  (line {s.line})")
                tree(s.children, depth + 1)

        tree(d.sections)


@corpus_app.command("manifest")
def corpus_manifest_cmd(corpus: CorpusOpt = None) -> None:
    """Rewrite corpus/manifest.json (issue, publish date, sha256 of each file)."""
    from qa.corpus.stats import write_manifest

    typer.echo(f"wrote {write_manifest(corpus or get_settings().corpus_dir)}")


if __name__ == "__main__":
    app()
