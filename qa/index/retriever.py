"""LangChain retriever over HybridSearcher: Documents carry the verbatim cite text and SearchHit.to_dict()."""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from qa.index.search import HybridSearcher
from qa.models import SearchHit


def hit_to_document(hit: SearchHit) -> Document:
    meta = hit.to_dict()
    meta["rank"] = hit.rank
    meta["scores"] = dict(hit.scores)
    return Document(page_content=hit.chunk.text, metadata=meta, id=hit.chunk.chunk_id)


class GazetteRetriever(BaseRetriever):
    """`k` and `filters` set defaults; both can be overridden per call: `invoke(q, k=3, filters={...})`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: HybridSearcher
    k: int = Field(default=5, ge=1)
    filters: dict[str, Any] | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        hits = self.searcher.search(query, top_k=k or self.k, filters=filters if filters is not None else self.filters)
        return [hit_to_document(h) for h in hits]
