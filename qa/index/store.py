"""LocalStore, the embedded ChunkStore: FAISS vectors + SQLite chunks + vectors.npy + manifest.json + bm25s.

Layout of an index dir:
  manifest.json   model, encoder variant, dim, normaliser/lexical versions, chunk count, index params,
                  sha256 per corpus file
  chunks.sqlite   one row per chunk (vec_id = row of vectors.npy = FAISS id), all Chunk fields, tokens
  vectors.npy     float32 (n, dim), kept so updates and index-type changes never re-embed
  faiss.index     IndexIDMap2 over Flat/IVF/HNSW (inner product on unit vectors)
  sentence_texts.json, sentence_vectors.npy   the answerer's candidate sentences, embedded at build
                  time (sentence_store.py; format 2, absent from format-1 indexes)
The manifest also records a sha256 and size of every other file (integrity.py), checked at every load.
Writing (write_index_dir) always goes into a fresh temp dir that atomic.commit swaps in.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from qa.corpus.normalize import canonical_form
from qa.index.acronyms import corpus_acronyms
from qa.index.atomic import MANIFEST, commit, disk_full_error, is_disk_full, new_temp_dir, old_path, readable_dir
from qa.index.chunkstore import BM25Query, Catalog, StoredChunks, check_filters, chunk_collection
from qa.index.crosslingual import document_frequencies, group_bm25
from qa.index.faiss_index import IndexParams, build_faiss_index, search_params
from qa.index.integrity import IndexCorruptError, file_checksums, orphaned_files, verify
from qa.index.lexical import JiebaTokenizer, LexicalIndex, LexicalParams
from qa.index.sentence_store import SENTENCE_VECTORS, SentenceVectors
from qa.models import Chunk

# 2: sentence vectors stored with the index (a format-1 index still loads: its sentences are embedded per request);
# 3: `checksums` of the index files (integrity.py; a format-1/2 index loads unverified, with a warning)
FORMAT_VERSION = 3
log = logging.getLogger(__name__)
CHUNKS_DB = "chunks.sqlite"
VECTORS = "vectors.npy"
FAISS_FILE = "faiss.index"
INDEX_FILES = (CHUNKS_DB, VECTORS, FAISS_FILE)  # what every local index holds besides the manifest


class IndexMismatchError(RuntimeError):
    """The index on disk was built with another embedding model / dimension than the one in use."""


class IndexNotFoundError(FileNotFoundError):
    pass


@dataclass
class Manifest:
    model_name: str
    dim: int
    normalizer_version: str
    lexical_version: str
    chunk_count: int
    index_type: str
    index_params: dict  # parameters actually used (nlist clamped to the corpus size)
    build_params: dict  # IndexParams.build_key() as requested: an update with other values rebuilds FAISS
    files: dict[str, str]  # source_file -> sha256
    created: str
    updated: str = ""
    format_version: int = FORMAT_VERSION
    # Runtime/quantisation of the encoder that made the vectors (E5Embeddings.variant, e.g. "onnx/int8");
    # "" = not recorded (older index, or an encoder that does not say).
    encoder: str = ""
    # qa.corpus.chunker.CHUNKER_VERSION of the stored chunks; "" = older index (re-chunked on update).
    chunker_version: str = ""
    # Vectors of the answerer's candidate sentences stored (sentence_store.py); 0 = none (format 1).
    sentence_count: int = 0
    # file name -> "sha256:<hex>:<size>" for every file of the index dir but the manifest (integrity.py);
    # empty = written before format 3: loaded unverified, with a warning.
    checksums: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        d = json.loads(text)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def manifest_generation(index_dir: Path | str) -> str | None:
    """sha256 of the manifest a reader would load now; None when there is no index. The manifest changes with
    every build, update, add and remove (its `updated` time and file hashes), so this names an index version."""
    src = readable_dir(Path(index_dir))
    if src is None:
        return None
    try:
        return hashlib.sha256((src / MANIFEST).read_bytes()).hexdigest()
    except FileNotFoundError:  # swapped out between the check and the read: the next poll sees the new one
        return None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_SCHEMA = """
CREATE TABLE chunks (
  vec_id INTEGER PRIMARY KEY,
  chunk_id TEXT NOT NULL UNIQUE,
  source_file TEXT NOT NULL,
  issue TEXT NOT NULL,
  year INTEGER NOT NULL,
  doc_key TEXT NOT NULL,
  doc_number TEXT NOT NULL,
  doc_number_canonical TEXT NOT NULL,
  category TEXT NOT NULL,
  chunk_type TEXT NOT NULL,
  line_start INTEGER NOT NULL,
  line_end INTEGER NOT NULL,
  embed_sha TEXT NOT NULL,      -- sha256 of embed_text: a vector is reused only if id and text both match
  tokens TEXT NOT NULL,         -- JSON list of BM25 tokens
  chunk_json TEXT NOT NULL      -- the whole Chunk (Chunk.to_dict), authoritative
);
CREATE INDEX chunks_file ON chunks(source_file);
CREATE INDEX chunks_doc ON chunks(doc_key);
CREATE TABLE files (source_file TEXT PRIMARY KEY, sha256 TEXT NOT NULL, n_chunks INTEGER NOT NULL);
"""


def write_chunk_db(path: Path, data: StoredChunks, files: dict[str, str]) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        rows = (
            (
                i, c.chunk_id, c.source_file, c.issue, c.year, c.doc_key, c.doc_number,
                canonical_form(c.doc_number) if c.doc_number else "", c.category, c.chunk_type,
                c.line_start, c.line_end, data.embed_shas[i],
                json.dumps(data.tokens[i], ensure_ascii=False), json.dumps(c.to_dict(), ensure_ascii=False),
            )
            for i, c in enumerate(data.chunks)
        )
        con.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        counts: dict[str, int] = {}
        for c in data.chunks:
            counts[c.source_file] = counts.get(c.source_file, 0) + 1
        con.executemany(
            "INSERT INTO files VALUES (?,?,?)", [(f, sha, counts.get(f, 0)) for f, sha in sorted(files.items())]
        )
        con.commit()
    finally:
        con.close()


def read_chunk_db(path: Path) -> tuple[list[Chunk], list[list[str]], list[str]]:
    # immutable=1: the file never changes after commit, and this needs no write access or locks.
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        rows = con.execute("SELECT vec_id, chunk_json, tokens, embed_sha FROM chunks ORDER BY vec_id").fetchall()
    finally:
        con.close()
    if any(r[0] != i for i, r in enumerate(rows)):
        raise ValueError(f"{path}: vec_ids are not contiguous")
    chunks = [Chunk.from_dict(json.loads(r[1])) for r in rows]
    return chunks, [json.loads(r[2]) for r in rows], [r[3] for r in rows]


@dataclass
class LocalStore:
    """The ChunkStore of one index directory, held in memory (see qa.index.chunkstore)."""

    path: Path  # the directory actually read (the index dir, or its .old twin after a cut-short swap)
    manifest: Manifest
    chunks: list[Chunk]  # position = vec_id = row
    vectors: np.ndarray  # (n, dim) float32, row = vec_id
    tokens: list[list[str]]
    embed_shas: list[str]
    faiss_index: faiss.Index
    sentences: SentenceVectors | None = None  # None: the index stores none (built before format 2)
    generation: str = ""  # sha256 of the manifest file loaded (manifest_generation)
    index_dir: Path | None = None  # where sync writes (the dir asked for, even when .old was read)
    _by_id: dict[str, int] = field(default_factory=dict, repr=False)
    _columns: dict[str, np.ndarray] | None = field(default=None, repr=False)
    lexical: LexicalIndex | None = field(default=None, repr=False)
    _bm25_cache: tuple[BM25Query, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        if self.index_dir is None:
            self.index_dir = self.path

    @classmethod
    def load(cls, index_dir: Path | str, expected_model: str | None = None, expected_dim: int | None = None) -> "LocalStore":
        index_dir = Path(index_dir)
        src = readable_dir(index_dir)
        if src is None:
            orphans = orphaned_files(index_dir, INDEX_FILES) or orphaned_files(old_path(index_dir), INDEX_FILES)
            if orphans:  # index files without their manifest: damaged, and never silently rebuilt
                raise IndexCorruptError(index_dir / MANIFEST, f"is missing (the directory holds {', '.join(orphans)})")
            raise IndexNotFoundError(f"no index at {index_dir} (build one with `qa index build`)")
        try:
            manifest_bytes = (src / MANIFEST).read_bytes()
            manifest = Manifest.from_json(manifest_bytes.decode("utf-8"))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(src / MANIFEST, f"is not a readable manifest ({exc})") from exc
        check_compatible(manifest, expected_model, expected_dim, where=index_dir)
        if manifest.checksums:
            verify(src, manifest.checksums)
        else:
            log.warning("%s: the manifest records no checksums (index written before format 3), so its files are "
                        "not verified; `qa index build` adds them", src)
        chunks, tokens, shas = _read(src / CHUNKS_DB, read_chunk_db)
        vectors = _read(src / VECTORS, lambda p: np.load(p, mmap_mode="r"))
        fidx = _read(src / FAISS_FILE, lambda p: faiss.read_index(str(p)))
        if not (len(chunks) == vectors.shape[0] == fidx.ntotal == manifest.chunk_count):
            raise IndexCorruptError(
                src, f"is inconsistent: {len(chunks)} chunks, {vectors.shape[0]} vectors, "
                f"{fidx.ntotal} in faiss, manifest says {manifest.chunk_count}"
            )
        sentences = (_read(src / SENTENCE_VECTORS, lambda _p: SentenceVectors.load(src, manifest.dim))
                     if manifest.sentence_count else None)
        if sentences is not None and len(sentences) != manifest.sentence_count:
            raise IndexCorruptError(src, f"is inconsistent: {len(sentences)} sentence vectors, "
                                    f"manifest says {manifest.sentence_count}")
        return cls(src, manifest, chunks, vectors, tokens, shas, fidx, sentences, index_dir=index_dir,
                   generation=hashlib.sha256(manifest_bytes).hexdigest())

    @classmethod
    def create(cls, index_dir: Path | str, manifest: Manifest) -> "LocalStore":
        """An empty store at index_dir (written at once), for write_chunks and friends."""
        index_dir = Path(index_dir)
        empty = StoredChunks([], np.zeros((0, int(manifest.dim)), np.float32), [], [])
        write_index_dir(index_dir, empty, replace(manifest, chunk_count=0), _params_of(manifest))
        return cls.load(index_dir)

    # ---- ChunkStore: reading -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def location(self) -> str:
        return str(self.index_dir)

    def current_generation(self) -> str | None:
        """The generation of the index on disk now (another process may have changed it)."""
        return manifest_generation(self.index_dir) if self.index_dir is not None else None

    def vec_id(self, chunk_id: str) -> int | None:
        return self._by_id.get(chunk_id)

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[self._by_id[c]] for c in chunk_ids if c in self._by_id]

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        return [self.chunks[int(i)] for i in rows]

    def iter_chunks(self, filters: Mapping | None = None) -> Iterator[Chunk]:
        allowed = self.allowed(filters)
        return iter(self.chunks) if allowed is None else (self.chunks[int(i)] for i in allowed)

    def count(self, filters: Mapping | None = None) -> int:
        allowed = self.allowed(filters)
        return len(self) if allowed is None else len(allowed)

    def stored(self) -> StoredChunks:
        return StoredChunks(self.chunks, self.vectors, self.tokens, self.embed_shas)

    def _cols(self) -> dict[str, np.ndarray]:
        if self._columns is None:
            cs = self.chunks
            self._columns = {
                "year": np.array([c.year for c in cs], dtype=np.int64),
                "issue": np.array([c.issue for c in cs], dtype=object),
                "category": np.array([c.category for c in cs], dtype=object),
                "doc_number": np.array([canonical_form(c.doc_number) if c.doc_number else "" for c in cs], dtype=object),
                "collection": np.array([chunk_collection(c) for c in cs], dtype=object),
            }
        return self._columns

    def allowed(self, filters: Mapping | None) -> np.ndarray | None:
        """Rows passing the filters (None = no filter)."""
        checked = check_filters(filters)
        if not filters:
            return None
        mask = np.ones(len(self), dtype=bool)
        cols = self._cols()
        for key, values in checked.items():
            mask &= np.isin(cols[key], values)
        return np.flatnonzero(mask).astype(np.int64)

    def select(self, rows: Sequence[int], filters: Mapping | None) -> list[int]:
        allowed = self.allowed(filters)
        if allowed is None:
            return [int(i) for i in rows]
        ok = set(allowed.tolist())
        return [int(i) for i in rows if int(i) in ok]

    def dense_search(
        self, query_vec: np.ndarray, k: int, filters: Mapping | None = None, query_params: dict | None = None,
        exact_limit: int = 50_000, allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (vec_ids, inner products). A filter of up to `exact_limit` rows is searched exactly
        over the stored vectors: ANN graphs (HNSW) lose most hits under a selective filter."""
        if allowed is None:
            allowed = self.allowed(filters)
        q = np.ascontiguousarray(query_vec, dtype=np.float32).reshape(1, -1)
        if allowed is not None:
            if len(allowed) == 0:
                return np.empty(0, np.int64), np.empty(0, np.float32)
            if len(allowed) <= exact_limit:
                scores = np.asarray(self.vectors[allowed] @ q[0], dtype=np.float32)
                top = np.argsort(-scores, kind="stable")[:k]
                return allowed[top].astype(np.int64), scores[top]
        k = min(k, len(self))
        if k == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        used = dict(self.manifest.index_params)
        used.update(query_params or {})
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64)) if allowed is not None else None
        scores, ids = self.faiss_index.search(q, k, params=search_params(used, sel))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def dense_scores(self, query_vec: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        return np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)] @ query_vec)

    # BM25: bm25s over the stored jieba tokens, in memory.

    def use_lexical(self, params: LexicalParams = LexicalParams(), tokenizer: JiebaTokenizer | None = None) -> LexicalIndex:
        """Build (or rebuild with other k1/b) the BM25 matrix the bm25_* methods read."""
        if self.lexical is None or self.lexical.params != params or (tokenizer is not None and self.lexical.tokenizer is not tokenizer):
            self.lexical = LexicalIndex(self.tokens, [c.doc_key for c in self.chunks],
                                        (p for c in self.chunks for p in c.persons), params, tokenizer)
            self._bm25_cache = None
        return self.lexical

    def _bm25_all(self, query: BM25Query) -> np.ndarray:
        if self._bm25_cache is not None and self._bm25_cache[0] == query:
            return self._bm25_cache[1]
        lex = self.use_lexical() if self.lexical is None else self.lexical
        scores = lex.scores(query.text)
        if query.groups:
            scores = scores + group_bm25(query.groups, query.combine, lex.term_scores, len(self))
        self._bm25_cache = (query, scores)
        return scores

    def bm25_search(self, query: BM25Query, k: int, filters: Mapping | None = None,
                    allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores = self._bm25_all(query)
        if allowed is None:
            allowed = self.allowed(filters)
        if allowed is not None:
            mask = np.zeros(len(self), dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        top = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        return top.astype(np.int64), scores[top]

    def bm25_scores(self, query: BM25Query, rows: Sequence[int]) -> np.ndarray:
        return self._bm25_all(query)[np.asarray(rows, dtype=np.int64)]

    def catalog(self) -> Catalog:
        lex = self.lexical or self.use_lexical()
        tokens = self.tokens
        return Catalog.of_rows(enumerate(self.chunks), corpus_acronyms(c.text for c in self.chunks), lex.stopwords,
                               lambda: document_frequencies(tokens))

    # ---- ChunkStore: writing -------------------------------------------------------------------

    def sync(self, data: StoredChunks, manifest: Manifest, sentences: SentenceVectors | None = None) -> None:
        """Write `data` as the whole index (a new directory swapped in) and hold it. The stored answer
        sentences are kept unless others are given (texts of chunks gone are harmless: looked up by text)."""
        assert self.index_dir is not None
        write_index_dir(self.index_dir, data, manifest, _params_of(manifest),
                        sentences if sentences is not None else self.sentences)
        fresh = LocalStore.load(self.index_dir)
        params, tokenizer = (self.lexical.params, self.lexical.tokenizer) if self.lexical else (None, None)
        self.__dict__.update(fresh.__dict__)
        if params is not None:
            self.use_lexical(params, tokenizer)


IndexStore = LocalStore  # the name before the ChunkStore protocol


def _params_of(manifest: Manifest) -> IndexParams:
    """The FAISS parameters an index was built with (requested structure, query-time values as used)."""
    return IndexParams.from_dict({**manifest.index_params, **manifest.build_params})


def write_index_dir(index_dir: Path, data: StoredChunks, manifest: Manifest, params: IndexParams,
                    sentences: SentenceVectors | None = None) -> Manifest:
    """Write data (and the answer sentences' vectors, if any) as the index at index_dir: a fresh temp
    dir, then the atomic swap. Returns the manifest written (index_params = what FAISS actually used)."""
    ids = np.arange(len(data.chunks), dtype=np.int64)
    fidx, used = build_faiss_index(np.asarray(data.vectors, dtype=np.float32), ids, params)
    manifest = replace(manifest, chunk_count=len(data.chunks), index_params=used,
                       sentence_count=len(sentences) if sentences is not None else 0)
    tmp = new_temp_dir(index_dir)
    try:
        np.save(tmp / VECTORS, np.asarray(data.vectors, dtype=np.float32))
        faiss.write_index(fidx, str(tmp / FAISS_FILE))
        write_chunk_db(tmp / CHUNKS_DB, data, manifest.files)
        if sentences is not None:
            sentences.save(tmp)
        # Hashed as read back from disk: what a later load verifies against.
        manifest = replace(manifest, checksums=file_checksums(tmp))
        (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")  # last: marks the dir complete
        commit(tmp, index_dir)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):  # numpy, faiss and sqlite each say it their own way: one OSError(ENOSPC)
            raise disk_full_error(exc, tmp) from exc
        raise
    return manifest


def _read(path: Path, reader):
    """One index file read by `reader`; any failure (truncation the checksums could not catch in an older
    index, a file that is not what it claims to be) is an IndexCorruptError naming the file."""
    try:
        return reader(path)
    except Exception as exc:  # noqa: BLE001 - sqlite3, numpy and faiss each raise their own kinds
        raise IndexCorruptError(path, f"cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc


def check_compatible(manifest: Manifest, expected_model: str | None, expected_dim: int | None, where: Path) -> None:
    problems = []
    if expected_model is not None and manifest.model_name != expected_model:
        problems.append(f"model {manifest.model_name!r} (index) vs {expected_model!r} (configured)")
    if expected_dim is not None and int(manifest.dim) != int(expected_dim):
        problems.append(f"dim {manifest.dim} (index) vs {expected_dim} (configured)")
    if problems:
        raise IndexMismatchError(
            f"index at {where} does not match the embedding model in use: {'; '.join(problems)}. "
            "Rebuild it (`qa index build`) or configure the model it was built with."
        )


def encoder_variant(encoder) -> str:
    """The `variant` of an encoder, looking through wrappers that keep the real one as `.inner`
    (CachedEncoder); "" when it does not say."""
    for obj in (encoder, getattr(encoder, "inner", None)):
        v = getattr(obj, "variant", None)
        if isinstance(v, str) and v:
            return v
    return ""


def encoder_mismatch(manifest: Manifest, variant: str) -> str | None:
    """Why vectors of this index and of `variant` are not quite comparable, or None. Same model, other
    runtime or quantisation: vectors agree to ~0.99 cosine, so searching still works, a little worse.
    An index that records no variant was written before the field existed, by torch (int8 by default
    then): against an encoder that says what it is, that counts as different too, so that an update
    re-embeds it once instead of mixing its vectors with new ones. An encoder that does not say
    (test doubles) makes no claim."""
    if not variant or manifest.encoder == variant:
        return None
    made_as = repr(manifest.encoder) if manifest.encoder else "an unrecorded variant (written before indexes recorded it)"
    return (f"index vectors were made by {manifest.model_name} as {made_as}, "
            f"the encoder in use is {variant!r}: rebuild the index (`qa index build` or `qa index update`) "
            "or configure that variant")


def warn_if_encoder_differs(manifest: Manifest, encoder, where: Path) -> str | None:
    """Log (and return) the mismatch between an index and the encoder that will query it."""
    problem = encoder_mismatch(manifest, encoder_variant(encoder))
    if problem:
        log.warning("%s: %s", where, problem)
    return problem
