"""The texts the extractive answerer embeds for a passage, named once so the index builder can embed
them ahead of any question (qa/index/sentence_store.py) and a request only looks their vectors up."""
from __future__ import annotations

from qa.answer.extractive import ExtractiveParams, _embedded
from qa.answer.sentences import passage_sentences
from qa.models import Chunk


def sentence_texts(chunk: Chunk, params: ExtractiveParams = ExtractiveParams()) -> list[str]:
    """Every text score_sentences may embed for this chunk: each sentence as embedded whole (the gate's
    pool) and cut to selection_max_chars (a sentence only the selection reads)."""
    out: list[str] = []
    for s in passage_sentences(chunk):
        text = _embedded(s)
        out.append(text)
        if len(text) > params.selection_max_chars:
            out.append(text[: params.selection_max_chars])
    return list(dict.fromkeys(out))
