"""FAISS index construction and search parameters (flat / IVF / HNSW, all inner product over unit vectors)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import faiss
import numpy as np

IndexType = Literal["flat", "ivf", "hnsw"]

# IVF needs ~39 training points per list for k-means to be meaningful (faiss warns below that).
_MIN_POINTS_PER_LIST = 39


@dataclass(frozen=True)
class IndexParams:
    index_type: IndexType = "flat"
    ivf_nlist: int = 1024
    ivf_nprobe: int = 32
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128

    @classmethod
    def from_settings(cls, settings) -> "IndexParams":
        return cls(
            index_type=settings.index_type,
            ivf_nlist=settings.ivf_nlist,
            ivf_nprobe=settings.ivf_nprobe,
            hnsw_m=settings.hnsw_m,
            hnsw_ef_search=settings.hnsw_ef_search,
        )

    def build_key(self) -> dict:
        """The parameters that shape the stored structure (query-time nprobe/efSearch excluded)."""
        if self.index_type == "ivf":
            return {"index_type": "ivf", "ivf_nlist": self.ivf_nlist}
        if self.index_type == "hnsw":
            return {"index_type": "hnsw", "hnsw_m": self.hnsw_m, "hnsw_ef_construction": self.hnsw_ef_construction}
        return {"index_type": self.index_type}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "IndexParams":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def effective_nlist(requested: int, n_vectors: int) -> int:
    """Clamp nlist so every list gets enough training points (a 3,000-chunk corpus cannot fill 1,024 lists)."""
    return max(1, min(requested, n_vectors // _MIN_POINTS_PER_LIST))


def build_faiss_index(vectors: np.ndarray, ids: np.ndarray, params: IndexParams) -> tuple[faiss.Index, dict]:
    """Returns the index (IndexIDMap2 over the chosen structure) and the parameters actually used."""
    n, dim = vectors.shape
    used: dict = {"index_type": params.index_type}
    if params.index_type == "flat":
        inner: faiss.Index = faiss.IndexFlatIP(dim)
    elif params.index_type == "ivf":
        nlist = effective_nlist(params.ivf_nlist, n)
        quantizer = faiss.IndexFlatIP(dim)
        inner = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        if n:
            inner.train(np.ascontiguousarray(vectors, dtype=np.float32))
        used.update(ivf_nlist=nlist, ivf_nprobe=min(params.ivf_nprobe, nlist))
    elif params.index_type == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = params.hnsw_ef_construction
        used.update(hnsw_m=params.hnsw_m, hnsw_ef_construction=params.hnsw_ef_construction, hnsw_ef_search=params.hnsw_ef_search)
    else:
        raise ValueError(f"unknown index_type {params.index_type!r}; expected flat, ivf or hnsw")
    index = faiss.IndexIDMap2(inner)
    if n:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
    return index, used


def search_params(used: dict, selector: faiss.IDSelector | None = None) -> faiss.SearchParameters | None:
    """Per-query parameters: nprobe / efSearch from the manifest, plus an optional id filter."""
    kind = used.get("index_type", "flat")
    if kind == "ivf":
        return faiss.SearchParametersIVF(sel=selector, nprobe=int(used["ivf_nprobe"]))
    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=selector, efSearch=int(used["hnsw_ef_search"]))
    return faiss.SearchParameters(sel=selector) if selector is not None else None
