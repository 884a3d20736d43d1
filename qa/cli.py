"""The `qa` command line: corpus, index, search, ask, eval, serve."""
from __future__ import annotations

import errno
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from qa.config import get_settings

# Plain click help (rich_markup_mode=None): every option with its metavar, help and default, and no
# "<bool>" type column that Typer's rich panels print for flags.
app = typer.Typer(help="gazette-qa: answers from Chinese government gazettes, with cited source paragraphs.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)
corpus_app = typer.Typer(help="Inspect the gazette corpus: parsing, documents, chunks.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(corpus_app, name="corpus")

CorpusOpt = Annotated[Optional[Path], typer.Option(
    "--corpus", metavar="DIR", help="Corpus directory.", show_default="QA_CORPUS_DIR, else corpus/")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
LogLevel = Literal["debug", "info", "warning", "error"]


@app.callback()
def main(ctx: typer.Context,
         log_level: Annotated[Optional[LogLevel], typer.Option(
             "--log-level", case_sensitive=False, help="Log detail on stderr; debug adds other libraries' lines.",
             show_default="QA_LOG_LEVEL, else info for serve, warning for other commands")] = None) -> None:
    """gazette-qa: answers from Chinese government gazettes, with cited source paragraphs."""
    from qa.logs import configure_logging, default_level

    configure_logging(log_level or get_settings().log_level or default_level(ctx.invoked_subcommand))


def _dump(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@corpus_app.command("stats")
def corpus_stats_cmd(corpus: CorpusOpt = None, as_json: JsonOpt = False) -> None:
    """Issues, documents, chunks per issue, TOC mismatches; single documents and what was not found in them."""
    from qa.corpus.stats import corpus_stats

    settings = get_settings()
    stats = corpus_stats(corpus or settings.corpus_dir, settings.cache_dir)
    if as_json:
        _dump(stats)
        return
    gazettes = [s for s in stats["per_issue"] if s["kind"] == "gazette"]
    singles = [s for s in stats["per_issue"] if s["kind"] == "document"]
    if gazettes:
        typer.echo(f"{'issue':8} {'file':24} {'published':10} {'docs':>5} {'toc':>4} {'chunks':>6} {'people':>6}  mismatches")
    for s in gazettes:
        typer.echo(f"{s['issue']:8} {s['source_file']:24} {s['publish_date']:10} {s['documents']:>5} {s['toc_entries']:>4} "
                   f"{s['chunks']:>6} {s['personnel_records']:>6}  {len(s['mismatches'])}")
        for m in s["mismatches"]:
            typer.echo(f"    ! {m}")
    if singles:
        typer.echo("single documents (file, reader, pages, chunks, title; what was not found):")
    for s in singles:
        pages = f" {s['pages']}p" + (f"/{s['ocr_pages']} OCR" if s["ocr_pages"] else "") if s["pages"] else ""
        typer.echo(f"  {s['source_file']}  {s['reader']}{pages}  {s['chunks']} chunks  《{s['title']}》")
        if s["missing"]:
            typer.echo(f"    ! not found: {'、'.join(s['missing'])}")
    typer.echo("collections: " + "; ".join(f"{c['name'] or '(none)'} {c['files']} files {c['documents']} documents"
                                           for c in stats["collections"]))
    missing = "".join(f", {n} without {what}" for what, n in stats["missing"].items())
    typer.echo(f"total: {stats['issues']} issues, {stats['single_documents']} single documents{missing}, "
               f"{stats['documents']} documents, {stats['chunks']} chunks, {stats['toc_mismatches']} TOC mismatches")


@corpus_app.command("show")
def corpus_show_cmd(doc_number: Annotated[str, typer.Argument(metavar="DOCUMENT", help="Document number in any bracket form (阳政办发〔2022〕34号), "
                                                          "a document key (2022-03#05, d3f9a2c1b7e#01) or a corpus file")],
                    corpus: CorpusOpt = None, as_json: JsonOpt = False) -> None:
    """A parsed document with its section tree (all documents when a number is shared)."""
    from dataclasses import asdict

    from qa.corpus.normalize import match_doc_numbers
    from qa.corpus.stats import load_issues

    settings = get_settings()
    docs = [d for issue in load_issues(corpus or settings.corpus_dir, settings.cache_dir) for d in issue.documents]
    wanted = set(match_doc_numbers(doc_number, {d.doc_number for d in docs if d.doc_number}))
    found = [d for d in docs if d.doc_number in wanted or doc_number in (d.key, d.source_file)]
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

index_app = typer.Typer(help="Build and maintain the search index (FAISS + SQLite chunk store).", no_args_is_help=True,
                        rich_markup_mode=None)
app.add_typer(index_app, name="index")
IndexOpt = Annotated[Optional[Path], typer.Option(
    "--index", metavar="DIR", help="Index directory.", show_default="QA_INDEX_DIR, else index/default")]


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


@contextmanager
def _index_errors():
    """A damaged index, or one made with another model, is one line on stderr naming the fix (exit 1), not a
    traceback; nothing is rebuilt that was not asked for."""
    from qa.index.integrity import IndexCorruptError
    from qa.index.store import IndexMismatchError, IndexNotFoundError

    try:
        yield
    except (IndexCorruptError, IndexMismatchError, IndexNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        # The builder writes a temp dir and swaps it in only when complete: the old index still serves.
        typer.echo(f"error: the disk is full ({exc.filename or exc.strerror}); nothing was changed, the old index "
                   "is intact; free some space and run the command again", err=True)
        raise typer.Exit(1) from exc


def _unless_busy(run):
    """A build lock held by another process is one line on stderr (exit 3), not a traceback."""
    from qa.index.atomic import IndexBusyError

    try:
        with _index_errors():
            return run()
    except IndexBusyError as exc:
        typer.echo(f"not changed: {exc}", err=True)
        raise typer.Exit(3) from exc


def _change_corpus(run) -> None:
    """Run a corpus change; a refused change or a busy index is one line on stderr, not a traceback."""
    from qa.index.manage import CorpusChangeError, IndexBusyError

    try:
        with _index_errors():
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
def index_add_cmd(
    paths: Annotated[list[Path], typer.Argument(exists=True, metavar="PATH", help="Files and folders: gazette issues or single "
                                                "documents as PDF (text or scanned), Word .docx, HTML, Markdown, "
                                                "text, PNG/JPEG images. Kind is told by content.")],
    collection: Annotated[Optional[str], typer.Option(
        "--collection", metavar="NAME", help="Collection to add to, e.g. 山西省人民政府公报 or 本单位文件.",
        show_default="a gazette's masthead; for single documents QA_DEFAULT_COLLECTION, else 本单位文件")] = None,
    corpus: CorpusOpt = None, index: IndexOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an issue or document already in the corpus.")] = False,
) -> None:
    """Add files: each read (OCR for scans) and parsed first, copied into the corpus (corpus/<collection>/…),
    then only their chunks embedded. Nothing changes when one file cannot be read."""
    from qa.index.manage import CorpusChangeError, IndexBusyError, ingest_files
    from qa.service import build_index

    settings = _settings(corpus, index)
    try:
        with _index_errors():
            plan, change = ingest_files(settings.index_dir, settings.corpus_dir, paths,
                                        lambda: build_index(settings, show_progress=True, incremental=True),
                                        collection=collection, replace=replace,
                                        default_collection=settings.default_collection, cache_dir=settings.cache_dir)
    except (CorpusChangeError, IndexBusyError) as exc:
        typer.echo(f"not added: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, CorpusChangeError) else 3) from exc
    for item in plan:
        what = (f"issue {item.label}, {item.documents} documents" if item.kind == "gazette"
                else f"《{item.label}》" + (f" (not found: {'、'.join(item.missing)})" if item.missing else ""))
        pages = f", {item.pages} pages ({item.ocr_pages} by OCR)" if item.pages else ""
        typer.echo(f"{item.src} -> {item.name}  [{item.collection or '-'}] {item.reader}{pages}: {what}")
    _change_corpus(lambda: change)


@index_app.command("remove")
def index_remove_cmd(name: Annotated[str, typer.Argument(metavar="NAME", help="Corpus file (path inside the corpus dir) or a root "
                                                       "issue, e.g. 2022-03, 2022-03.txt, 本单位文件/通知.docx.")],
                     corpus: CorpusOpt = None, index: IndexOpt = None) -> None:
    """Remove a file: it moves to corpus/removed/ and its chunks leave the index."""
    from qa.corpus.files import corpus_files
    from qa.index.manage import remove_files
    from qa.service import build_index

    settings = _settings(corpus, index)
    corpus_dir = Path(settings.corpus_dir)
    names = [p.relative_to(corpus_dir).as_posix() for p in corpus_files(corpus_dir)]
    target = name if name in names else next((n for n in names if "/" not in n and Path(n).stem == name), name)
    _change_corpus(lambda: remove_files(
        settings.index_dir, settings.corpus_dir, [target],
        lambda: build_index(settings, show_progress=True, incremental=True)))


@index_app.command("to-milvus")
def index_to_milvus_cmd(index: IndexOpt = None, corpus: CorpusOpt = None) -> None:
    """Copy a local index (vectors included, nothing re-embedded) into the Milvus collection of
    QA_MILVUS_URI / QA_MILVUS_COLLECTION, with the parsed documents of its corpus files."""
    import time

    from qa.index.milvus_store import MilvusStore
    from qa.index.store import LocalStore

    settings = _settings(corpus, index)
    t0 = time.perf_counter()
    local = LocalStore.load(settings.index_dir)
    target = MilvusStore.connect(settings)
    target.copy_from(local, settings.corpus_dir)
    typer.echo(f"{len(local)} chunks from {settings.index_dir} -> {target.location} in {time.perf_counter() - t0:.1f} s")


@index_app.command("stats")
def index_stats_cmd(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """The index manifest: model, dimension, chunk count, corpus files; collections with their counts."""
    from dataclasses import asdict

    from qa.index.chunkstore import open_store

    settings = _settings(index=index)
    with _index_errors():
        store = open_store(settings)
    m = asdict(store.manifest)
    from collections import Counter

    from qa.service import collection_counts

    chunks = list(store.iter_chunks())
    m["store"] = store.location
    m["chunks_by_type"] = dict(Counter(c.chunk_type for c in chunks))
    m["chunks_by_issue"] = dict(Counter(c.issue for c in chunks if c.issue))
    m["collections"] = collection_counts(chunks)
    if as_json:
        _dump(m)
        return
    for k, v in m.items():
        if k != "collections":
            typer.echo(f"{k}: {v}")
    typer.echo("collections:")
    for c in m["collections"]:
        typer.echo(f"  {c['name'] or '(none)'}: {c['files']} files, {c['documents']} documents, {c['chunks']} chunks")


# ---- search and ask -------------------------------------------------------------------------------

def _parse_filters(filters: list[str] | None, collection: str | None = None) -> dict | None:
    out: dict = {"collection": collection} if collection else {}
    for f in filters or []:
        key, sep, value = f.partition("=")
        if not sep:
            raise typer.BadParameter(f"filter {f!r} is not KEY=VALUE", param_hint="--filter")
        out[key.strip()] = int(value) if key.strip() == "year" and value.strip().isdigit() else value.strip()
    return out or None


FilterOpt = Annotated[Optional[list[str]], typer.Option(
    "--filter", metavar="KEY=VALUE", help="Keys: year, issue, category, doc_number, collection. Repeatable.",
    show_default="no filter")]
CollectionOpt = Annotated[Optional[str], typer.Option(
    "--collection", metavar="NAME", help="Only this collection (see `qa index stats`).", show_default="all")]
TopKOpt = Annotated[int, typer.Option("--top-k", metavar="N", min=1, max=50, help="How many passages (1-50).")]


def excerpt(text: str, limit: int, indent: str = "    ") -> str:
    """A passage for the terminal: one line per source line (a roster keeps a person per line), table cells
    apart by two spaces instead of raw tabs, cut after `limit` characters with an ellipsis."""
    lines = [re.sub(r"[ \t]*\t[ \t]*", "  ", ln).strip() for ln in text.splitlines()]
    out, used = [], 0
    for ln in (x for x in lines if x):
        if used + len(ln) > limit:
            out.append(ln[: max(0, limit - used)].rstrip() + "…")
            break
        out.append(ln)
        used += len(ln)
    return "\n".join(indent + ln for ln in out)


def _where(c) -> str:
    """file:lines, and for a PDF or scan the page and lines on it: 通知.pdf p.2 l.3-9 (lines 40-46)."""
    if c.page_start:
        pages = f"p.{c.page_start} l.{c.page_line_start}" + (
            f"-{c.page_line_end}" if c.page_end == c.page_start else f"-p.{c.page_end} l.{c.page_line_end}")
        return f"{c.source_file} {pages}"
    return f"{c.source_file}:{c.line_start}-{c.line_end}"


@app.command("search")
def search_cmd(query: Annotated[str, typer.Argument(metavar="QUERY", help="A question or keywords, Chinese or English.")],
               top_k: TopKOpt = 5, filter: FilterOpt = None, collection: CollectionOpt = None, index: IndexOpt = None,
               as_json: JsonOpt = False) -> None:
    """Hybrid search: each hit with score, chunk id, cite text, source lines, document and section."""
    from qa.service import GazetteService

    with _index_errors():
        service = GazetteService.load(_settings(index=index))
    try:
        hits = service.search(query, top_k=top_k, filters=_parse_filters(filter, collection))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--filter") from exc
    if as_json:
        _dump({"question": query, "hits": [h.to_dict() for h in hits]})
        return
    for n, h in enumerate(hits, 1):
        c = h.chunk
        typer.echo(f"[{n}] {h.score:.4f}  {c.doc_number} 《{c.doc_title}》  {c.collection} {c.issue}  {_where(c)}")
        if c.section_path:
            typer.echo(f"    {' > '.join(c.section_path)}")
        typer.echo(excerpt(c.text, 200))


def _offered_mode(mode: str | None) -> str | None:
    """The API's refusal (422) of mode=generative where no LLM is configured, as a usage error."""
    from qa.api.state import generative_offered

    if mode == "generative" and not generative_offered(get_settings()):
        raise typer.BadParameter("generative answers need an LLM endpoint (QA_LLM_BASE_URL, and "
                                 "QA_ALLOW_GENERATIVE_REQUESTS not false); omit --mode or use extractive")
    return mode


@app.command("ask")
def ask_cmd(question: Annotated[str, typer.Argument(metavar="QUESTION", help="A question, Chinese or English.")],
            top_k: TopKOpt = 5, filter: FilterOpt = None, collection: CollectionOpt = None,
            mode: Annotated[Optional[Literal["extractive", "generative"]], typer.Option(
                "--mode", callback=_offered_mode, help="extractive: sentences quoted from the passages; generative: "
                "written by the LLM at QA_LLM_BASE_URL and checked against them.",
                show_default="QA_ANSWER_MODE, else extractive")] = None,
            index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Answer a question with cited source paragraphs."""
    from qa.service import GazetteService

    with _index_errors():
        service = GazetteService.load(_settings(index=index))
    try:
        result = service.ask(question, top_k=top_k, filters=_parse_filters(filter, collection), mode=mode)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--filter") from exc
    if as_json:
        _dump(result.to_dict())
        return
    typer.echo(result.answer.replace("\t", "  "))
    if result.notice:
        typer.echo(f"({result.notice})")
    for c in result.citations:
        h = c.hit.chunk
        typer.echo(f"\n[{c.n}] {h.doc_number} 《{h.doc_title}》 {h.collection} {h.issue}  {_where(h)}")
        if h.section_path:
            typer.echo(f"    {' > '.join(h.section_path)}")
        typer.echo(excerpt(h.text, 300))
    if not result.answered and result.related:
        typer.echo("\n相关段落：")
        for h in result.related[:3]:
            typer.echo(f"  - {h.chunk.doc_number} 《{h.chunk.doc_title}》 {_where(h.chunk)}")


# ---- eval and serve --------------------------------------------------------------------------------

def _register_eval() -> None:
    from qa.evaluation.cli import eval_command, train_command, train_ranker_command

    app.command("eval")(eval_command)
    app.command("train")(train_command)
    app.command("train-ranker")(train_ranker_command)


_register_eval()


@app.command("serve")
def serve_cmd(host: Annotated[Optional[str], typer.Option(
                  "--host", metavar="HOST", help="Address to listen on (0.0.0.0: every interface).",
                  show_default="QA_HOST, else 127.0.0.1")] = None,
              port: Annotated[Optional[int], typer.Option(
                  "--port", metavar="PORT", min=1, max=65535, help="TCP port to listen on.",
                  show_default="QA_PORT, else 8000")] = None,
              index: IndexOpt = None) -> None:
    """Serve the answer API and the chat UI (/ui); builds the index from corpus/ first if there is none."""
    from qa.serve import PortUnavailable, serve

    try:
        serve(get_settings(), host=host, port=port, index_dir=index)
    except PortUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
