"""The form an extractive answer's chosen sentences are shown in: the one hook the answerer calls where it
assembles the answer text (after choosing the sentences, before numbering the citations).

In order: the latest year's statement of a rule first, labelled with its year (qa/answer/recency.py); each
sentence cut at sentence boundaries, with an ellipsis only where the source text goes on (qa/answer/trim.py);
an English question's answer in an English frame with the Chinese sentence quoted (qa/answer/phrasing.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.phrasing import card_statement, english_answer, value_frame
from qa.answer.recency import Pick, latest_first
from qa.answer.sentences import Sentence, passage_body, passage_sentences
from qa.answer.trim import ELLIPSIS, list_cut, question_words, trim
from qa.models import Chunk, SearchHit
from qa.question import QuestionInfo

_CARD_DATED = re.compile(r", dated ([\d-]+)\)")


@dataclass(frozen=True)
class Shown:
    hit_index: int
    text: str  # what the answer shows, before its [n] marker
    sentence: str  # the chosen corpus sentence, which the citation highlights


def _listed(sentences: list[Sentence], shown: str) -> list[str] | None:
    """When `shown` is a list's introduction followed by items of it (what the answerer shows for 哪些…), all
    the items of that list; else None."""
    intro = next((s for s in sentences if s.intro and shown.startswith(s.text) and len(shown) > len(s.text)), None)
    if intro is None:
        return None
    items = []
    for s in sentences[intro.index + 1:]:
        if not s.item or not s.lead.startswith(intro.text):
            break
        items.append(s.text)
    return items


def boundary_text(info: QuestionInfo, chunk: Chunk, sentence: str, sentences: list[Sentence],
                  shown: tuple[str, ...] = ()) -> str:
    """The chosen sentence cut at sentence boundaries (a corpus sentence), or a shown list with an ellipsis
    when it stops before the list does. Text that is neither (a card's statement, a labelled record) is kept."""
    if chunk.chunk_type == "card":
        return sentence
    body = passage_body(chunk)
    if sentence in body:
        return trim(sentence, question_words(info.text, info.terms), body, shown)
    items = _listed(sentences, sentence)
    if items and list_cut(sentence, items) and not sentence.endswith(ELLIPSIS):
        return sentence.rstrip("；;，, ") + ELLIPSIS
    return sentence


def final_form(info: QuestionInfo, hits: list[SearchHit], picks: list[tuple[int, str]]) -> list[Shown]:
    """The chosen (passage index, sentence) picks as the answer shows them, in the order it shows them."""
    out: list[Shown] = []
    framed = False  # an English answer states the asked value once, with the first sentence that says it
    for k, pick in enumerate(latest_first(info, hits, [Pick(i, s) for i, s in picks])):
        chunk = hits[pick.hit_index].chunk
        sentences = passage_sentences(chunk) if chunk.chunk_type != "card" else []
        text = boundary_text(info, chunk, pick.sentence, sentences, tuple(s.sentence for s in out))
        text = text if text.endswith(ELLIPSIS) else text.rstrip("；;")
        if info.lang == "en":
            if chunk.doc_number and text.startswith(chunk.doc_number):
                if chunk.chunk_type == "card":  # the answerer's card statement, in the form the question asks
                    dated = _CARD_DATED.search(text)
                    text = card_statement(info, chunk, dated.group(1) if dated else "")
            else:
                lead = next((s.lead for s in sentences if s.text == pick.sentence), "")
                frame = None if framed else value_frame(info, chunk, text, lead)
                framed = framed or frame is not None
                text = english_answer(chunk, text, frame, first=k == 0)
        # (an English answer names its source's year in its frame: no label before it)
        out.append(Shown(pick.hit_index, text if info.lang == "en" else f"{pick.label}{text}", pick.sentence))
    return out
