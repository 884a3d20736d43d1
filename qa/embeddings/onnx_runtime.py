"""Run an export of onnx_export.py: `tokenizers` for token ids, ONNX Runtime for the vectors.
No torch at run time."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.embeddings.onnx_export import MODEL_FILE, TOKENIZER_FILE, ExportInfo, OnnxExportError, read_info


class OnnxSentenceEncoder:
    """One batch of texts -> one array of sentence vectors, as the exported graph computes them
    (normalised if the model normalises). Prefixes are the caller's business."""

    def __init__(self, export_dir: Path, threads: int = 0, info: ExportInfo | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.export_dir = Path(export_dir)
        info = info or read_info(self.export_dir)
        if info is None:
            raise OnnxExportError(f"{self.export_dir} holds no complete ONNX export")
        self.info = info
        # One instance, never reconfigured (a Tokenizer's truncation setting is shared state, and
        # loading this tokenizer.json takes ~1 s): truncation is done per encoding instead.
        self._tok = Tokenizer.from_file(str(self.export_dir / TOKENIZER_FILE))
        self._tok.no_padding()
        self._tok.no_truncation()
        self._n_special = self._tok.num_special_tokens_to_add(is_pair=False)
        so = ort.SessionOptions()
        if threads > 0:
            so.intra_op_num_threads = threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads sleep instead of spinning: a server's calls are small and come between
        # other work, and spinning threads burned ~45% more CPU per short text on a busy 2-core machine
        # (the vectors are identical either way).
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(self.export_dir / MODEL_FILE), so, providers=["CPUExecutionProvider"])
        have = {i.name for i in self._session.get_inputs()}
        if have != set(info.input_names):
            raise OnnxExportError(f"{self.export_dir}: graph inputs {sorted(have)} != recorded {info.input_names}")

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def max_seq_length(self) -> int:
        return self.info.max_seq_length

    def _encodings(self, texts: Sequence[str]) -> list:
        return self._tok.encode_batch(list(texts), add_special_tokens=False)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids as the model gets them: content truncated to leave room for the special tokens,
        then the post-processor's template (e.g. <s> $A </s>), as a tokenizer with truncation does."""
        room = self.info.max_seq_length - self._n_special
        out = []
        for e in self._encodings(texts):
            e.truncate(room)
            out.append(self._tok.post_process(e).ids)
        return out

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts before truncation, special tokens included."""
        return [len(e.ids) + self._n_special for e in self._encodings(texts)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 for one batch, padded to its longest text."""
        ids = self.tokenize(texts)
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self.info.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for r, x in enumerate(ids):
            input_ids[r, : len(x)] = x
            mask[r, : len(x)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self.info.input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (out,) = self._session.run(["sentence_embedding"], feeds)
        return np.asarray(out, dtype=np.float32)
