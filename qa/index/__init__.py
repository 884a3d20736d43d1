"""Index and search layer: the ChunkStore protocol and its stores (local FAISS + SQLite + BM25, Milvus), hybrid search, LangChain retriever."""
from qa.index.builder import BuildReport, IndexBuilder, corpus_files
from qa.index.chunkstore import ChunkStore, open_store
from qa.index.faiss_index import IndexParams
from qa.index.fusion import FusionParams
from qa.index.lexical import LexicalParams
from qa.index.protocols import PassageEncoder, Reranker
from qa.index.search import ALLOWED_FILTERS, HybridSearcher, RouteMatch, SearchConfig
from qa.index.store import IndexMismatchError, IndexNotFoundError, IndexStore, LocalStore, Manifest

__all__ = [
    "ALLOWED_FILTERS", "BuildReport", "ChunkStore", "LocalStore", "open_store", "FusionParams", "HybridSearcher", "IndexBuilder", "IndexMismatchError",
    "IndexNotFoundError", "IndexParams", "IndexStore", "LexicalParams", "Manifest", "PassageEncoder", "Reranker",
    "RouteMatch", "SearchConfig", "corpus_files",
]
