"""Full and incremental index builds, always written atomically (see atomic.py).

Vectors are reused, never recomputed, for a chunk whose id and embed_text are both unchanged; the
stored vectors also let a change of index type (flat -> ivf) happen without re-embedding.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.corpus.chunker import CHUNKER_VERSION
from qa.corpus.files import corpus_files, sha256_file  # noqa: F401 - corpus_files is re-exported by qa.index
from qa.index.atomic import build_lock, recover
from qa.index.chunkstore import ChunkStore, StoredChunks
from qa.index.faiss_index import IndexParams
from qa.index.lexical import LEXICAL_VERSION, JiebaTokenizer, doc_tokens
from qa.index.protocols import ChunkFileFn, PassageEncoder
from qa.index.sentence_store import SentenceTextsFn, SentenceVectors, build_sentence_vectors
from qa.index.store import (
    IndexNotFoundError, LocalStore, Manifest, check_compatible, encoder_mismatch, encoder_variant, utc_now,
    write_index_dir,
)
from qa.models import Chunk

log = logging.getLogger(__name__)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class BuildReport:
    index_dir: Path
    mode: str  # "build" | "update" | "noop"
    n_chunks: int = 0
    n_embedded: int = 0
    n_reused: int = 0
    n_sentences_embedded: int = 0  # answer sentences embedded (the rest reused from the old index)
    files_added: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _default_chunk_file(corpus_dir: Path, cache_dir: Path | None) -> ChunkFileFn:
    from qa.corpus.chunker import chunk_file  # imported late so tests can pass their own chunker
    from qa.ingest.ocr import OcrEngine

    ocr = OcrEngine()  # loaded on the first scan only, then shared by every file of the build
    return lambda path: chunk_file(path, corpus_dir, cache_dir=cache_dir, ocr=ocr)


class IndexBuilder:
    def __init__(
        self,
        index_dir: Path | str,
        encoder: PassageEncoder,
        *,
        normalizer_version: str,
        params: IndexParams = IndexParams(),
        chunk_file: ChunkFileFn | None = None,
        show_progress: bool = False,
        tokenizer: JiebaTokenizer | None = None,
        sentence_texts: SentenceTextsFn | None = None,
        cache_dir: Path | None = None,
        store: ChunkStore | None = None,
        document_file=None,
    ) -> None:
        """sentence_texts: the texts the answerer embeds per chunk (qa.answer.precompute.sentence_texts);
        given, their vectors are computed here and stored with the (local) index, so no request embeds them.
        `store`: write into this ChunkStore (e.g. a MilvusStore) instead of the local index at
        index_dir. `document_file`: path -> the file's parsed documents as JSON-ready dicts, kept by a
        store that serves documents itself (default: the gazette issue parser)."""
        self.sentence_texts = sentence_texts
        self.store = store
        self.document_file = document_file
        self._corpus_dir = Path(".")
        self.index_dir = Path(index_dir)
        self.encoder = encoder
        self.normalizer_version = normalizer_version
        self.params = params
        self.chunk_file = chunk_file  # None: qa.corpus.chunker.chunk_file, any file kind, collections by folder
        self.cache_dir = Path(cache_dir) if cache_dir else None  # where extracted text (OCR) is cached
        self._default: tuple[Path, ChunkFileFn] | None = None
        self.show_progress = show_progress
        self._tokenizer = tokenizer or JiebaTokenizer()

    # ---- public -------------------------------------------------------------------------------

    def build(self, corpus_dir: Path | str) -> BuildReport:
        """Chunk and embed the whole corpus, then swap the new index in."""
        t0 = time.perf_counter()
        corpus_dir = Path(corpus_dir)
        self._corpus_dir = corpus_dir
        with self._lock():
            files = {self._rel(corpus_dir, p): p for p in corpus_files(corpus_dir)}
            per_file = {rel: self._chunk(corpus_dir, p) for rel, p in files.items()}
            report = BuildReport(self.index_dir, "build", files_added=sorted(files))
            data = self._assemble(per_file, reuse={}, report=report)
            sentences = self._sentences(data, None, report)
            self._write(data, {rel: sha256_file(p) for rel, p in files.items()}, created=utc_now(), changed=files,
                        sentences=sentences)
        report.n_chunks = len(data.chunks)
        report.seconds = time.perf_counter() - t0
        return report

    def update(self, corpus_dir: Path | str) -> BuildReport:
        """Bring the index in line with the corpus, embedding only chunks it has no vector for.
        Builds from scratch if there is no index yet or its vectors come from another encoder variant
        (runtime/quantisation); raises IndexMismatchError if the index was embedded with another model."""
        t0 = time.perf_counter()
        corpus_dir = Path(corpus_dir)
        self._corpus_dir = corpus_dir
        with self._lock():
            old = self._existing()
            if old is None:
                report = None
            else:
                check_compatible(old.manifest, self.encoder.model_name, self.encoder.dim, self.index_dir)
                problem = encoder_mismatch(old.manifest, encoder_variant(self.encoder))
                if problem:
                    # Reused vectors would mix two encoders in one index: embed everything anew.
                    log.warning("%s: %s; re-embedding every chunk", self.index_dir, problem)
                    report = None
                else:
                    report = self._update(corpus_dir, old)
        if report is None:
            return self.build(corpus_dir)
        report.seconds = time.perf_counter() - t0
        return report

    # ---- internals ----------------------------------------------------------------------------

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One writer per local index dir (finishing a swap cut short first); a store elsewhere
        (Milvus) is written by one indexing job at a time by deployment."""
        if self.store is not None:
            yield
            return
        with build_lock(self.index_dir):
            recover(self.index_dir)
            yield

    def _existing(self) -> ChunkStore | None:
        if self.store is not None:
            return self.store if self.store.manifest is not None else None
        try:
            return LocalStore.load(self.index_dir)
        except IndexNotFoundError:
            return None

    def _update(self, corpus_dir: Path, old: ChunkStore) -> BuildReport:
        m = old.manifest
        files = {self._rel(corpus_dir, p): p for p in corpus_files(corpus_dir)}
        shas = {rel: sha256_file(p) for rel, p in files.items()}
        # A new normaliser, tokenizer or chunker changes the chunks of every file: re-chunk all files
        # (vectors are still reused wherever embed_text is unchanged).
        rechunk_all = (m.normalizer_version != self.normalizer_version or m.lexical_version != LEXICAL_VERSION
                       or m.chunker_version != CHUNKER_VERSION)
        report = BuildReport(self.index_dir, "update")
        report.files_removed = sorted(set(m.files) - set(files))
        old_data = old.stored()
        old_by_file: dict[str, list[int]] = {}
        for i, c in enumerate(old_data.chunks):
            old_by_file.setdefault(c.source_file, []).append(i)
        per_file: dict[str, list[Chunk] | list[int]] = {}
        for rel, path in files.items():
            if rel not in m.files:
                report.files_added.append(rel)
            elif m.files[rel] != shas[rel] or rechunk_all:
                report.files_changed.append(rel)
            else:
                report.files_unchanged.append(rel)
                per_file[rel] = old_by_file.get(rel, [])  # keep stored rows as they are
                continue
            per_file[rel] = self._chunk(corpus_dir, path)
        params_same = self._params_match(m)
        # An index without the sentence vectors this builder stores (format 1), or a local one without checksums
        # (before format 3), is rewritten once too, reusing every vector.
        sentences_missing = self._keeps_sentences() and not m.sentence_count
        checksums_missing = self.store is None and not m.checksums
        if not (report.files_added or report.files_changed or report.files_removed) and params_same \
                and not sentences_missing and not checksums_missing:
            report.mode = "noop"
            report.n_chunks = len(old_data.chunks)
            report.n_reused = len(old_data.chunks)
            return report
        reuse = {c.chunk_id: i for i, c in enumerate(old_data.chunks)}
        data = self._assemble(per_file, reuse=reuse, report=report, old=old_data)
        sentences = self._sentences(data, getattr(old, "sentences", None), report)
        changed = {rel: files[rel] for rel in report.files_added + report.files_changed}
        self._write(data, shas, created=m.created, changed=changed, removed=report.files_removed, sentences=sentences)
        report.n_chunks = len(data.chunks)
        return report

    def _params_match(self, m: Manifest) -> bool:
        return m.build_params == self.params.build_key()

    def _rel(self, corpus_dir: Path, path: Path) -> str:
        return path.relative_to(corpus_dir).as_posix()

    def _chunk(self, corpus_dir: Path, path: Path) -> list[Chunk]:
        rel = self._rel(corpus_dir, path)
        chunk_file = self.chunk_file
        if chunk_file is None:
            if self._default is None or self._default[0] != corpus_dir:
                self._default = (corpus_dir, _default_chunk_file(corpus_dir, self.cache_dir))
            chunk_file = self._default[1]
        chunks = chunk_file(path)
        bad = {c.source_file for c in chunks if c.source_file != rel}
        if bad:
            raise ValueError(f"chunker gave source_file {sorted(bad)} for {rel}; expected the path relative to the corpus dir")
        return chunks

    def _assemble(
        self,
        per_file: dict[str, list[Chunk] | list[int]],
        reuse: dict[str, int],
        report: BuildReport,
        old: StoredChunks | None = None,
    ) -> StoredChunks:
        """Lay chunks out in (file, chunker) order, taking vectors from `old` where id and text match
        and embedding the rest in one call."""
        chunks: list[Chunk] = []
        tokens: list[list[str]] = []
        shas: list[str] = []
        sources: list[int | None] = []  # old row to copy the vector from, or None = embed
        for rel in sorted(per_file):
            for item in per_file[rel]:
                if isinstance(item, int):  # unchanged file: stored row reused wholesale
                    assert old is not None
                    chunks.append(old.chunks[item])
                    tokens.append(old.tokens[item])
                    shas.append(old.embed_shas[item])
                    sources.append(item)
                    continue
                sha = sha256_text(item.embed_text)
                j = reuse.get(item.chunk_id)
                chunks.append(item)
                tokens.append(doc_tokens(self._tokenizer, item.search_text, item.persons))
                shas.append(sha)
                sources.append(j if (j is not None and old is not None and old.embed_shas[j] == sha) else None)
        seen: set[str] = set()
        dups = {c.chunk_id for c in chunks if c.chunk_id in seen or seen.add(c.chunk_id)}
        if dups:
            raise ValueError(f"duplicate chunk ids: {sorted(dups)[:5]}")
        dim = self.encoder.dim
        vectors = np.zeros((len(chunks), dim), np.float32)
        todo = [i for i, s in enumerate(sources) if s is None]
        if todo:
            new = self._embed([chunks[i].embed_text for i in todo])
            vectors[todo] = new
        keep = [(i, s) for i, s in enumerate(sources) if s is not None]
        if keep:
            assert old is not None
            dst, src = zip(*keep)
            vectors[list(dst)] = np.asarray(old.vectors)[list(src)]
        report.n_embedded = len(todo)
        report.n_reused = len(keep)
        return StoredChunks(chunks, vectors, tokens, shas)

    def _keeps_sentences(self) -> bool:
        """Answer-sentence vectors are stored by the local index only (a MilvusStore keeps none: its
        replicas embed the few sentences of a question's passages per request)."""
        return self.sentence_texts is not None and self.store is None

    def _sentences(self, data: StoredChunks, old: SentenceVectors | None, report: BuildReport) -> SentenceVectors | None:
        """The answer sentences' vectors (None when this builder stores none)."""
        if not self._keeps_sentences():
            return None
        store, n = build_sentence_vectors(data.chunks, self.sentence_texts, self.encoder.encode_passages,
                                          int(self.encoder.dim), old=old, show_progress=self.show_progress)
        if len(store) and not np.isfinite(store.vectors).all():
            raise ValueError("encoder returned non-finite values for answer sentences")
        report.n_sentences_embedded = n
        return store

    def _embed(self, texts: list[str]) -> np.ndarray:
        vecs = np.asarray(self.encoder.encode_passages(texts, show_progress=self.show_progress), dtype=np.float32)
        if vecs.shape != (len(texts), self.encoder.dim):
            raise ValueError(f"encoder returned shape {vecs.shape}, expected ({len(texts)}, {self.encoder.dim})")
        if not np.isfinite(vecs).all():
            raise ValueError("encoder returned non-finite values")
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        # Inner product = cosine only on unit vectors; renormalise rather than trust the encoder.
        return vecs / np.maximum(norms, 1e-12)

    def _write(self, data: StoredChunks, file_shas: dict[str, str], created: str,
               changed: dict[str, Path] | None = None, removed: list[str] | None = None,
               sentences: SentenceVectors | None = None) -> None:
        manifest = Manifest(
            model_name=self.encoder.model_name,
            dim=int(self.encoder.dim),
            normalizer_version=self.normalizer_version,
            lexical_version=LEXICAL_VERSION,
            chunk_count=len(data.chunks),
            index_type=self.params.index_type,
            index_params={},
            build_params=self.params.build_key(),
            files=dict(sorted(file_shas.items())),
            created=created,
            updated=utc_now(),
            encoder=encoder_variant(self.encoder),
            chunker_version=CHUNKER_VERSION,
            sentence_count=len(sentences) if sentences is not None else 0,
        )
        if self.store is None:
            write_index_dir(self.index_dir, data, manifest, self.params, sentences)
            return
        documents = None
        if hasattr(self.store, "issue_records"):  # a store that serves the parsed documents itself
            parse = self.document_file or _default_document_file(self._corpus_dir, self.cache_dir)
            documents = {rel: parse(path) for rel, path in (changed or {}).items()}
            documents.update({rel: None for rel in removed or []})
        self.store.sync(data, manifest, documents=documents) if documents is not None else self.store.sync(data, manifest)


def _default_document_file(corpus_dir: Path, cache_dir: Path | None):
    from dataclasses import asdict  # noqa: PLC0415

    from qa.corpus.sources import load_source  # noqa: PLC0415

    return lambda path: asdict(load_source(path, corpus_dir, cache_dir=cache_dir))
