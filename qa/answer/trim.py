"""Answer sentences cut at sentence boundaries: no tail of the previous list item, no start of the next one,
and an ellipsis only where the passage's own text is cut.

A source whose line breaks were lost runs list items together (…等单位配合)20.在领导干部考核…。): the answerer's
sentence splitter, which cuts at 。；！？, returns such a run as one sentence. What the answer shows of it is the
piece that answers the question, starting at its item's numbering or at its own sentence's start.
"""
from __future__ import annotations

import re

from qa.corpus.normalize import normalize_for_search
from qa.question import bigrams

# An item's numbering right after the previous item closed (…配合)20. / …机构)(七) / …。二、): a new item starts.
_INLINE_ITEM = re.compile(r"(?<=[）)。；;！？!?])\s*(?=(?:\d{1,2}\s*[.．、](?!\d)|[（(][一二三四五六七八九十]{1,3}[）)]"
                          r"|[一二三四五六七八九十]{1,3}、|[①-⑳]))")
_SENTENCE_END = re.compile(r"[。；;！？!?]")
_CLOSED = re.compile(r"[。；;！？!?：:）)”」》]\s*$")
# Characters no sentence starts with: the rest of one cut before them.
_NO_START = "，,、；;：:）)”」》。.．"
ELLIPSIS = "……"
_PROSE_MIN_CHARS = 16  # a shorter unpunctuated last line is a heading or a label, not a cut sentence


def _flat(text: str) -> str:
    return normalize_for_search(text).replace(" ", "")


def pieces(sentence: str) -> list[str]:
    """The sentence cut before each list item's numbering that follows a closed item."""
    return [p.strip() for p in _INLINE_ITEM.split(sentence) if p.strip()]


def _fit(words: set[str], piece: str) -> int:
    """How many of the question's words (its character bigrams; an English question's Chinese terms) the piece holds."""
    flat = _flat(piece)
    return sum(1 for w in words if w and w in flat)


def question_words(question: str, terms: tuple[tuple[str, ...], ...] = ()) -> set[str]:
    """What a piece is matched on: the question's character bigrams, and an English question's Chinese terms."""
    return bigrams(_flat(question)) | {t.replace(" ", "") for group in terms for t in group}


def _sentence_before(before: str) -> str:
    """The last whole sentence of the text before a piece (the one an item's tail belongs to)."""
    text = before.rstrip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text[:-1])] if text else []
    start = ends[-1] if ends else 0
    line = text.rfind("\n", 0, len(text) - 1)
    return text[max(start, line + 1):].strip()


def trim(sentence: str, words: set[str], passage: str = "", shown: tuple[str, ...] = (), prose: bool = True) -> str:
    """The sentence as an answer shows it: the piece holding most of the question's `words` (on a tie the
    first new item, or the previous item's tail when the sentence it closes is `shown` already in the
    answer), no leading punctuation, and an ellipsis when the passage text stops inside a `prose` sentence (a
    roster row or a table row ends unpunctuated). A tail shown alone comes with the sentence it closes."""
    parts = pieces(sentence)
    if not parts:
        return sentence
    at = passage.find(sentence) if passage else -1
    if len(parts) >= 2:
        before = passage[:at].rstrip() if at > 0 else ""
        closes_shown = bool(before) and any(_flat(before).endswith(_flat(s)) for s in shown if s.strip())
        # (the tail means what the sentence it closes says: it is matched with it)
        opener = _sentence_before(before) if before and not closes_shown else ""
        best = max(range(len(parts)), key=lambda k: (_fit(words, f"{opener}{parts[k]}" if k == 0 else parts[k]),
                                                     (k == 0) == closes_shown, -k))
        text = f"{opener}{parts[0]}" if best == 0 else parts[best]
    else:
        text = parts[0]
    text = text.lstrip(_NO_START + " ")
    # the passage stops where the sentence does, mid-sentence: the source goes on, the answer says so
    if prose and at >= 0 and len(text) >= _PROSE_MIN_CHARS and not _CLOSED.search(text) \
            and not passage[at + len(sentence):].strip() and text.endswith(parts[-1]):
        text += ELLIPSIS
    return text or sentence


def list_cut(shown: str, items: list[str]) -> bool:
    """A shown list (an introduction and some of its items) stops before the list does: `items` are all the
    list's items in order; the shown text holds the first ones but not the last."""
    if not items:
        return False
    flat = _flat(shown)
    held = [_flat(i.lstrip("-—·• ").strip()) in flat for i in items]
    return held[0] and not held[-1]
