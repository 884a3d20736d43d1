"""BM25 over jieba tokens of chunk.search_text (bm25s, fed pre-tokenised lists).

Tokens are computed once at build time and stored in the chunk store, so loading only rebuilds the
BM25 matrix (fast). Stopwords are a small fixed list of function/question words plus every token that
most documents share (阳泉市, 人民政府 … in this corpus), derived from the stored tokens on load so
they follow the corpus. Person names from chunk.persons are added as whole tokens (jieba splits
程建军 into 程/建军), on both the document and the query side.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import bm25s
import jieba
import numpy as np

LEXICAL_VERSION = f"jieba-{jieba.__version__}-cut_for_search-v1"

FIXED_STOPWORDS = frozenset(
    "的 和 与 及 以及 等 在 是 了 对 为 将 按 由 于 以 并 或 其 之 中 个 有 关于 进行 有关 各 一 上 下 不 把 被 从 向 "
    "这 那 该 此 也 都 就 而 则 即 如 又 所 可 能 要 会 应 请问 什么 哪些 哪个 哪 多少 如何 怎么 怎样 吗 呢 谁 是否 "
    "the a an of and or to in on for is are was were what which who how when does do".split()
)


def _is_word(tok: str) -> bool:
    return any(ch.isalnum() for ch in tok)


class JiebaTokenizer:
    """A private jieba.Tokenizer (no global dictionary state); the dictionary loads on first use (~0.8 s)."""

    def __init__(self) -> None:
        self._tk: jieba.Tokenizer | None = None

    def _get(self) -> jieba.Tokenizer:
        if self._tk is None:
            jieba.setLogLevel(logging.WARNING)
            self._tk = jieba.Tokenizer()
            self._tk.initialize()
        return self._tk

    def tokenize(self, text: str) -> list[str]:
        return [t.lower() for t in (s.strip() for s in self._get().cut_for_search(text)) if t and _is_word(t)]


def doc_tokens(tokenizer: JiebaTokenizer, search_text: str, persons: Iterable[str]) -> list[str]:
    """The stored token list of one chunk."""
    return tokenizer.tokenize(search_text) + [p.replace(" ", "") for p in persons if p.strip()]


def derive_stopwords(
    tokens: Sequence[Sequence[str]], doc_keys: Sequence[str], max_doc_ratio: float = 0.8, min_docs: int = 20
) -> frozenset[str]:
    """Tokens present in more than `max_doc_ratio` of documents (not chunks: a long document has many
    chunks). Below `min_docs` documents the ratio says nothing, so only the fixed list applies."""
    per_doc: dict[str, set[str]] = {}
    for toks, key in zip(tokens, doc_keys):
        per_doc.setdefault(key, set()).update(toks)
    n_docs = len(per_doc)
    if n_docs < min_docs:
        return FIXED_STOPWORDS
    df: dict[str, int] = {}
    for toks in per_doc.values():
        for t in toks:
            df[t] = df.get(t, 0) + 1
    common = {t for t, n in df.items() if n / n_docs > max_doc_ratio}
    return FIXED_STOPWORDS | common


@dataclass(frozen=True)
class LexicalParams:
    # Swept on eval/questions.jsonl (benchmarks/results/fusion.md): a lighter length penalty than the
    # textbook 0.75 stops long passages that hold the answer losing to short ones that repeat the title.
    k1: float = 1.0
    b: float = 0.5
    stop_max_doc_ratio: float = 0.8  # on the 5 issues: 阳泉市 人民政府 通知 关于 … (0.6 would also drop 管理 服务 建设)
    stop_min_docs: int = 20


class LexicalIndex:
    def __init__(
        self,
        tokens: Sequence[Sequence[str]],
        doc_keys: Sequence[str],
        persons: Iterable[str] = (),
        params: LexicalParams = LexicalParams(),
        tokenizer: JiebaTokenizer | None = None,
    ) -> None:
        self.params = params
        self.tokenizer = tokenizer or JiebaTokenizer()
        self.stopwords = derive_stopwords(tokens, doc_keys, params.stop_max_doc_ratio, params.stop_min_docs)
        self.persons = sorted({p.replace(" ", "") for p in persons if len(p.replace(" ", "")) >= 2}, key=len, reverse=True)
        self.n_docs = len(tokens)
        corpus = [[t for t in toks if t not in self.stopwords] for toks in tokens]
        self._bm25 = bm25s.BM25(k1=params.k1, b=params.b)
        if self.n_docs:
            self._bm25.index(corpus, show_progress=False)

    def query_tokens(self, query: str) -> list[str]:
        """Tokens of an already normalised query, stopwords removed, known person names added whole."""
        toks = [t for t in self.tokenizer.tokenize(query) if t not in self.stopwords]
        return toks + [p for p in self.persons if p in query]

    def term_scores(self, term: str) -> np.ndarray:
        """BM25 score of every chunk for one index term (zeros for a stopword or an unknown term)."""
        if not self.n_docs or term not in self._bm25.vocab_dict:
            return np.zeros(self.n_docs, np.float32)
        return np.asarray(self._bm25.get_scores([term]), dtype=np.float32)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (vec_id order); zeros when no query token is in the vocabulary."""
        if not self.n_docs:
            return np.zeros(0, np.float32)
        toks = self.query_tokens(query)
        if not toks:
            return np.zeros(self.n_docs, np.float32)
        return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)
