"""The ChunkStore protocol: what hybrid search and the builder need from a store of chunks.

A store holds chunks with their vectors, BM25 tokens and metadata, addressed by chunk id (and by a
`row`, an int the store assigns in layout order: FAISS id locally, a field on Milvus; the searcher
uses it for tie-breaks and cheap sets). Two backends: LocalStore (qa/index/store.py: FAISS + SQLite +
bm25s in one directory) and MilvusStore (qa/index/milvus_store.py). Both pass tests/store_mixin.py.

Writing is one primitive per backend, `sync(data, manifest)`: make the store hold exactly `data`
(a failed sync leaves the store as it was). write / delete / replace_collection are built on it here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.corpus.normalize import canonical_form
from qa.models import Chunk, InvalidFilter

# Filter keys a search accepts; a value is a scalar or a list (any of).
ALLOWED_FILTERS = ("year", "issue", "category", "doc_number", "collection")


def chunk_collection(chunk: Chunk) -> str:
    """The chunk's collection ("" = the default one) - a field ingest adds to Chunk."""
    return str(getattr(chunk, "collection", "") or "")


def as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple, set, frozenset)) else [v]


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, list]:
    """Validated filters as {key: [values]} (None values dropped); ValueError on an unknown key."""
    if not filters:
        return {}
    unknown = sorted(set(filters) - set(ALLOWED_FILTERS))
    if unknown:
        raise InvalidFilter(f"unknown filter key(s) {unknown}; allowed: {', '.join(ALLOWED_FILTERS)}")
    out: dict[str, list] = {}
    for key, value in filters.items():
        if value is None:
            continue
        values = as_list(value)
        if key == "year":
            try:
                out[key] = [int(v) for v in values]
            except (TypeError, ValueError):
                raise InvalidFilter(f"year filter must be a year number, got {value!r}") from None
        elif key == "doc_number":
            out[key] = [canonical_form(str(v)) for v in values]
        elif key == "collection":
            out[key] = [str(v).strip() for v in values]
        else:
            out[key] = [str(v) for v in values]
    return out


@dataclass
class StoredChunks:
    """Everything per chunk a store keeps, in layout (row) order."""

    chunks: list[Chunk]
    vectors: np.ndarray
    tokens: list[list[str]]
    embed_shas: list[str]


@dataclass(frozen=True)
class BM25Query:
    """A BM25 query: the normalised query text (the store tokenizes it its own way) plus, for an
    English question, groups of Chinese index terms that each score like one query token
    (CrossLingual): (((term, weight), ...), ...), combined by 'sum' or 'max' within a group."""

    text: str
    groups: tuple[tuple[tuple[str, float], ...], ...] = ()
    combine: str = "sum"


@dataclass
class Catalog:
    """Corpus-wide tables the routes and the English side need, in row order."""

    docno_rows: dict[str, list[int]]  # canonical document number -> rows
    person_rows: dict[str, list[int]]  # person name (spaces removed, >= 2 chars) -> rows
    card_row: dict[str, int]  # doc_key -> row of its card
    card_rows: frozenset[int]
    acronyms: dict[str, str]  # DIP -> 区域点数法总额预算和按病种分值付费
    stopwords: frozenset[str]
    vocabulary: Callable[[], Mapping[str, int]] = field(repr=False, default=dict)  # token -> document frequency

    @classmethod
    def of_rows(cls, rows: Iterable[tuple[int, Chunk]], acronyms: dict[str, str], stopwords: frozenset[str],
                vocabulary: Callable[[], Mapping[str, int]]) -> "Catalog":
        docno: dict[str, list[int]] = {}
        persons: dict[str, list[int]] = {}
        card_row: dict[str, int] = {}
        cards: set[int] = set()
        for i, c in rows:
            key = canonical_form(c.doc_number) if c.doc_number else ""
            if key:
                docno.setdefault(key, []).append(i)
            if c.chunk_type == "card":
                card_row[c.doc_key] = i
                cards.add(i)
            for p in c.persons:
                name = p.replace(" ", "")
                if len(name) >= 2:
                    persons.setdefault(name, []).append(i)
        return cls(docno, persons, card_row, frozenset(cards), acronyms, stopwords, vocabulary)


@runtime_checkable
class ChunkStore(Protocol):
    """A store of chunks with vectors, BM25 and metadata filters (see the module docstring)."""

    @property
    def manifest(self): ...  # qa.index.store.Manifest

    @property
    def location(self) -> str: ...  # where it lives, for messages

    @property
    def generation(self) -> str:
        """A token naming the contents loaded; it changes with every write (replicas reload on a change)."""

    def current_generation(self) -> str | None:
        """The token of the contents in the store now (None: no index)."""

    def count(self, filters: Mapping[str, Any] | None = None) -> int: ...

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids that exist, in the order asked."""

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]: ...

    def iter_chunks(self, filters: Mapping[str, Any] | None = None) -> Iterator[Chunk]: ...

    def select(self, rows: Sequence[int], filters: Mapping[str, Any] | None) -> list[int]:
        """The given rows that pass the filters, in the given order."""

    def dense_search(self, qvec: np.ndarray, k: int, filters: Mapping[str, Any] | None = None,
                     query_params: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, cosines)."""

    def dense_scores(self, qvec: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Exact cosines of the given rows."""

    def bm25_search(self, query: BM25Query, k: int, filters: Mapping[str, Any] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows with a BM25 score > 0, best first, and their scores (scale is the store's own)."""

    def bm25_scores(self, query: BM25Query, rows: Sequence[int]) -> np.ndarray:
        """BM25 scores of the given rows, on the scale bm25_search uses (0 = no match)."""

    def catalog(self) -> Catalog: ...

    def stored(self) -> StoredChunks:
        """Everything, for a rebuild that reuses vectors."""

    def sync(self, data: StoredChunks, manifest) -> None:
        """Make the store hold exactly `data` with `manifest`; all or nothing."""


# ---- writing, on top of sync -----------------------------------------------------------------------

def _merged(old: StoredChunks, keep: Callable[[Chunk], bool], new: StoredChunks | None) -> StoredChunks:
    """`old` rows that `keep` accepts and are not replaced by `new`, then `new` (upsert by chunk id, new
    ids at the end)."""
    new = new or StoredChunks([], np.zeros((0, old.vectors.shape[1] if old.vectors.ndim == 2 else 0), np.float32), [], [])
    new_pos = {c.chunk_id: j for j, c in enumerate(new.chunks)}
    rows: list[tuple[str, int]] = []
    for i, c in enumerate(old.chunks):
        if c.chunk_id in new_pos:
            rows.append(("new", new_pos.pop(c.chunk_id)))
        elif keep(c):
            rows.append(("old", i))
    rows += [("new", j) for j in new_pos.values()]
    src = {"old": old, "new": new}
    dim = old.vectors.shape[1] if len(old.chunks) else (new.vectors.shape[1] if len(new.chunks) else 0)
    vectors = np.zeros((len(rows), dim), np.float32)
    for r, (which, j) in enumerate(rows):
        vectors[r] = np.asarray(src[which].vectors[j])
    return StoredChunks([src[w].chunks[j] for w, j in rows], vectors, [src[w].tokens[j] for w, j in rows],
                        [src[w].embed_shas[j] for w, j in rows])


def _check_batch(store: ChunkStore, data: StoredChunks) -> None:
    n = len(data.chunks)
    if not (len(data.tokens) == len(data.embed_shas) == n and data.vectors.shape[0] == n):
        raise ValueError("chunks, vectors, tokens and embed_shas differ in length")
    if n and data.vectors.shape[1] != int(store.manifest.dim):
        raise ValueError(f"vectors have dim {data.vectors.shape[1]}, the store holds dim {store.manifest.dim}")
    if not np.isfinite(np.asarray(data.vectors)).all():
        raise ValueError("vectors hold non-finite values")
    ids = [c.chunk_id for c in data.chunks]
    if len(set(ids)) != n:
        raise ValueError("duplicate chunk ids in the batch")


def _touched(manifest, data: StoredChunks, files_removed: Iterable[str] = ()):
    from qa.index.store import utc_now  # noqa: PLC0415 - store.py imports this module

    files = {f: sha for f, sha in manifest.files.items() if f not in set(files_removed)}
    return replace(manifest, chunk_count=len(data.chunks), files=files, updated=utc_now())


def write_chunks(store: ChunkStore, data: StoredChunks) -> None:
    """Add or overwrite chunks (by chunk id)."""
    _check_batch(store, data)
    merged = _merged(store.stored(), lambda c: True, data)
    store.sync(merged, _touched(store.manifest, merged))


def delete_chunks(store: ChunkStore, chunk_ids: Iterable[str]) -> int:
    """Remove chunks by id; returns how many existed."""
    gone = set(chunk_ids)
    old = store.stored()
    merged = _merged(old, lambda c: c.chunk_id not in gone, None)
    n = len(old.chunks) - len(merged.chunks)
    if n:
        store.sync(merged, _touched(store.manifest, merged))
    return n


def replace_collection(store: ChunkStore, collection: str, data: StoredChunks) -> None:
    """Make `collection` hold exactly `data` (whose chunks must all belong to it), other collections
    untouched; all or nothing."""
    _check_batch(store, data)
    wrong = {chunk_collection(c) for c in data.chunks} - {collection}
    if wrong:
        raise ValueError(f"chunks of collection(s) {sorted(wrong)} given to replace {collection!r}")
    merged = _merged(store.stored(), lambda c: chunk_collection(c) != collection, data)
    store.sync(merged, _touched(store.manifest, merged))


def open_store(settings, expected_model: str | None = None, expected_dim: int | None = None,
               index_dir=None) -> ChunkStore:
    """The configured store (QA_STORE): the local index directory or the Milvus collection."""
    if getattr(settings, "store", "local") == "milvus":
        from qa.index.milvus_store import MilvusStore  # noqa: PLC0415 - pymilvus only when asked for

        return MilvusStore.open(settings, expected_model, expected_dim)
    from qa.index.store import LocalStore  # noqa: PLC0415

    return LocalStore.load(index_dir or settings.index_dir, expected_model, expected_dim)
