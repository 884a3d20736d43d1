"""Latin acronyms the corpus itself defines (区域点数法总额预算和按病种分值付费（DIP）): a query using the
acronym is also searched with its Chinese words, which the documents about it use in their titles
and text (a reader says 'DIP试点'; the gazette mostly writes the long form, the acronym once).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable

# CJK words right before a bracketed acronym of 3-9 Latin letters or hyphens (DIP, REITs, RE-ITs).
_DEFINITION = re.compile(r"([\u4e00-\u9fff]{2,30})\s*[（(]\s*([A-Z][A-Za-z\-]{1,7}[A-Za-z])\s*[）)]")
MIN_EXPANSION_CHARS = 2


def corpus_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """Acronym -> its Chinese form. Several definitions keep what they share at the end
    (每日对空气质量指数 / 以环境空气质量指数 -> 空气质量指数: the run before the bracket often starts
    with words of the sentence); an acronym whose definitions share nothing is left out."""
    seen: dict[str, list[str]] = {}
    for text in texts:
        for m in _DEFINITION.finditer(text):
            key = m[2].replace("-", "").upper()
            forms = seen.setdefault(key, [])
            if m[1] not in forms:
                forms.append(m[1])
    out: dict[str, str] = {}
    for key, forms in seen.items():
        common = _common_suffix(forms)
        if len(common) >= MIN_EXPANSION_CHARS:
            out[key] = common
    return out


def _common_suffix(forms: list[str]) -> str:
    return os.path.commonprefix([f[::-1] for f in forms])[::-1]


def expand_acronyms(query: str, acronyms: dict[str, str]) -> str:
    """The query with the Chinese form of each defined acronym it uses appended (nothing appended
    when the query already writes that form)."""
    extra = []
    for word in re.findall(r"(?<![A-Za-z])[A-Za-z][A-Za-z\-]{1,7}[A-Za-z](?![A-Za-z])", query):
        if sum(ch.isupper() for ch in word) < 2:  # an acronym, not an English word (How, Yangquan)
            continue
        form = acronyms.get(word.replace("-", "").upper())
        if form and form not in query and form not in extra:
            extra.append(form)
    return f"{query} {' '.join(extra)}" if extra else query
