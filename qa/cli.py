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


# ---- index --------------------------------------------------------------------------------------

index_app = typer.Typer(help="Build and maintain the search index (FAISS + SQLite chunk store).", no_args_is_help=True)
app.add_typer(index_app, name="index")
IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="Index directory (default: settings index_dir).")]


def _settings(corpus: Path | None = None, index: Path | None = None):
    overrides = {}
    if corpus:
        overrides["corpus_dir"] = corpus
    if index:
        overrides["index_dir"] = index
    return get_settings(**overrides)


def _print_report(report) -> None:
    sentences = f", {report.n_sentences_embedded} answer sentences embedded" if getattr(report, "n_sentences_embedded", 0) else ""
    typer.echo(f"{report.mode}: {report.n_chunks} chunks ({report.n_embedded} embedded, {report.n_reused} reused{sentences}) "
               f"in {report.seconds:.1f} s -> {report.index_dir}")
    for label, files in (("added", report.files_added), ("changed", report.files_changed), ("removed", report.files_removed)):
        if files:
            typer.echo(f"  {label}: {', '.join(files)}")


@index_app.command("build")
def index_build_cmd(corpus: CorpusOpt = None, index: IndexOpt = None) -> None:
    """Chunk and embed the whole corpus into a new index, swapped in atomically."""
    from qa.service import build_index

    _print_report(_unless_busy(lambda: build_index(_settings(corpus, index), show_progress=True)))


@index_app.command("update")
def index_update_cmd(corpus: CorpusOpt = None, index: IndexOpt = None) -> None:
    """Bring the index in line with the corpus directory, embedding only new or changed chunks."""
    from qa.service import build_index

    _print_report(_unless_busy(lambda: build_index(_settings(corpus, index), show_progress=True, incremental=True)))


def _unless_busy(run):
    """A build lock held by another process is one line on stderr (exit 3), not a traceback."""
    from qa.index.atomic import IndexBusyError

    try:
        return run()
    except IndexBusyError as exc:
        typer.echo(f"not changed: {exc}", err=True)
        raise typer.Exit(3) from exc


def _change_corpus(run) -> None:
    """Run a corpus change; a refused change or a busy index is one line on stderr, not a traceback."""
    from qa.index.manage import CorpusChangeError, IndexBusyError

    try:
        change = run()
    except (CorpusChangeError, IndexBusyError) as exc:
        typer.echo(f"not changed: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, CorpusChangeError) else 3) from exc
    for label, names in (("added", change.added), ("replaced", change.replaced), ("removed", change.removed)):
        if names:
            typer.echo(f"{label}: {', '.join(names)}")
    if change.report is not None:
        _print_report(change.report)


@index_app.command("add")
def index_add_cmd(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A gazette issue (.txt).")],
                  corpus: CorpusOpt = None, index: IndexOpt = None,
                  replace: Annotated[bool, typer.Option("--replace", help="Replace an issue already in the corpus.")] = False) -> None:
    """Add a gazette file: checked by the parser, copied into the corpus, only its chunks embedded."""
    from qa.corpus.parser import ParseError, parse_issue
    from qa.index.manage import add_issue_files
    from qa.service import build_index

    settings = _settings(corpus, index)
    try:
        issue = parse_issue(file)
    except (ParseError, UnicodeDecodeError) as exc:
        typer.echo(f"not added: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{file}: issue {issue.issue}, {len(issue.documents)} documents")
    _change_corpus(lambda: add_issue_files(
        settings.index_dir, settings.corpus_dir, [(file, f"{issue.issue}.txt")],
        lambda: build_index(settings, show_progress=True, incremental=True), replace=replace))


@index_app.command("remove")
def index_remove_cmd(name: Annotated[str, typer.Argument(help="Corpus file name or issue, e.g. 2022-03.txt or 2022-03.")],
                     corpus: CorpusOpt = None, index: IndexOpt = None) -> None:
    """Remove an issue: its file moves to corpus/removed/ and its chunks leave the index."""
    from qa.index.manage import remove_files
    from qa.service import build_index

    settings = _settings(corpus, index)
    _change_corpus(lambda: remove_files(
        settings.index_dir, settings.corpus_dir, [name if name.endswith(".txt") else f"{name}.txt"],
        lambda: build_index(settings, show_progress=True, incremental=True)))


@index_app.command("stats")
def index_stats_cmd(index: IndexOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The index manifest: model, dimension, chunk count, corpus files."""
    from dataclasses import asdict

    from qa.index.store import IndexNotFoundError, IndexStore

    settings = _settings(index=index)
    try:
        store = IndexStore.load(settings.index_dir)
    except IndexNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    m = asdict(store.manifest)
    from collections import Counter

    m["chunks_by_type"] = dict(Counter(c.chunk_type for c in store.chunks))
    m["chunks_by_issue"] = dict(Counter(c.issue for c in store.chunks))
    if as_json:
        _dump(m)
        return
    for k, v in m.items():
        typer.echo(f"{k}: {v}")


# ---- search and ask -------------------------------------------------------------------------------

def _parse_filters(filters: list[str] | None) -> dict | None:
    out: dict = {}
    for f in filters or []:
        key, sep, value = f.partition("=")
        if not sep:
            raise typer.BadParameter(f"filter {f!r} is not KEY=VALUE", param_hint="--filter")
        out[key.strip()] = int(value) if key.strip() == "year" and value.strip().isdigit() else value.strip()
    return out or None


FilterOpt = Annotated[Optional[list[str]], typer.Option("--filter", help="KEY=VALUE; keys: year, issue, category, doc_number. Repeatable.")]


@app.command("search")
def search_cmd(query: Annotated[str, typer.Argument(help="A question or keywords, Chinese or English.")],
               top_k: Annotated[int, typer.Option("--top-k", min=1, max=50)] = 5,
               filter: FilterOpt = None, index: IndexOpt = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Hybrid search: each hit with score, chunk id, cite text, source lines, document and section."""
    from qa.service import GazetteService

    service = GazetteService.load(_settings(index=index))
    try:
        hits = service.search(query, top_k=top_k, filters=_parse_filters(filter))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--filter") from exc
    if as_json:
        _dump({"query": query, "hits": [h.to_dict() for h in hits]})
        return
    for n, h in enumerate(hits, 1):
        c = h.chunk
        typer.echo(f"[{n}] {h.score:.4f}  {c.doc_number} 《{c.doc_title}》  {c.issue}  {c.source_file}:{c.line_start}-{c.line_end}")
        if c.section_path:
            typer.echo(f"    {' > '.join(c.section_path)}")
        typer.echo("    " + c.text[:200].replace("\n", " ") + ("…" if len(c.text) > 200 else ""))


@app.command("ask")
def ask_cmd(question: Annotated[str, typer.Argument(help="A question, Chinese or English.")],
            top_k: Annotated[int, typer.Option("--top-k", min=1, max=50)] = 5,
            filter: FilterOpt = None,
            mode: Annotated[Optional[str], typer.Option("--mode", help="extractive (default) or generative.")] = None,
            index: IndexOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Answer a question with cited source paragraphs."""
    from qa.service import GazetteService

    service = GazetteService.load(_settings(index=index))
    result = service.ask(question, top_k=top_k, filters=_parse_filters(filter), mode=mode)
    if as_json:
        _dump(result.to_dict())
        return
    typer.echo(result.answer)
    if result.notice:
        typer.echo(f"({result.notice})")
    for c in result.citations:
        h = c.hit.chunk
        typer.echo(f"\n[{c.n}] {h.doc_number} 《{h.doc_title}》 {h.issue}  {h.source_file}:{h.line_start}-{h.line_end}")
        if h.section_path:
            typer.echo(f"    {' > '.join(h.section_path)}")
        typer.echo("    " + h.text[:300].replace("\n", " "))
    if not result.answered and result.related:
        typer.echo("\n相关段落：")
        for h in result.related[:3]:
            typer.echo(f"  - {h.chunk.doc_number} 《{h.chunk.doc_title}》 {h.chunk.source_file}:{h.chunk.line_start}-{h.chunk.line_end}")


# ---- eval and serve --------------------------------------------------------------------------------

def _register_eval() -> None:
    from qa.evaluation.cli import eval_command

    app.command("eval")(eval_command)


_register_eval()


@app.command("serve")
def serve_cmd(host: Annotated[Optional[str], typer.Option("--host")] = None,
              port: Annotated[Optional[int], typer.Option("--port")] = None,
              index: IndexOpt = None) -> None:
    """Serve the answer API and the chat UI (/ui); builds the index from corpus/ first if there is none."""
    from qa.serve import serve

    serve(get_settings(), host=host, port=port, index_dir=index)


if __name__ == "__main__":
    app()
