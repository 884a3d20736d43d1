"""Text normalisation: one search form for indexing and queries; the original text stays for citing."""
from __future__ import annotations

from collections.abc import Iterable

import re
from functools import lru_cache
import unicodedata

# Bump when the normalised form changes: the index manifest records it, so an index built
# with another normaliser is rebuilt instead of silently mismatching queries.
NORMALIZER_VERSION = "1"

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")
_SPACES = re.compile(r"[ \t\u3000\xa0]+")
_LATEX_SUB = re.compile(r"_\{([^}]*)\}")
_LATEX_CMD = re.compile(r"\\text\{([^}]*)\}|\\mathrm\{([^}]*)\}")
_BOLD = re.compile(r"\*\*(.+?)\*\*")

# OCR misreadings seen in the corpus (CORPUS.md): wrong -> right.
OCR_FIXES = {"孟县": "盂县"}


def squash(text: str) -> str:
    """Whitespace-free NFKC form, used to compare text regardless of layout."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def clean_markup(text: str) -> str:
    """Drop LaTeX/markdown leftovers of the PDF conversion: PM_{2.5} -> PM2.5, **x** -> x."""
    text = _LATEX_SUB.sub(r"\1", text)
    text = _LATEX_CMD.sub(lambda m: m.group(1) or m.group(2) or "", text)
    text = text.replace("$", "")
    return _BOLD.sub(r"\1", text)


def join_cjk_spaces(text: str) -> str:
    """Remove spaces the OCR put between CJK characters (`武 浩` -> `武浩`)."""
    return _SPACE_BETWEEN_CJK.sub("", text)


@lru_cache(maxsize=16384)
def normalize_for_search(text: str) -> str:
    """The form used for BM25, embeddings and query matching. Cached: the answerer normalises the same
    passage sentences in several stages of one request, and again for the next question on them."""
    text = unicodedata.normalize("NFKC", text)
    text = clean_markup(text)
    text = join_cjk_spaces(text)
    for wrong, right in OCR_FIXES.items():
        text = text.replace(wrong, right)
    return _SPACES.sub(" ", text).strip()


_DOCNO = re.compile(
    r"(?P<prefix>[\u4e00-\u9fff]{1,12})\s*[〔\[［(（【]?\s*(?P<year>(?:19|20)\d{2})\s*(?:[〕\]］)）】]|年)?\s*(?P<num>\d{1,4})\s*号"
)


def canonical_doc_number(prefix: str, year: str | int, num: str | int) -> str:
    return f"{prefix}〔{int(year)}〕{int(num)}号"


def parse_doc_numbers(text: str) -> list[tuple[str, int, int]]:
    """(prefix, year, number) of every document-number-like span, in any bracket or spacing form.
    The prefix may carry words before it (`关于阳政办发`); match_doc_numbers trims that."""
    t = join_cjk_spaces(unicodedata.normalize("NFKC", text))
    return [(m["prefix"], int(m["year"]), int(m["num"])) for m in _DOCNO.finditer(t)]


def match_doc_numbers(text: str, known: Iterable[str]) -> list[str]:
    """Known canonical document numbers mentioned in `text` in any form (阳政办发[2022]34号, 阳政办发2022年34号)."""
    wanted = parse_doc_numbers(text)
    if not wanted:
        return []
    out: list[str] = []
    for docno in known:
        parsed = parse_doc_numbers(docno)
        if not parsed:
            continue
        prefix, year, num = parsed[0]
        for q_prefix, q_year, q_num in wanted:
            if q_year == year and q_num == num and (q_prefix.endswith(prefix) or prefix.endswith(q_prefix)):
                if docno not in out:
                    out.append(docno)
    return out


def canonical_form(docno: str) -> str:
    """阳政办发〔2023〕82 号 -> 阳政办发〔2023〕82号 (NFKC brackets folded back to 〔〕)."""
    parsed = parse_doc_numbers(docno)
    if not parsed:
        return squash(docno)
    return canonical_doc_number(*parsed[0])
