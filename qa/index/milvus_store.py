"""MilvusStore, the ChunkStore on Milvus (pymilvus MilvusClient; Milvus Lite file, Lite server, Milvus, Zilliz).

One Milvus collection per index holds the chunks: primary key = chunk id, the dense vector (HNSW,
COSINE), the search text with a jieba analyzer feeding a BM25 Function (sparse vector,
SPARSE_INVERTED_INDEX), scalar fields with inverted indexes, partition key = the chunk's collection.
A second, small collection `<name>_meta` holds the manifest (with a generation token), the corpus-wide
tables the routes need (vocabulary, acronyms, stopwords) and each corpus file's parsed documents,
so that any number of stateless API replicas serve from the store alone.

BM25 scores differ in scale (and, on Milvus Lite, in sign) between builds: only their order is used
(fusion divides by the best candidate's score).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import types
import typing
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np

from qa.corpus.normalize import canonical_form
from qa.index.acronyms import corpus_acronyms
from qa.index.chunkstore import BM25Query, Catalog, StoredChunks, check_filters, chunk_collection
from qa.index.crosslingual import document_frequencies
from qa.index.lexical import LexicalParams, derive_stopwords
from qa.index.store import IndexNotFoundError, Manifest, check_compatible, utc_now
from qa.models import Chunk

log = logging.getLogger(__name__)

MAX_VARCHAR = 65535
PART_CHARS = 60000  # a meta value is split into parts below Milvus's VARCHAR limit
BATCH = 256  # rows per insert/upsert call (gRPC messages stay small)
IN_LIST = 500  # ids per `in [...]` expression
OUTPUT = ["row", "chunk_json", "tokens", "embed_sha", "vector"]


def _lit(v) -> str:
    return json.dumps(v, ensure_ascii=False)


def filter_expr(filters: Mapping | None) -> str:
    """A Milvus boolean expression for the project's filters ("" = none)."""
    parts = []
    for key, values in check_filters(filters).items():
        parts.append(f"{key} in {_lit(values)}")
    return " and ".join(parts)


def _and(*exprs: str) -> str:
    return " and ".join(f"({e})" for e in exprs if e)


def _pack(obj) -> list[str]:
    text = base64.b64encode(zlib.compress(json.dumps(obj, ensure_ascii=False).encode("utf-8"))).decode("ascii")
    return [text[i: i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


def _unpack(parts: list[str]):
    return json.loads(zlib.decompress(base64.b64decode("".join(parts))).decode("utf-8"))


def analyzer_params(stopwords: Sequence[str]) -> dict:
    """jieba (search mode by default: cut_for_search, as the local BM25), tokens of letters, digits and CJK
    only, and the index's stopwords. (Person names as extra jieba words were tried: BM25 top-10 lists
    agreed with the local store's a little less often, 288 vs 299 of 354 eval questions.)"""
    return {"tokenizer": "jieba", "filter": ["cnalphanumonly", {"type": "stop", "stop_words": sorted(stopwords)}]}


def lexical_text(search_text: str) -> str:
    """The text the BM25 analyzer reads: the chunk's search text with every character that is neither a
    letter/digit/CJK nor a space blanked. jieba only ever makes such a character a token of its own
    (3.5 -> 3 / . / 5), which the local BM25 drops and cnalphanumonly drops on a Milvus server, but
    Milvus Lite keeps (it ignores that filter): blanking it leaves the same word tokens everywhere."""
    return "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in search_text)


def _from_dict(cls, data):
    """A dataclass (nested dataclasses, lists, tuples, optionals) back from dataclasses.asdict's dict."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data})


def _convert(tp, value):
    if value is None:
        return None
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and args:
        return [_convert(args[0], v) for v in value]
    if origin is tuple:
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    return value


class MilvusStore:
    """See the module docstring. `open` reads an existing index; `connect` may find none (to build one)."""

    def __init__(self, client, name: str, uri: str, hnsw_m: int = 32, hnsw_ef_construction: int = 80,
                 ef_search: int = 128, lexical: LexicalParams = LexicalParams()) -> None:
        self.client = client
        self.name = name
        self.meta_name = f"{name}_meta"
        self.uri = uri
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.ef_search = ef_search
        self.lexical_params = lexical
        self._manifest: Manifest | None = None
        self._generation = ""
        self._aux: dict | None = None
        self._catalog: Catalog | None = None
        self._rows: OrderedDict[int, tuple[Chunk, np.ndarray]] = OrderedDict()  # small LRU of fetched rows
        self._loaded: set[str] = set()
        self.reload()

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def at(cls, uri: str, name: str = "gazette_qa", token: str | None = None, **kw) -> "MilvusStore":
        """The store in collection `name` at `uri` (a file path = Milvus Lite; http://host:port = a server)."""
        from pymilvus import MilvusClient  # noqa: PLC0415

        # pymilvus warns on every query_iterator against Milvus Lite (no server-side timestamp): quiet logs.
        logging.getLogger("pymilvus").setLevel(logging.ERROR)
        client = MilvusClient(uri=str(uri), **({"token": token} if token else {}))
        return cls(client, name, str(uri), **kw)

    @classmethod
    def connect(cls, settings) -> "MilvusStore":
        return cls.at(settings.milvus_uri, settings.milvus_collection, settings.milvus_token,
                      hnsw_m=settings.hnsw_m, ef_search=settings.hnsw_ef_search)

    @classmethod
    def open(cls, settings, expected_model: str | None = None, expected_dim: int | None = None) -> "MilvusStore":
        store = cls.connect(settings)
        if store.manifest is None:
            raise IndexNotFoundError(f"no index in Milvus collection {store.name!r} at {store.uri} "
                                     "(build one with `qa index build`)")
        check_compatible(store.manifest, expected_model, expected_dim, where=store.location)
        return store

    def _has(self, name: str) -> bool:
        """Whether the collection exists; loaded into memory first (a reopened one starts released)."""
        if name in self._loaded:
            return True
        if not self.client.has_collection(name):
            return False
        self.client.load_collection(name)
        self._loaded.add(name)
        return True

    def reload(self) -> bool:
        """Read the manifest again; True when the generation changed (caches dropped)."""
        head = self._read_meta("manifest")
        gen = head["generation"] if head else ""
        if gen == self._generation and head is not None:
            return False
        self._manifest = Manifest.from_json(json.dumps(head["manifest"])) if head else None
        self._generation = gen
        self._aux = None
        self._catalog = None
        self._rows.clear()
        return True

    def current_generation(self) -> str:
        head = self._read_meta("manifest")
        return head["generation"] if head else ""

    # ---- meta records --------------------------------------------------------------------------

    def _ensure_meta(self) -> None:
        from pymilvus import DataType  # noqa: PLC0415

        if self._has(self.meta_name):
            return
        s = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("key", DataType.VARCHAR, max_length=512, is_primary=True)
        s.add_field("value", DataType.VARCHAR, max_length=MAX_VARCHAR)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        ip = self.client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        self._make_collection(self.meta_name, s, ip)

    def _read_meta(self, key: str):
        if not self._has(self.meta_name):
            return None
        rows = self.client.query(self.meta_name, filter=f"key like {_lit(key + '#%')}", output_fields=["key", "value"],
                                 consistency_level="Strong")
        if not rows:
            return None
        parts = sorted(rows, key=lambda r: int(r["key"].rsplit("#", 1)[1]))
        return _unpack([r["value"] for r in parts])

    def _write_meta(self, key: str, obj) -> None:
        parts = _pack(obj)
        self.client.upsert(self.meta_name, [{"key": f"{key}#{i}", "value": p, "v": [0.0, 0.0]} for i, p in enumerate(parts)])
        # Parts past the new end belong to an older, longer value.
        self.client.delete(self.meta_name, filter=f"key like {_lit(key + '#%')} and key not in {_lit([f'{key}#{i}' for i in range(len(parts))])}")

    def _delete_meta(self, prefix: str) -> None:
        if self._has(self.meta_name):
            self.client.delete(self.meta_name, filter=f"key like {_lit(prefix + '%')}")

    # ---- ChunkStore: reading -------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest | None:
        return self._manifest

    @property
    def location(self) -> str:
        return f"{self.uri} (collection {self.name})"

    @property
    def generation(self) -> str:
        return self._generation

    def __len__(self) -> int:
        return self.count()

    def _query(self, expr: str, fields: list[str], limit: int | None = None) -> list[dict]:
        kwargs = {"limit": limit} if limit else {}
        return self.client.query(self.name, filter=expr, output_fields=fields, consistency_level="Strong", **kwargs)

    def _iterate(self, expr: str, fields: list[str]) -> Iterator[dict]:
        if self._manifest is None or not self._has(self.name):
            return
        it = self.client.query_iterator(self.name, batch_size=1000, filter=expr, output_fields=fields)
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def count(self, filters: Mapping | None = None) -> int:
        if self._manifest is None or not self._has(self.name):
            return 0
        rows = self._query(filter_expr(filters), ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def _fetch_rows(self, rows: Sequence[int]) -> dict[int, tuple[Chunk, np.ndarray]]:
        want = [int(r) for r in dict.fromkeys(int(r) for r in rows) if int(r) not in self._rows]
        for i in range(0, len(want), IN_LIST):
            for r in self._query(f"row in {want[i: i + IN_LIST]}", ["row", "chunk_json", "vector"]):
                self._rows[int(r["row"])] = (Chunk.from_dict(json.loads(r["chunk_json"])),
                                             np.asarray(r["vector"], dtype=np.float32))
        out = {int(r): self._rows[int(r)] for r in rows if int(r) in self._rows}
        for r in out:
            self._rows.move_to_end(r)
        while len(self._rows) > 20_000:
            self._rows.popitem(last=False)
        return out

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        got = self._fetch_rows(rows)
        return [got[int(r)][0] for r in rows]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        found: dict[str, Chunk] = {}
        ids = list(dict.fromkeys(chunk_ids))
        for i in range(0, len(ids), IN_LIST):
            for r in self._query(f"chunk_id in {_lit(ids[i: i + IN_LIST])}", ["chunk_json"]):
                c = Chunk.from_dict(json.loads(r["chunk_json"]))
                found[c.chunk_id] = c
        return [found[c] for c in chunk_ids if c in found]

    def iter_chunks(self, filters: Mapping | None = None) -> Iterator[Chunk]:
        rows = sorted(self._iterate(filter_expr(filters), ["row", "chunk_json"]), key=lambda r: r["row"])
        return (Chunk.from_dict(json.loads(r["chunk_json"])) for r in rows)

    def select(self, rows: Sequence[int], filters: Mapping | None) -> list[int]:
        expr = filter_expr(filters)
        rows = [int(r) for r in rows]
        if not expr:
            return rows
        ok: set[int] = set()
        for i in range(0, len(rows), IN_LIST):
            ok.update(int(r["row"]) for r in self._query(_and(f"row in {rows[i: i + IN_LIST]}", expr), ["row"]))
        return [r for r in rows if r in ok]

    def dense_search(self, qvec: np.ndarray, k: int, filters: Mapping | None = None,
                     query_params: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or self._manifest is None:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ef = max(int((query_params or {}).get("hnsw_ef_search", self.ef_search)), k)
        res = self.client.search(self.name, data=[np.asarray(qvec, dtype=np.float32).tolist()], anns_field="vector",
                                 limit=k, filter=filter_expr(filters), output_fields=["row"],
                                 search_params={"metric_type": "COSINE", "params": {"ef": ef}},
                                 consistency_level="Strong")[0]
        return (np.array([int(h["entity"]["row"]) for h in res], dtype=np.int64),
                np.array([float(h["distance"]) for h in res], dtype=np.float32))

    def dense_scores(self, qvec: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        got = self._fetch_rows(rows)
        vecs = np.stack([got[int(r)][1] for r in rows]) if len(rows) else np.zeros((0, len(qvec)), np.float32)
        return vecs @ np.asarray(qvec, dtype=np.float32)

    def _text_search(self, text: str, limit: int, expr: str) -> dict[int, float]:
        if not text.strip() or limit <= 0:
            return {}
        res = self.client.search(self.name, data=[text], anns_field="sparse", limit=limit, filter=expr,
                                 output_fields=["row"], search_params={"metric_type": "BM25"},
                                 consistency_level="Strong")[0]
        # Milvus Lite reports BM25 as a negated distance, servers as a positive score: the magnitude is the score.
        return {int(h["entity"]["row"]): abs(float(h["distance"])) for h in res if h["distance"]}

    def _bm25(self, query: BM25Query, limit: int, expr: str) -> dict[int, float]:
        scores = dict(self._text_search(query.text, limit, expr))
        for terms in query.groups:  # an English question's Chinese terms: each group scores like one token
            per_term = [(w, self._text_search(t, limit, expr)) for t, w in terms]
            group: dict[int, float] = {}
            for w, hits in per_term:
                for r, s in hits.items():
                    group[r] = group.get(r, 0.0) + w * s if query.combine == "sum" else max(group.get(r, 0.0), s)
            for r, s in group.items():
                scores[r] = scores.get(r, 0.0) + s
        return scores

    def bm25_search(self, query: BM25Query, k: int, filters: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or self._manifest is None:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores = self._bm25(query, k, filter_expr(filters))
        top = sorted((r for r, s in scores.items() if s > 0), key=lambda r: (-scores[r], r))[:k]
        return np.array(top, dtype=np.int64), np.array([scores[r] for r in top], dtype=np.float32)

    def bm25_scores(self, query: BM25Query, rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        scores: dict[int, float] = {}
        for i in range(0, len(rows), IN_LIST):
            part = rows[i: i + IN_LIST]
            scores.update(self._bm25(query, len(part), f"row in {part}"))
        return np.array([scores.get(r, 0.0) for r in rows], dtype=np.float32)

    def aux(self) -> dict:
        """Corpus-wide tables written with the manifest: stopwords, acronyms, vocabulary."""
        if self._aux is None:
            self._aux = self._read_meta(f"aux@{self._generation}") or {"stopwords": [], "acronyms": {}, "vocabulary": {}}
        return self._aux

    def catalog(self) -> Catalog:
        if self._catalog is None:
            aux = self.aux()
            expr = 'doc_number != "" or chunk_type == "card" or array_length(persons) > 0'
            fields = ["row", "doc_number", "chunk_type", "doc_key", "persons"]
            rows = sorted(self._iterate(expr, fields), key=lambda r: r["row"])
            docno: dict[str, list[int]] = {}
            persons: dict[str, list[int]] = {}
            card_row: dict[str, int] = {}
            for r in rows:
                i = int(r["row"])
                if r["doc_number"]:
                    docno.setdefault(r["doc_number"], []).append(i)
                if r["chunk_type"] == "card":
                    card_row[r["doc_key"]] = i
                for p in r["persons"] or []:
                    name = p.replace(" ", "")
                    if len(name) >= 2:
                        persons.setdefault(name, []).append(i)
            vocab = aux["vocabulary"]
            self._catalog = Catalog(docno, persons, card_row, frozenset(card_row.values()), dict(aux["acronyms"]),
                                    frozenset(aux["stopwords"]), lambda: vocab)
        return self._catalog

    def issue_records(self) -> list[dict]:
        """The parsed documents of every corpus file (qa.corpus.types.Issue as dicts), from the store."""
        if self._manifest is None:
            return []
        out = []
        for f, sha in sorted(self._manifest.files.items()):
            rec = self._read_meta(f"doc:{f}@{sha}")
            if rec is not None:
                out.append(rec)
        return out

    def source(self, rel: str):
        """The parsed corpus file `rel` (qa.corpus.types.Issue) as the indexing job stored it, or None."""
        from qa.corpus.types import Issue  # noqa: PLC0415

        sha = self._manifest.files.get(rel) if self._manifest else None
        rec = self._read_meta(f"doc:{rel}@{sha}") if sha else None
        return _from_dict(Issue, rec) if rec is not None else None

    def stored(self) -> StoredChunks:
        rows = sorted(self._iterate("", OUTPUT), key=lambda r: r["row"])
        dim = int(self._manifest.dim) if self._manifest else 0
        vectors = np.array([r["vector"] for r in rows], dtype=np.float32).reshape(len(rows), dim)
        return StoredChunks([Chunk.from_dict(json.loads(r["chunk_json"])) for r in rows], vectors,
                            [json.loads(r["tokens"]) for r in rows], [r["embed_sha"] for r in rows])

    # ---- ChunkStore: writing -------------------------------------------------------------------

    def _create(self, dim: int, stopwords: Sequence[str]) -> None:
        from pymilvus import DataType, Function, FunctionType  # noqa: PLC0415

        s = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("chunk_id", DataType.VARCHAR, max_length=512, is_primary=True)
        s.add_field("row", DataType.INT64)
        s.add_field("collection", DataType.VARCHAR, max_length=256, is_partition_key=True)
        for name in ("issue", "category", "doc_number", "doc_key", "chunk_type", "source_file"):
            s.add_field(name, DataType.VARCHAR, max_length=1024)
        s.add_field("year", DataType.INT64)
        s.add_field("persons", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=1024, max_length=128)
        s.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                    analyzer_params=analyzer_params(stopwords))
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        s.add_field("embed_sha", DataType.VARCHAR, max_length=64)
        s.add_field("digest", DataType.VARCHAR, max_length=64)
        s.add_field("tokens", DataType.VARCHAR, max_length=MAX_VARCHAR)
        s.add_field("chunk_json", DataType.VARCHAR, max_length=MAX_VARCHAR)
        s.add_function(Function(name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                output_field_names=["sparse"]))
        ip = self.client.prepare_index_params()
        # Build parameters go in the `params` wire key as one JSON object (what pymilvus 2.x sent and Milvus
        # servers read); pymilvus 3 would send them as loose keys, which Milvus Lite silently ignores
        # (then BM25 ran with k1 1.5 / b 0.75 instead of the local store's 1.0 / 0.5).
        ip.add_index("vector", index_type="HNSW", metric_type="COSINE",
                     params={"params": {"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction}})
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"params": {"bm25_k1": self.lexical_params.k1, "bm25_b": self.lexical_params.b}})
        # (Milvus Lite has no scalar index on ARRAY fields: persons is filtered by scan, a server indexes it too.)
        for name in ("row", "collection", "issue", "category", "doc_number", "doc_key", "chunk_type", "year"):
            ip.add_index(name, index_type="INVERTED")
        self._make_collection(self.name, s, ip)

    def _make_collection(self, name: str, schema, index_params) -> None:
        # Indexes without pymilvus's wait loop (0.5 s per index, 11 here): the collection is empty, and
        # loading it waits for whatever the server still builds.
        self.client.create_collection(name, schema=schema, consistency_level="Strong")
        self.client.create_index(name, index_params, sync=False)
        self.client.load_collection(name)
        self._loaded.add(name)

    def _entity(self, row: int, c: Chunk, vec: np.ndarray, tokens: list[str], sha: str) -> dict:
        chunk_json = json.dumps(c.to_dict(), ensure_ascii=False)
        tokens_json = json.dumps(tokens, ensure_ascii=False)
        digest = hashlib.sha256(f"{row}\n{sha}\n{chunk_json}\n{tokens_json}".encode()).hexdigest()
        return {
            "chunk_id": c.chunk_id, "row": row, "collection": chunk_collection(c), "issue": c.issue,
            "category": c.category, "doc_number": canonical_form(c.doc_number) if c.doc_number else "",
            "doc_key": c.doc_key, "chunk_type": c.chunk_type, "source_file": c.source_file, "year": int(c.year),
            "persons": list(c.persons), "text": lexical_text(c.search_text), "vector": np.asarray(vec, dtype=np.float32).tolist(),
            "embed_sha": sha, "digest": digest, "tokens": tokens_json, "chunk_json": chunk_json,
        }

    def sync(self, data: StoredChunks, manifest: Manifest, documents: Mapping[str, dict | None] | None = None) -> None:
        """Upsert the rows that differ, delete the ones gone, flush, then write the tables and the
        manifest (new generation) last. On a failure before the manifest, rows written are put back."""
        n = len(data.chunks)
        if not (len(data.tokens) == len(data.embed_shas) == n and np.asarray(data.vectors).shape[0] == n):
            raise ValueError("chunks, vectors, tokens and embed_shas differ in length")
        if n and np.asarray(data.vectors).shape[1] != int(manifest.dim):
            raise ValueError(f"vectors have dim {np.asarray(data.vectors).shape[1]}, the manifest says {manifest.dim}")
        doc_keys = [c.doc_key for c in data.chunks]
        stopwords = derive_stopwords(data.tokens, doc_keys, self.lexical_params.stop_max_doc_ratio,
                                     self.lexical_params.stop_min_docs)
        self._ensure_meta()
        if not self._has(self.name):
            self._create(int(manifest.dim), sorted(stopwords))
        else:
            # The analyzer's stopwords are fixed when the collection is made; later corpus changes keep them.
            stopwords = frozenset((self._read_meta(f"aux@{self._generation}") or {}).get("stopwords", stopwords))
        entities = [self._entity(i, c, data.vectors[i], data.tokens[i], data.embed_shas[i]) for i, c in enumerate(data.chunks)]
        existing = {r["chunk_id"]: r["digest"] for r in self._iterate_all(["chunk_id", "digest"])}
        todo = [e for e in entities if existing.get(e["chunk_id"]) != e["digest"]]
        gone = sorted(set(existing) - {e["chunk_id"] for e in entities})
        backup = self._backup([e["chunk_id"] for e in todo if e["chunk_id"] in existing] + gone)
        try:
            for i in range(0, len(todo), BATCH):
                self.client.upsert(self.name, todo[i: i + BATCH])
            for i in range(0, len(gone), IN_LIST):
                self.client.delete(self.name, filter=f"chunk_id in {_lit(gone[i: i + IN_LIST])}")
            self.client.flush(self.name)
            gen = uuid.uuid4().hex
            aux = {"stopwords": sorted(stopwords), "acronyms": corpus_acronyms(c.text for c in data.chunks),
                   "vocabulary": document_frequencies(data.tokens)}
            self._write_meta(f"aux@{gen}", aux)
            for f, rec in (documents or {}).items():
                if rec is not None:
                    self._write_meta(f"doc:{f}@{manifest.files[f]}", rec)
            written = replace(manifest, chunk_count=n, index_type="milvus-hnsw",
                              index_params={"hnsw_m": self.hnsw_m, "hnsw_ef_construction": self.hnsw_ef_construction,
                                            "hnsw_ef_search": self.ef_search, "bm25_k1": self.lexical_params.k1,
                                            "bm25_b": self.lexical_params.b},
                              updated=manifest.updated or utc_now())
            self._write_meta("manifest", {"manifest": json.loads(written.to_json()), "generation": gen})
            self.client.flush(self.meta_name)
        except BaseException:
            self._restore(backup, new_ids=[e["chunk_id"] for e in todo if e["chunk_id"] not in existing])
            raise
        old_gen = self._generation
        self.reload()
        if old_gen:
            self._delete_meta(f"aux@{old_gen}#")
        live = {f"doc:{f}@{sha}" for f, sha in written.files.items()}
        for r in self.client.query(self.meta_name, filter='key like "doc:%"', output_fields=["key"], consistency_level="Strong"):
            if r["key"].rsplit("#", 1)[0] not in live:
                self.client.delete(self.meta_name, filter=f"key == {_lit(r['key'])}")

    def _iterate_all(self, fields: list[str]) -> Iterator[dict]:
        if not self._has(self.name):
            return iter(())
        it = self.client.query_iterator(self.name, batch_size=1000, filter="", output_fields=fields)

        def gen():
            try:
                while batch := it.next():
                    yield from batch
            finally:
                it.close()
        return gen()

    def _backup(self, ids: list[str]) -> list[dict]:
        out: list[dict] = []
        fields = ["chunk_id", "row", "collection", "issue", "category", "doc_number", "doc_key", "chunk_type",
                  "source_file", "year", "persons", "text", "vector", "embed_sha", "digest", "tokens", "chunk_json"]
        for i in range(0, len(ids), IN_LIST):
            out += self._query(f"chunk_id in {_lit(ids[i: i + IN_LIST])}", fields)
        return [{k: r[k] for k in fields} for r in out]

    def _restore(self, backup: list[dict], new_ids: list[str]) -> None:
        """Undo a sync cut short: rows it added go, rows it changed or deleted come back."""
        try:
            for i in range(0, len(new_ids), IN_LIST):
                self.client.delete(self.name, filter=f"chunk_id in {_lit(new_ids[i: i + IN_LIST])}")
            for i in range(0, len(backup), BATCH):
                self.client.upsert(self.name, backup[i: i + BATCH])
            self.client.flush(self.name)
        except Exception:  # noqa: BLE001 - the original error matters more; say the store needs a rebuild
            log.exception("restoring %s after a failed write failed too: rebuild the index", self.location)

    def copy_from(self, local, corpus_dir=None) -> None:
        """Load a local index (a LocalStore) into this store as it is, vectors included (no re-embedding),
        with the parsed documents of its corpus files found in corpus_dir."""
        documents = None
        if corpus_dir is not None:
            from dataclasses import asdict  # noqa: PLC0415
            from pathlib import Path  # noqa: PLC0415

            from qa.corpus.parser import parse_issue  # noqa: PLC0415

            documents = {f: asdict(parse_issue(Path(corpus_dir) / f)) for f in local.manifest.files
                         if (Path(corpus_dir) / f).is_file()}
        self.sync(local.stored(), local.manifest, documents=documents)

    def drop(self) -> None:
        """Remove the index (both collections)."""
        for n in (self.name, self.meta_name):
            if self.client.has_collection(n):
                self.client.drop_collection(n)
            self._loaded.discard(n)
        self.reload()
