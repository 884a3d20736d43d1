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
        # (a list item, roster row or table row ends unpunctuated: no ellipsis for it)
        prose = chunk.chunk_type == "text" and not any(s.text == sentence and (s.item or s.caption) for s in sentences)
        return trim(sentence, question_words(info.text, info.terms), body, shown, prose)
    items = _listed(sentences, sentence)
    if items and list_cut(sentence, items) and not sentence.endswith(ELLIPSIS):
        return sentence.rstrip("；;，, ") + ELLIPSIS
    return sentence


def final_form(info: QuestionInfo, hits: list[SearchHit], picks: list[tuple[int, str]]) -> list[Shown]:
    """The chosen (passage index, sentence) picks as the answer shows them, in the order it shows them."""
    rows: list[tuple[Pick, Chunk, str, str | None]] = []  # pick, its passage, its text, its English frame
    shown: list[str] = []
    for pick in latest_first(info, hits, [Pick(i, s) for i, s in picks]):
        chunk = hits[pick.hit_index].chunk
        sentences = passage_sentences(chunk) if chunk.chunk_type != "card" else []
        text = boundary_text(info, chunk, pick.sentence, sentences, tuple(shown))
        shown.append(pick.sentence)
        text = text if text.endswith(ELLIPSIS) else text.rstrip("；;")
        frame = None
        if info.lang == "en" and not (chunk.doc_number and text.startswith(chunk.doc_number)):
            frame = value_frame(info, chunk, text, next((s.lead for s in sentences if s.text == pick.sentence), ""))
        rows.append((pick, chunk, text, frame))
    if info.lang == "zh":
        return [Shown(p.hit_index, f"{p.label}{text}", p.sentence) for p, _, text, _ in rows]
    # An English answer states the asked value once, first: the first sentence a frame says it of leads
    # (组长：雷健坤 before the 副组长 row read as close), unless a document's card or the latest year's
    # statement of a rule leads the answer.
    framed = next((k for k, row in enumerate(rows) if row[3]), None)
    if framed and not any(c.chunk_type == "card" or p.label for p, c, _, _ in rows):  # (nor before a later year's)
        rows.insert(0, rows.pop(framed))
        framed = 0
    out: list[Shown] = []
    for k, (pick, chunk, text, frame) in enumerate(rows):
        if chunk.doc_number and text.startswith(chunk.doc_number):
            if chunk.chunk_type == "card":  # the answerer's card statement, in the form the question asks
                dated = _CARD_DATED.search(text)
                text = card_statement(info, chunk, dated.group(1) if dated else "")
        else:
            # (the source's year is in the frame: no recency label before it)
            same = k > 0 and rows[k - 1][1].doc_key == chunk.doc_key
            text = english_answer(chunk, text, frame if k == framed else None, first=k == 0, same_source=same)
        out.append(Shown(pick.hit_index, text, pick.sentence))
    return out
