"""Hybrid search over a ChunkStore: dense + BM25, fused, with exact routes for document numbers and person names.

Order of results: chunks of a document whose number (文号) the query names (its card first), then
chunks naming a person the query names, then everything else; fused score orders within each tier.
A question naming several years gets the best passages of each year first; a 'which document'
question gets the top passage's document card beside it. Acronyms the corpus defines (DIP) are
searched with their Chinese form too.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import numpy as np

from qa.corpus.normalize import canonical_form, normalize_for_search, parse_doc_numbers
from qa.index.acronyms import expand_acronyms
from qa.index.chunkstore import ALLOWED_FILTERS, BM25Query, ChunkStore, check_filters, open_store
from qa.index.crosslingual import CrossLingual, CrossLingualParams
from qa.index.fusion import FusionParams, fuse
from qa.index.lexical import JiebaTokenizer, LexicalParams
from qa.index.protocols import PassageEncoder, Reranker
from qa.index.ranker import TOP_N, LearnedRanker, QueryView, candidate_features, query_view
from qa.index.sentence_store import SentenceTextsFn
from qa.index.store import check_compatible
from qa.models import SearchHit
from qa.question import analyse

__all__ = ["ALLOWED_FILTERS", "HybridSearcher", "RouteMatch", "SearchConfig"]

TIER_DOC_NUMBER = 2
TIER_PERSON = 1
TIER_NONE = 0


@dataclass(frozen=True)
class SearchConfig:
    fusion: FusionParams = FusionParams()
    lexical: LexicalParams = LexicalParams()
    n_candidates: int = 50  # taken from each of dense and BM25 before fusion
    doc_number_route: bool = True
    name_route: bool = True
    crosslingual: CrossLingualParams | None = CrossLingualParams()  # English queries: pinyin names, CC-CEDICT terms
    rerank_top_n: int = 20  # when a reranker is on: how many fused hits it reorders
    year_diverse_per_year: int = 2  # a question naming several years: the best passages of each year lead


@dataclass
class RouteMatch:
    doc_numbers: list[str] = field(default_factory=list)  # canonical numbers found in the query
    persons: list[str] = field(default_factory=list)


class HybridSearcher:
    def __init__(
        self,
        store: ChunkStore,
        encoder: PassageEncoder,
        settings=None,
        config: SearchConfig | None = None,
        reranker: Reranker | None = None,
        tokenizer: JiebaTokenizer | None = None,  # share one loaded jieba dictionary between components
        sentence_texts: SentenceTextsFn | None = None,
    ) -> None:
        """sentence_texts: the texts the answerer embeds per chunk (qa.answer.precompute.sentence_texts, the
        function the index was built with): the learned ranker reads the question's best cosine with a
        candidate's stored sentence vectors. None, or a store without sentence vectors: that feature is missing."""
        check_compatible(store.manifest, encoder.model_name, encoder.dim, store.location)
        self.store = store
        self.encoder = encoder
        self.config = config or SearchConfig()
        self.tokenizer = tokenizer or JiebaTokenizer()
        # The embedded store computes BM25 itself (bm25s, these k1/b); another store was built with them.
        self.lexical = store.use_lexical(self.config.lexical, self.tokenizer) if hasattr(store, "use_lexical") else None
        self._query_params = self._query_time_params(settings)
        if reranker is None and settings is not None and getattr(settings, "reranker_model", None):
            from qa.index.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(settings.reranker_model)
        self.reranker = reranker
        self.sentence_texts = sentence_texts
        self._sentence_rows: dict[str, np.ndarray] = {}  # chunk_id -> its rows in the store's sentence vectors
        # QA_RANKER=learned: the shipped model reorders the fused candidates (qa/index/ranker.py)
        self.ranker: LearnedRanker | None = None
        if settings is not None and getattr(settings, "ranker", "fusion") == "learned":
            from qa.index.ranker import shipped_ranker  # noqa: PLC0415

            self.ranker = shipped_ranker()
        catalog = store.catalog()
        self.catalog = catalog
        # Tables for routes.
        self._docno_rows = catalog.docno_rows
        self._docno_by_year_num: dict[tuple[int, int], list[tuple[str, str]]] = {}
        for key in self._docno_rows:
            parsed = parse_doc_numbers(key)
            if parsed:
                prefix, year, num = parsed[0]
                self._docno_by_year_num.setdefault((year, num), []).append((prefix, key))
        self._card_row = catalog.card_row
        self._crosslingual: CrossLingual | None = None  # built on the first query with Latin letters
        self._acronyms = catalog.acronyms  # DIP -> 区域点数法总额预算和按病种分值付费
        self._person_rows = catalog.person_rows

    @classmethod
    def open(cls, settings, encoder: PassageEncoder, config: SearchConfig | None = None, index_dir: Path | None = None,
             sentence_texts: SentenceTextsFn | None = None) -> "HybridSearcher":
        """Open the configured store (checking it was built with this encoder) and wrap it."""
        store = open_store(settings, encoder.model_name, encoder.dim, index_dir=index_dir)
        return cls(store, encoder, settings, config, sentence_texts=sentence_texts)

    def with_ranker(self, ranker: LearnedRanker | None) -> "HybridSearcher":
        """This searcher (same store, tables and caches) ordering with another learned ranker (None: fusion)."""
        other = copy.copy(self)
        other.ranker = ranker
        return other

    def warm_up(self) -> None:
        """Load the jieba dictionary now (~0.8 s) instead of on the first query."""
        self.tokenizer.tokenize("预热")
        self.crosslingual("warm up")

    def crosslingual(self, query: str) -> CrossLingual | None:
        """The English -> Chinese query side, for a query with Latin letters (built once, ~1 s)."""
        if self.config.crosslingual is None or not any("a" <= ch.lower() <= "z" for ch in query):
            return None
        if self._crosslingual is None:
            self._crosslingual = CrossLingual(self.catalog.vocabulary(), self._person_rows, self.catalog.stopwords,
                                              self.config.crosslingual)
        return self._crosslingual

    @staticmethod
    def _query_time_params(settings) -> dict:
        if settings is None:
            return {}
        return {"ivf_nprobe": settings.ivf_nprobe, "hnsw_ef_search": settings.hnsw_ef_search}

    # ---- routes and filters ---------------------------------------------------------------------

    def routes(self, query: str) -> RouteMatch:
        """Which document numbers and person names of the index the query names."""
        q = normalize_for_search(query)
        m = RouteMatch()
        if self.config.doc_number_route:
            for q_prefix, year, num in parse_doc_numbers(q):
                for prefix, key in self._docno_by_year_num.get((year, num), []):
                    # The query prefix may carry words before the number's own prefix (关于阳政办发…),
                    # or drop its city part (政办发〔2022〕34号).
                    if (q_prefix.endswith(prefix) or prefix.endswith(q_prefix)) and key not in m.doc_numbers:
                        m.doc_numbers.append(key)
        if self.config.name_route:
            found = [p for p in self._person_rows if p in q]
            cl = self.crosslingual(q)
            found += [p for p in (cl.expand(q).persons if cl else ()) if p not in found]  # "Wu Xue" -> 武雪
            # 王伟明 in the query also contains 王伟: keep the longest names only.
            m.persons = sorted(p for p in found if not any(p != o and p in o for o in found))
        return m

    def allowed_rows(self, filters: dict | None) -> np.ndarray | None:
        """Rows passing the filters (None = no filter); kept for callers of the embedded store."""
        check_filters(filters)
        return self.store.allowed(filters) if hasattr(self.store, "allowed") else None

    # ---- search ---------------------------------------------------------------------------------

    def search(self, query: str, top_k: int = 5, filters: dict | None = None) -> list[SearchHit]:
        check_filters(filters)  # validate filters before anything else
        q = normalize_for_search(query)
        if top_k <= 0 or not q or self.store.count(filters if filters else None) == 0:
            return []
        q_terms = expand_acronyms(q, self._acronyms)  # what dense and BM25 search with
        qvec = np.asarray(self.encoder.encode_queries([q_terms]), dtype=np.float32)[0]
        cl = self.crosslingual(q)
        groups = cl.bm25_groups(q) if cl else ()
        bm25q = BM25Query(q_terms, groups, cl.params.combine if cl else "sum")
        route = self.routes(query)
        info = analyse(query)
        view = self._view(q_terms, bm25q, info) if self.ranker is not None else None
        main = self._rank(q, qvec, bm25q, route, filters, top_k, rerank=True, view=view)
        rows = main.rows[:top_k]
        scores = dict(main.scores)
        if len(info.years) >= 2 and not (filters or {}).get("year"):
            rows = self._year_diverse(q, qvec, bm25q, route, filters, info.years, main, scores, top_k)
        if "document" in info.cues and not route.doc_numbers:
            rows = self._with_card(rows, scores, top_k)
        rows = rows[:top_k]
        chunks = self.store.chunks_at(rows)
        return [
            SearchHit(chunk=chunk, score=scores[i].get("rerank", scores[i]["fused"]), rank=rank, scores=scores[i])
            for rank, (i, chunk) in enumerate(zip(rows, chunks), start=1)
        ]

    def _view(self, q_terms: str, bm25q: BM25Query, info) -> QueryView:
        return query_view(info.content, self.tokenizer.tokenize(q_terms), bm25q.groups, info.years, info.lang,
                          info.cues, self.catalog.stopwords)

    def ranking_candidates(self, query: str) -> tuple[list, np.ndarray]:
        """The fused candidates the learned ranker reorders (chunks, best first by fusion within the route
        tiers) and their feature rows, as `search` computes them: what `qa train-ranker` learns from."""
        q = normalize_for_search(query)
        if not q or self.store.count(None) == 0:
            return [], np.zeros((0, 0))
        q_terms = expand_acronyms(q, self._acronyms)
        qvec = np.asarray(self.encoder.encode_queries([q_terms]), dtype=np.float32)[0]
        cl = self.crosslingual(q)
        groups = cl.bm25_groups(q) if cl else ()
        bm25q = BM25Query(q_terms, groups, cl.params.combine if cl else "sum")
        view = self._view(q_terms, bm25q, analyse(query))
        out: dict = {}
        self._rank(q, qvec, bm25q, self.routes(query), None, 1, rerank=False, view=view, features_out=out)
        return out.get("chunks", []), out.get("x", np.zeros((0, 0)))

    _SENTENCE_ROWS_CACHED = 200_000  # chunks whose sentence rows are remembered (then the table starts afresh)

    def sentence_cosines(self, qvec: np.ndarray, chunks) -> np.ndarray:
        """Per chunk, the question's best cosine with one of its stored answer-sentence vectors (NaN: none stored)."""
        out = np.full(len(chunks), np.nan)
        stored = getattr(self.store, "sentences", None)
        if self.sentence_texts is None or stored is None or not len(stored):
            return out
        if len(self._sentence_rows) > self._SENTENCE_ROWS_CACHED:
            self._sentence_rows = {}
        q = np.asarray(qvec, dtype=np.float32)
        for k, chunk in enumerate(chunks):
            rows = self._sentence_rows.get(chunk.chunk_id)
            if rows is None:
                rows = np.array([r for t in self.sentence_texts(chunk) if (r := stored.row(t)) is not None], np.int64)
                self._sentence_rows[chunk.chunk_id] = rows
            if len(rows):
                out[k] = float(np.max(np.asarray(stored.vectors[rows]) @ q))
        return out

    def _year_diverse(self, q, qvec, bm25q, route, filters, years, main: "_Ranking", scores: dict,
                      top_k: int) -> list[int]:
        """A question naming several years (2020年和2022年…) needs evidence from each: the best passages
        of each named year lead, in turns, ordered by where each year's best stands in the main ranking."""
        per_year: list[list[int]] = []
        for year in years:
            filters_y = {**(filters or {}), "year": year}
            if self.store.count(filters_y) == 0:
                continue
            ranked = self._rank(q, qvec, bm25q, route, filters_y, self.config.year_diverse_per_year, rerank=False)
            for i in ranked.rows:
                scores.setdefault(i, ranked.scores[i])
            per_year.append(ranked.rows[: self.config.year_diverse_per_year])
        if len(per_year) < 2:
            return main.rows[:top_k]
        position = {i: r for r, i in enumerate(main.rows)}
        per_year.sort(key=lambda rows: min((position.get(i, len(position)) for i in rows), default=len(position)))
        lead = [i for turn in zip_longest(*per_year) for i in turn if i is not None]
        return list(dict.fromkeys([*lead, *main.rows]))[: max(top_k, len(lead))]

    def _with_card(self, rows: list[int], scores: dict, top_k: int) -> list[int]:
        """A 'which document' question is answered by the document card (number, title, date): put the
        top passage's card right after it when it is not already among the results."""
        if not rows:
            return rows
        card = self._card_row.get(self.store.chunks_at([rows[0]])[0].doc_key)
        if card is None or card in rows[:2]:  # further down (rank 10 of 10) it is no help
            return rows
        scores.setdefault(card, {**scores[rows[0]], "route": 0.0, "card_of_top": 1.0})
        return [rows[0], card, *[i for i in rows[1:] if i != card]]

    def _rank(self, q: str, qvec: np.ndarray, bm25q: BM25Query, route: RouteMatch, filters: dict | None,
              top_k: int, rerank: bool, view: QueryView | None = None, features_out: dict | None = None) -> "_Ranking":
        """Candidates from dense and BM25 (within the filters), fused, route tiers first, optionally reranked."""
        n = self.config.n_candidates
        filters = filters or None
        dense_ids, _ = self.store.dense_search(qvec, max(n, top_k), filters, self._query_params)
        bm25_ids, _ = self.store.bm25_search(bm25q, max(n, top_k), filters)

        tier_of: dict[int, int] = {}
        for key in route.doc_numbers:
            for i in self._docno_rows.get(key, []):
                tier_of[i] = TIER_DOC_NUMBER
        for name in route.persons:
            for i in self._person_rows.get(name, []):
                tier_of.setdefault(i, TIER_PERSON)
        if filters is not None and tier_of:
            kept = set(self.store.select(sorted(tier_of), filters))
            tier_of = {i: t for i, t in tier_of.items() if i in kept}

        cand = np.array(
            list(dict.fromkeys([*map(int, dense_ids), *map(int, bm25_ids), *sorted(tier_of)])), dtype=np.int64
        )
        if len(cand) == 0:
            return _Ranking([], {})
        # Exact cosines and BM25 for every candidate (route rows may lie outside either top-n).
        dense = np.asarray(self.store.dense_scores(qvec, cand), dtype=np.float64)
        bm25 = np.asarray(self.store.bm25_scores(bm25q, cand)).astype(np.float64)
        fused = fuse(dense, bm25, self.config.fusion)
        tiers = np.array([tier_of.get(int(i), TIER_NONE) for i in cand])
        card_first = [int(tiers[j] == TIER_DOC_NUMBER and int(i) in self.catalog.card_rows) for j, i in enumerate(cand)]
        order = sorted(range(len(cand)), key=lambda j: (-tiers[j], -card_first[j], -fused[j], int(cand[j])))

        learned: dict[int, float] = {}
        if view is not None and (features_out is not None or (rerank and self.ranker is not None)):
            # the learned ranker reorders the head of the fused order, within the route tiers
            top_n = self.ranker.top_n if self.ranker is not None else TOP_N
            head = order[: max(top_n, top_k)]
            chunks = self.store.chunks_at([int(cand[j]) for j in head])
            x = candidate_features(view, chunks, dense[head], bm25[head], fused[head], tiers[head],
                                   [card_first[j] for j in head], self.sentence_cosines(qvec, chunks))
            if features_out is not None:
                features_out.update(chunks=chunks, x=x)
            if rerank and self.ranker is not None:
                learned = {j: float(s) for j, s in zip(head, self.ranker.score(x))}
                head = sorted(head, key=lambda j: (-tiers[j], -card_first[j], -learned[j], int(cand[j])))
                order = head + order[len(head):]

        rerank_scores: dict[int, float] = {}
        if rerank and self.reranker is not None:
            head = order[: max(self.config.rerank_top_n, top_k)]
            texts = [c.text for c in self.store.chunks_at([int(cand[j]) for j in head])]
            scores = self.reranker.score(q, texts)
            rerank_scores = {j: float(s) for j, s in zip(head, scores)}
            head = sorted(head, key=lambda j: (-tiers[j], -card_first[j], -rerank_scores[j], int(cand[j])))
            order = head + order[len(head):]

        out: dict[int, dict[str, float]] = {}
        for j in order:
            s = {"dense": float(dense[j]), "bm25": float(bm25[j]), "fused": float(fused[j]), "route": float(tiers[j])}
            if j in learned:
                s["learned"] = learned[j]
            if j in rerank_scores:
                s["rerank"] = rerank_scores[j]
            out[int(cand[j])] = s
        return _Ranking([int(cand[j]) for j in order], out)


@dataclass
class _Ranking:
    rows: list[int]  # vec_ids, best first
    scores: dict[int, dict[str, float]]  # vec_id -> score components
